import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DuckDBStream } from "./duckdb";

const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));
const TABLE = fixture("table.parquet");
const SHARDS = [0, 1, 2].map((k) => `'${fixture(`shard-${k}.parquet`)}'`).join(", ");

describe("DuckDBStream (SQL over Parquet before training)", () => {
  it("filters a Parquet file in SQL and streams typed column batches chunk by chunk", async () => {
    const s = new DuckDBStream(
      `SELECT id, x, y, name FROM read_parquet('${TABLE}') WHERE label = 3 ORDER BY id`,
    );
    const ids: number[] = [];
    for await (const b of s.batches(0)) {
      expect(b.id).toBeInstanceOf(Int32Array);
      expect(b.x).toBeInstanceOf(Float32Array);
      expect(b.y).toBeInstanceOf(Float64Array);
      expect(b.id.length).toBeLessThanOrEqual(2048);
      for (let i = 0; i < b.id.length; i++) {
        const id = b.id[i] as number;
        expect([b.x[i], b.y[i], b.name[i]]).toEqual([id / 2, 0 - id / 4, `row${id}`]);
        ids.push(id);
      }
    }
    expect(ids).toEqual([...Array(1000).keys()].filter((i) => i % 7 === 3));
    s.close();
  });

  it("joins and aggregates over several files, with the query a function of the epoch", async () => {
    const s = new DuckDBStream(
      (epoch) =>
        `SELECT label, count(*)::INTEGER AS n, sum(big) AS total FROM read_parquet([${SHARDS}]) ` +
        `WHERE id % 2 = ${epoch % 2} GROUP BY label ORDER BY label`,
    );
    for (const epoch of [0, 1]) {
      const rows: Record<string, unknown>[] = [];
      for await (const r of s.iterate(epoch)) rows.push(r);
      const ids = [...Array(720).keys()].filter((i) => i % 2 === epoch);
      expect(rows).toEqual(
        [0, 1, 2, 3, 4, 5, 6].map((label) => {
          const mine = ids.filter((i) => i % 7 === label);
          return { label, n: mine.length, total: mine.reduce((a, i) => a + i * 1e10, 0) };
        }),
      );
    }
    s.close();
  });

  it("reports SQL errors and bad options", async () => {
    const s = new DuckDBStream("SELECT * FROM read_parquet('/no/such/file.parquet')");
    await expect(s.batches(0).next()).rejects.toThrow(/DuckDBStream: the query failed: .*no\/such\/file/);
    s.close();
    expect(() => new DuckDBStream("SELECT 1", { databse: "x" } as never)).toThrow(
      /unknown option 'databse' in the options; did you mean 'database'\?/,
    );
  });
});
