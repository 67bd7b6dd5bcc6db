import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParquetDataset } from "./dataset";
import { ParquetFile } from "./file";
import { ParquetStream } from "./stream";

// Fixtures from scripts/make-fixtures.py (pyarrow): row id i has x = i / 2 (float32),
// y = -i / 4 (float64), label = i % 7, big = i * 1e10 (int64), name = "row<i>".
const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));
const TABLE = fixture("table.parquet");
// Three row groups of 1500 rows: id, noise (float64 that does not compress), x = id / 2.
const WIDE = fixture("wide.parquet");
const SHARDS = [0, 1, 2].map((k) => fixture(`shard-${k}.parquet`));

function expectRow(row: Record<string, unknown>, id: number) {
  expect(row).toEqual({ id, x: id / 2, y: 0 - id * 0.25, label: id % 7, big: id * 1e10, name: `row${id}` });
}

describe("ParquetFile", () => {
  it("lists row groups with their footer statistics", async () => {
    const f = await ParquetFile.open(TABLE);
    expect(f.numRows).toBe(1000);
    expect(f.columns).toEqual(["id", "x", "y", "label", "big", "name"]);
    expect(f.rowGroups).toHaveLength(10);
    expect(f.rowGroups[3]).toMatchObject({ rowGroup: 3, fileRowStart: 300, numRows: 100 });
    expect(f.rowGroups[3].stats.id).toEqual({ min: 300, max: 399, nullCount: 0 });
    const block = await f.readRowGroup(3, ["id", "x"]);
    expect(Object.keys(block)).toEqual(["id", "x"]);
    expect([...block.id].slice(0, 3)).toEqual([300, 301, 302]);
    await f.close();
  });
});

describe("ParquetDataset (map-style)", () => {
  it("reads any row by index, across files, equal to the values pyarrow wrote", async () => {
    const ds = await ParquetDataset.open(SHARDS);
    expect(ds.length).toBe(720);
    for (const i of [0, 63, 64, 249, 250, 549, 550, 719]) expectRow(await ds.get(i), i);
    const many = await ds.getMany([719, 3, 250, 4]);
    for (const [k, id] of [719, 3, 250, 4].entries()) expectRow(many[k], id);
    await expect(ds.get(720)).rejects.toThrow(/index 720 is out of range for a dataset of length 720/);
    await ds.close();
  });

  it("column projection fetches only the chosen columns' bytes", async () => {
    const all = await ParquetDataset.open(WIDE);
    const one = await ParquetDataset.open(WIDE, { columns: ["x"] });
    await all.getMany([...Array(4500).keys()]);
    await one.getMany([...Array(4500).keys()]);
    expect(await one.get(10)).toEqual({ x: 5 });
    // The float64 noise column, half the data, is never fetched.
    expect(one.stats.bytes).toBeLessThan(all.stats.bytes * 0.6);
    await all.close();
    await one.close();
  });

  it("row-group skipping from footer statistics leaves the skipped groups unread", async () => {
    const all = await ParquetDataset.open(WIDE);
    await all.getMany([...Array(4500).keys()]);
    const late = await ParquetDataset.open(WIDE, {
      rowGroupFilter: (rg) => (rg.stats.id.min as number) >= 3000,
    });
    expect(late.length).toBe(1500);
    expect(await late.get(0)).toMatchObject({ id: 3000, x: 1500 });
    await late.getMany([...Array(1500).keys()]);
    // One row group of three, plus the footer.
    expect(late.stats.bytes).toBeLessThan(all.stats.bytes * 0.45);
    await all.close();
    await late.close();
  });

  it("names unknown columns and options with a hint", async () => {
    await expect(ParquetDataset.open(TABLE, { columns: ["X"] })).rejects.toThrow(
      /no column 'X' in .*table.parquet \(did you mean 'x'\?\); columns: id, x, y, label, big, name/,
    );
    await expect(ParquetDataset.open(TABLE, { colums: ["x"] } as never)).rejects.toThrow(
      /unknown option 'colums' in the options; did you mean 'columns'\?/,
    );
    await expect(ParquetDataset.open(fixture("missing.parquet"))).rejects.toThrow(
      /cannot open .*missing.parquet/,
    );
  });
});

describe("over HTTP with range requests", () => {
  let server: Server;
  let base = "";
  const log: { range?: string; status: number; bytes: number }[] = [];
  beforeAll(async () => {
    const bytes = readFileSync(WIDE);
    server = createServer((req, res) => {
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      if (req.method === "HEAD") {
        res.writeHead(200, { "content-length": bytes.length, "accept-ranges": "bytes" });
        res.end();
        return;
      }
      if (!m) {
        log.push({ status: 200, bytes: bytes.length });
        res.writeHead(200, { "content-length": bytes.length });
        res.end(bytes);
        return;
      }
      const start = Number(m[1]);
      const end = m[2] ? Number(m[2]) : bytes.length - 1;
      const body = bytes.subarray(start, end + 1);
      log.push({ range: req.headers.range, status: 206, bytes: body.length });
      res.writeHead(206, {
        "content-length": body.length,
        "content-range": `bytes ${start}-${end}/${bytes.length}`,
      });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("reads rows of one column and one row group with a few ranged requests, not the whole file", async () => {
    const size = readFileSync(WIDE).length;
    const ds = await ParquetDataset.open(`${base}/wide.parquet`, {
      columns: ["x"],
      rowGroupFilter: (rg) => rg.rowGroup === 1,
    });
    expect(ds.length).toBe(1500);
    expect(await ds.get(5)).toEqual({ x: 1505 / 2 });
    expect(log.length).toBeGreaterThan(0);
    expect(log.every((l) => l.status === 206)).toBe(true);
    const served = log.reduce((s, l) => s + l.bytes, 0);
    // The footer and one column chunk of one row group: a fraction of the file.
    expect(served).toBeLessThan(size / 3);
    expect(ds.stats.bytes).toBe(served);
    await ds.close();
  });
});

describe("ParquetStream", () => {
  const ids = async (s: ParquetStream, epoch: number) => {
    const out: number[] = [];
    for await (const r of s.iterate(epoch)) out.push(r.id as number);
    return out;
  };

  it("without shuffle yields every row in file order", async () => {
    const s = await ParquetStream.open(SHARDS);
    expect(await ids(s, 0)).toEqual([...Array(720).keys()]);
    await s.close();
  });

  it("seeded shuffles: every row once per epoch, a new order each epoch, the same order for the same seed", async () => {
    const a = await ParquetStream.open(TABLE, { shuffle: true, seed: 3, shuffleWindow: 2, columns: ["id"] });
    const b = await ParquetStream.open(TABLE, { shuffle: true, seed: 3, shuffleWindow: 2, columns: ["id"] });
    const e0 = await ids(a, 0);
    const e1 = await ids(a, 1);
    expect([...e0].sort((x, y) => x - y)).toEqual([...Array(1000).keys()]);
    expect(e1).not.toEqual(e0);
    expect(await ids(b, 0)).toEqual(e0);
    // Rows are mixed inside each window of two row groups, so each window of 200 rows holds two whole groups.
    for (let w = 0; w < 5; w++) {
      const groups = new Set(e0.slice(w * 200, (w + 1) * 200).map((id) => Math.floor(id / 100)));
      expect(groups.size).toBe(2);
    }
    expect(e0.slice(0, 100).map((id) => Math.floor(id / 100))).not.toEqual(
      Array(100).fill(Math.floor(e0[0] / 100)),
    );
    await a.close();
    await b.close();
  });

  it("shards row groups over ranks like DistributedSampler: disjoint with dropLast, padded by repeats otherwise", async () => {
    // 12 row groups (4 + 5 + 3) over 5 ranks.
    const open = (rank: number, dropLast: boolean) =>
      ParquetStream.open(SHARDS, { numReplicas: 5, rank, shuffle: true, seed: 9, dropLast, columns: ["id"] });
    const dropped = await Promise.all([0, 1, 2, 3, 4].map((r) => open(r, true)));
    const parts = await Promise.all(dropped.map((s) => ids(s, 2)));
    const all = parts.flat();
    expect(new Set(all).size).toBe(all.length); // disjoint
    expect(dropped.map((s) => s.plan(2).length)).toEqual([2, 2, 2, 2, 2]);
    const padded = await Promise.all([0, 1, 2, 3, 4].map((r) => open(r, false)));
    const groups = padded.flatMap((s) => s.plan(2).map((rg) => `${rg.file}:${rg.rowGroup}`));
    expect(groups).toHaveLength(15);
    expect(new Set(groups).size).toBe(12); // every row group, three of them twice
    for (const s of [...dropped, ...padded]) await s.close();
  });

  it("shards by file", async () => {
    const s = await Promise.all(
      [0, 1].map((rank) =>
        ParquetStream.open(SHARDS, { numReplicas: 2, rank, shardBy: "file", columns: ["id"] }),
      ),
    );
    // 3 files over 2 ranks without shuffle: rank 0 gets files 0 and 2, rank 1 file 1 and (padding) file 0.
    expect(new Set(s[0].plan(0).map((rg) => rg.file))).toEqual(new Set([0, 2]));
    expect(s[1].plan(0).map((rg) => rg.file)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0]);
    for (const x of s) await x.close();
  });

  it("keeps at most shuffleWindow * (1 + prefetch) row groups decoded at once", async () => {
    for (const [win, prefetch] of [
      [1, 0],
      [1, 1],
      [2, 1],
      [3, 2],
    ]) {
      const s = await ParquetStream.open(TABLE, {
        shuffle: true,
        seed: 1,
        shuffleWindow: win,
        prefetch,
        columns: ["id"],
      });
      expect((await ids(s, 0)).length).toBe(1000);
      expect(s.peakLiveRowGroups).toBeLessThanOrEqual(win * (1 + prefetch));
      expect(s.peakLiveRowGroups).toBeGreaterThanOrEqual(win);
      expect(s.liveRowGroups).toBe(0);
      await s.close();
    }
  });

  it("batches() yields typed columns in the same order as the rows", async () => {
    const s = await ParquetStream.open(TABLE, { shuffle: true, seed: 4, columns: ["id", "x", "y", "name"] });
    const rows = await ids(s, 1);
    const got: number[] = [];
    for await (const b of s.batches(1, 32)) {
      expect(b.id).toBeInstanceOf(Int32Array);
      expect(b.x).toBeInstanceOf(Float32Array);
      expect(b.y).toBeInstanceOf(Float64Array);
      expect(b.id.length).toBeLessThanOrEqual(32);
      for (let i = 0; i < b.id.length; i++) {
        const id = b.id[i] as number;
        expect([b.x[i], b.y[i], b.name[i]]).toEqual([id / 2, 0 - id / 4, `row${id}`]);
        got.push(id);
      }
    }
    expect(got).toEqual(rows);
    await s.close();
  });

  it("rejects bad options", async () => {
    await expect(ParquetStream.open(TABLE, { rank: 2, numReplicas: 2 })).rejects.toThrow(
      /rank must be an integer in \[0, 1\], got 2/,
    );
    await expect(ParquetStream.open(TABLE, { shardBy: "row" as never })).rejects.toThrow(
      /shardBy must be 'rowGroup' or 'file', got row/,
    );
    await expect(ParquetStream.open(TABLE, { shuffleWindw: 2 } as never)).rejects.toThrow(
      /unknown option 'shuffleWindw' in the options; did you mean 'shuffleWindow'\?/,
    );
  });
});
