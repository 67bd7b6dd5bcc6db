import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ArrowStream } from "./arrow";

// table.arrows (scripts/make-fixtures.py): 1000 rows in record batches of 100, id i has
// x = i / 2, y = -i / 4, label = i % 7, big = i * 1e10, name = "row<i>".
const ARROWS = fileURLToPath(new URL("../test/fixtures/table.arrows", import.meta.url));

async function ids(s: ArrowStream, epoch: number): Promise<number[]> {
  const out: number[] = [];
  for await (const r of s.iterate(epoch)) out.push(r.id as number);
  return out;
}

describe("ArrowStream (Arrow IPC through apache-arrow)", () => {
  it("yields every row with the values pyarrow wrote, one record batch in memory at a time", async () => {
    const s = new ArrowStream(ARROWS);
    const rows: Record<string, unknown>[] = [];
    for await (const r of s.iterate(0)) rows.push(r);
    expect(rows).toHaveLength(1000);
    for (const i of [0, 1, 99, 100, 555, 999]) {
      expect(rows[i]).toEqual({
        id: i,
        x: i / 2,
        y: 0 - i / 4,
        label: i % 7,
        big: i * 1e10,
        name: `row${i}`,
      });
    }
    expect(s.peakLiveBatches).toBe(1);
    expect(s.liveBatches).toBe(0);
  });

  it("column batches with projection, seeded shuffles within record batches, round-robin shards", async () => {
    const s = new ArrowStream(ARROWS, { columns: ["id", "x"], shuffle: true, seed: 5 });
    const sizes: number[] = [];
    for await (const b of s.batches(0)) {
      expect(Object.keys(b)).toEqual(["id", "x"]);
      expect(b.x).toBeInstanceOf(Float32Array);
      for (let i = 0; i < b.id.length; i++) expect(b.x[i]).toBe((b.id[i] as number) / 2);
      sizes.push(b.id.length);
    }
    expect(sizes).toEqual(Array(10).fill(100));
    const e0 = await ids(s, 0);
    expect(e0).not.toEqual([...Array(1000).keys()]);
    expect([...e0].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
    expect(await ids(s, 1)).not.toEqual(e0);
    expect(await ids(s, 0)).toEqual(e0);
    // Shuffles stay inside record batches: the first 100 rows are batch 0's.
    expect(new Set(e0.slice(0, 100).map((i) => Math.floor(i / 100)))).toEqual(new Set([0]));
    const parts = await Promise.all(
      [0, 1, 2].map((rank) => ids(new ArrowStream(ARROWS, { numReplicas: 3, rank }), 0)),
    );
    expect(parts.map((p) => p.length)).toEqual([400, 300, 300]);
    expect(new Set(parts.flat()).size).toBe(1000);
  });

  it("streams over HTTP and names bad columns and options", async () => {
    const bytes = readFileSync(ARROWS);
    const server: Server = createServer((_, res) => {
      res.writeHead(200, { "content-length": bytes.length });
      res.end(bytes);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/table.arrows`;
      expect(await ids(new ArrowStream(url), 0)).toEqual([...Array(1000).keys()]);
      const bad = new ArrowStream(url, { columns: ["ID"] });
      await expect(ids(bad, 0)).rejects.toThrow(/no column 'ID' \(did you mean 'id'\?\)/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(() => new ArrowStream(ARROWS, { rnak: 1 } as never)).toThrow(/unknown option 'rnak'/);
    expect(() => new ArrowStream(ARROWS, { numReplicas: 2, rank: 2 })).toThrow(
      /rank must be an integer in \[0, 1\], got 2/,
    );
  });
});
