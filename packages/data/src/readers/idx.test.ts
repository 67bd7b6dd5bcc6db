import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { collateHost, type HostAlloc, type HostArrayOf } from "../collate-host";
import { allocHost } from "../ndarray";
import { readIdxFile } from "./files";
import { streamIdx } from "./idx";
import { IdxDataset, type IdxDatasetOptions, IdxFile } from "./idx-file";

const dir = mkdtempSync(join(tmpdir(), "mb-idx-test-"));

/** Builds an IDX file in memory: big-endian header and data of the given type code. */
function idxBytes(code: number, dims: number[], values: number[]): Buffer {
  const size = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 }[code]!;
  const head = 4 + 4 * dims.length;
  const buf = Buffer.alloc(head + values.length * size);
  buf.writeUInt32BE((code << 8) | dims.length, 0);
  dims.forEach((d, i) => {
    buf.writeUInt32BE(d, 4 + 4 * i);
  });
  values.forEach((v, i) => {
    const o = head + i * size;
    if (code === 8) buf.writeUInt8(v, o);
    else if (code === 9) buf.writeInt8(v, o);
    else if (code === 11) buf.writeInt16BE(v, o);
    else if (code === 12) buf.writeInt32BE(v, o);
    else if (code === 13) buf.writeFloatBE(v, o);
    else buf.writeDoubleBE(v, o);
  });
  return buf;
}

function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function all(gen: AsyncIterable<{ data: { data: ArrayLike<number>; shape: readonly number[] } }>) {
  const vals: number[] = [];
  const shapes: (readonly number[])[] = [];
  for await (const b of gen) {
    vals.push(...Array.from(b.data.data));
    shapes.push(b.data.shape);
  }
  return { vals, shapes };
}

describe("IDX", () => {
  it.each([
    [0x08, [0, 1, 200, 255]],
    [0x09, [-128, -1, 0, 127]],
    [0x0b, [-30000, -2, 5, 30000]],
    [0x0c, [-2e9, -1, 7, 2e9]],
    [0x0d, [-1.5, 0, 0.25, 1e6]],
    [0x0e, [-1.5, 0, 0.125, 3e10]],
  ])("decodes type 0x%s both by record and streamed", async (code, values) => {
    const p = write(`t${code}`, idxBytes(code, [2, 2], values));
    const ds = await IdxDataset.open(p);
    expect(ds.length).toBe(2);
    const expectF32 = (v: number[]) => (code >= 0x0d ? v.map(Math.fround) : v);
    expect(Array.from((await ds.get(1)).data)).toEqual(expectF32(values.slice(2)));
    expect((await ds.get(0)).shape).toEqual([2]);
    expect((await ds.get(0)).dtype).toBe(code >= 0x0d ? "float32" : "int32");
    const { vals } = await all(readIdxFile(p, { batchSize: 1 }));
    expect(vals).toEqual(expectF32(values));
    await ds.close();
  });

  it("streams in batches from any chunking, with a short last batch", async () => {
    const values = Array.from({ length: 7 * 6 }, (_, i) => i);
    const bytes = idxBytes(0x08, [7, 2, 3], values);
    for (const chunk of [1, 3, 5, 17, 1000]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
      const { vals, shapes } = await all(streamIdx(chunks, { batchSize: 3 }));
      expect(vals).toEqual(values);
      expect(shapes).toEqual([
        [3, 2, 3],
        [3, 2, 3],
        [1, 2, 3],
      ]);
    }
  });

  it("reads gzip-compressed files when streaming (node:zlib and DecompressionStream)", async () => {
    const values = Array.from({ length: 20 }, (_, i) => i * 3);
    const p = write("g.idx.gz", gzipSync(idxBytes(0x08, [20], values)));
    expect((await all(readIdxFile(p, { batchSize: 6 }))).vals).toEqual(values);
    const sniffed = write("g-noext", gzipSync(idxBytes(0x08, [20], values)));
    expect((await all(readIdxFile(sniffed, { batchSize: 6 }))).vals).toEqual(values);
    await expect(IdxFile.open(p)).rejects.toThrow(
      /g\.idx\.gz: a gzip-compressed IDX file has no random access/,
    );
  });

  it("applies scale and recordShape, and reads runs of records in one go", async () => {
    const p = write(
      "s",
      idxBytes(
        0x08,
        [4, 2, 2],
        Array.from({ length: 16 }, (_, i) => i * 10),
      ),
    );
    const ds = await IdxDataset.open(p, { scale: 0.1, recordShape: [4] });
    const many = await ds.getMany([2, 3, 0]);
    expect(many.map((a) => a.shape)).toEqual([[4], [4], [4]]);
    expect(Array.from(many[0].data)).toEqual([80, 90, 100, 110].map((v) => Math.fround(v * 0.1)));
    expect(Array.from(many[2].data)).toEqual([0, 10, 20, 30].map((v) => Math.fround(v * 0.1)));
    await expect(IdxDataset.open(p, { recordShape: [5] })).rejects.toThrow(
      /recordShape \[5\] has 5 elements/,
    );
    await ds.close();
  });

  it("builds the same batches as collating getMany, in recycled arrays, on every decode path", async () => {
    const cases: [number, number[], IdxDatasetOptions][] = [
      [0x08, [5, 2, 2], { scale: 1 / 255 }], // rows of whole words (the MNIST image path)
      [0x08, [5, 3], { scale: 0.5 }], // rows of 3 bytes: byte by byte
      [0x08, [5], {}], // one-byte labels to int32
      [0x08, [5, 2], { dtype: "float32" }],
      [0x08, [5, 2], { dtype: "int32", scale: 0.5 }],
      [0x09, [5, 2], { scale: 0.25 }],
      [0x0b, [5, 2], {}],
    ];
    for (const [code, dims, options] of cases) {
      const n = dims.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (code === 0x09 ? -128 : 0) + ((i * 37) % 256));
      const ds = await IdxDataset.open(
        write(`batch-${code}-${dims.join("x")}`, idxBytes(code, dims, values)),
        {
          ...options,
          preload: true,
        },
      );
      const indices = [4, 0, 3, 3, 1];
      const want = collateHost(await ds.getMany(indices));
      expect(ds.getBatch(indices)).toEqual(want);
      // A recycled array still holds the last batch's values: every element must be overwritten.
      const dirty: HostAlloc = (dtype, size) => allocHost(dtype, size).fill(-7) as HostArrayOf[typeof dtype];
      expect(ds.getBatch(indices, dirty)).toEqual(want);
      await ds.close();
    }
  });

  it("rejects a bad magic number, naming the file", async () => {
    const bytes = idxBytes(0x08, [2], [1, 2]);
    bytes[0] = 0x12;
    const p = write("badmagic", bytes);
    await expect(IdxFile.open(p)).rejects.toThrow(`${p}: bad IDX magic number 0x12000801`);
    await expect(all(readIdxFile(p))).rejects.toThrow(`${p}: bad IDX magic number`);
    const badType = idxBytes(0x08, [2], [1, 2]);
    badType[2] = 0x0a;
    await expect(all(readIdxFile(write("badtype", badType)))).rejects.toThrow(
      /bad IDX magic number 0x00000a01/,
    );
  });

  it("rejects a truncated file, naming the file and the incomplete record", async () => {
    const full = idxBytes(
      0x08,
      [5, 4],
      Array.from({ length: 20 }, (_, i) => i),
    );
    const p = write("trunc", full.subarray(0, full.length - 6));
    await expect(IdxFile.open(p)).rejects.toThrow(
      `${p}: truncated IDX file: the header declares 5 records of shape [4] (ubyte), 32 bytes, but the file has 26 bytes; record 3 is incomplete`,
    );
    await expect(all(readIdxFile(p, { batchSize: 2 }))).rejects.toThrow(`${p}: truncated IDX file`);
    await expect(all(readIdxFile(p, { batchSize: 2 }))).rejects.toThrow(/in record 3/);
    const shortHead = write("shorthead", full.subarray(0, 6));
    await expect(all(readIdxFile(shortHead))).rejects.toThrow(`${shortHead}: truncated IDX header`);
    const trailing = write("trailing", Buffer.concat([full, Buffer.from([1, 2])]));
    await expect(all(readIdxFile(trailing))).rejects.toThrow(`${trailing}: IDX file has trailing data`);
  });

  it("rejects out-of-range records", async () => {
    const ds = await IdxDataset.open(write("r", idxBytes(0x08, [2], [1, 2])));
    await expect(ds.get(2)).rejects.toThrow(/records \[2, 3\) are out of range \(the file has 2\)/);
    await ds.close();
  });
});
