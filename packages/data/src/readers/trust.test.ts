import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCsv } from "./csv";
import { readCsvFile, readIdxFile, readJsonlFile } from "./files";
import { streamIdx } from "./idx";
import { IdxDataset } from "./idx-file";
import { parseJsonl } from "./jsonl";

// Readers never lose, invent or misalign data: they give the right records or an error naming
// the source. Fuzz tests use fixed seeds and small inputs (each runs well under two seconds).

const dir = mkdtempSync(join(tmpdir(), "mb-trust-"));
function write(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
async function all<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of g) out.push(r);
  return out;
}
/** Splits text into chunks at the given cut points (as a stream would deliver it). */
function chunked(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(text.slice(prev, p));
    prev = p;
  }
  out.push(text.slice(prev));
  return out;
}

/** Builds an IDX file in memory. */
function idxBytes(code: number, dims: number[], values: number[]): Uint8Array {
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
  return new Uint8Array(buf);
}

describe("CSV edge cases", () => {
  it("CR-only line endings (old Mac files) give every row; CRLF split between chunks too", async () => {
    expect(await all(parseCsv("a,b\r1,2\r3,4\r"))).toEqual([
      { a: "1", b: "2" },
      { a: "3", b: "4" },
    ]);
    expect(await all(parseCsv(["a,b\r", "\n1,2\r", "\n\r\n3,4"]))).toEqual([
      { a: "1", b: "2" },
      { a: "3", b: "4" },
    ]);
    // Line numbers count CR-only lines.
    await expect(all(parseCsv("a,b\r1,2\r3\r", { name: "mac.csv" }))).rejects.toThrow(
      "mac.csv: line 3: expected 2 fields (a, b) but found 1",
    );
  });
  it("duplicated header names are made unique as pandas does, and no column is lost", async () => {
    expect(await all(parseCsv("a,b,a,a,a.1\n1,2,3,4,5\n"))).toEqual([
      { a: "1", b: "2", "a.2": "3", "a.3": "4", "a.1": "5" },
    ]);
    await expect(all(parseCsv("1,2\n", { header: false, columns: ["x", "x"] }))).rejects.toThrow(
      "parseCsv: columns names 'x' twice",
    );
  });
  it('a quoted empty field ("") in a one-column file is a row, an empty line is not', async () => {
    expect(await all(parseCsv('x\n""\n\nv\n""'))).toEqual([{ x: "" }, { x: "v" }, { x: "" }]);
    expect(await all(parseCsv('x\r""\r', { output: "array" }))).toEqual([[""]]);
  });
  it("rejects unknown options and bad values, with a hint", async () => {
    await expect(all(parseCsv("a\n1", { delimeter: ";" } as never))).rejects.toThrow(
      "parseCsv: unknown option 'delimeter'",
    );
    await expect(all(parseCsv("a\n1", { Header: false } as never))).rejects.toThrow(
      /unknown option 'Header' in the options; did you mean 'header'\?/,
    );
    await expect(all(parseCsv("a\n1", { types: "float" } as never))).rejects.toThrow(
      /column type must be one of string, number, int, boolean, got "float"/,
    );
    await expect(all(parseCsv("a\n1", { output: "rows" } as never))).rejects.toThrow(/output must be/);
    expect(() => readCsvFile("x.csv", { name: "y" } as never)).toThrow(/readCsvFile: unknown option 'name'/);
  });

  it("fuzz: any table, any quoting, any line ending, any chunking parses back exactly", async () => {
    const cell = fc.string({
      unit: fc.constantFrom("a", "b", " ", ",", '"', "\n", "\r", "é", "1"),
      maxLength: 6,
    });
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 4 })
          .chain((w) =>
            fc.tuple(
              fc.constant(w),
              fc.array(fc.array(cell, { minLength: w, maxLength: w }), { maxLength: 6 }),
              fc.constantFrom("\n", "\r\n", "\r"),
              fc.array(fc.nat(400), { maxLength: 5 }),
            ),
          ),
        async ([w, body, eol, cuts]) => {
          const header = Array.from({ length: w }, (_, i) => `c${i}`);
          // Quote a field when it must be quoted; also quote every empty field of a one-column
          // table, which would otherwise be an empty line.
          const q = (s: string) =>
            /[",\r\n]/.test(s) || (w === 1 && s === "") ? `"${s.replace(/"/g, '""')}"` : s;
          const text = [header, ...body].map((r) => r.map(q).join(",")).join(eol);
          const got = await all(parseCsv(chunked(text, cuts), { output: "array" }));
          expect(got).toEqual(body);
        },
      ),
      { seed: 4180, numRuns: 300 },
    );
  });
  it("fuzz: mutated CSV gives rows of the right width or an error naming the source and line", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom("a", ",", '"', "\n", "\r", "x"), maxLength: 40 }),
        async (text) => {
          try {
            const rows = await all(parseCsv(`h1,h2\n${text}`, { name: "fuzz.csv", output: "array" }));
            for (const r of rows) expect(r).toHaveLength(2);
          } catch (e) {
            expect((e as Error).message).toMatch(/^fuzz\.csv: line \d+: /);
          }
        },
      ),
      { seed: 7, numRuns: 400 },
    );
  });
});

describe("JSON Lines", () => {
  it("one very long line split into many chunks parses (linear: each chunk is searched once)", async () => {
    // 4 MB in 4,000 chunks: the old rest += chunk; rest.indexOf("\n") rescanned ~8 GB of text.
    const big = { s: "x".repeat(4_000_000) };
    const line = JSON.stringify(big);
    const chunks = Array.from({ length: Math.ceil(line.length / 1000) }, (_, i) =>
      line.slice(i * 1000, (i + 1) * 1000),
    );
    const got = await all(parseJsonl([...chunks, "\n", '{"n":1}']));
    expect(got).toHaveLength(2);
    expect((got[0] as { s: string }).s.length).toBe(4_000_000);
  });
  it("fuzz: values, CRLF or LF, blank lines and any chunking round-trip", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 6 }),
        fc.constantFrom("\n", "\r\n"),
        fc.array(fc.nat(300), { maxLength: 6 }),
        async (values, eol, cuts) => {
          const text = values.map((v) => JSON.stringify(v)).join(`${eol}${eol}`);
          const got = await all(parseJsonl(chunked(text, cuts)));
          expect(got).toEqual(values.map((v) => JSON.parse(JSON.stringify(v))));
        },
      ),
      { seed: 1, numRuns: 300 },
    );
  });
  it("fuzz: mutated lines give values or an error naming the source and line", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom("{", "}", '"', ":", "1", "\n", "[", ",", " "), maxLength: 30 }),
        async (text) => {
          try {
            await all(parseJsonl(text, { name: "f.jsonl" }));
          } catch (e) {
            expect((e as Error).message).toMatch(/^f\.jsonl: line \d+: invalid JSON/);
          }
        },
      ),
      { seed: 2, numRuns: 300 },
    );
  });
  it("rejects unknown options", async () => {
    await expect(all(parseJsonl("1", { nme: "x" } as never))).rejects.toThrow(
      "parseJsonl: unknown option 'nme'",
    );
    expect(() => readJsonlFile("x", { name: "y" } as never)).toThrow("readJsonlFile: unknown option 'name'");
  });
});

describe("IDX and gzip", () => {
  const good = idxBytes(8, [3, 2], [1, 2, 3, 4, 5, 6]);
  it("IdxDataset.open rejects a file longer than its header declares, as readIdxFile does", async () => {
    const p = write("long.idx", new Uint8Array([...good, 7, 8]));
    await expect(IdxDataset.open(p)).rejects.toThrow(
      `${p}: IDX file has trailing data: the header declares 3 records`,
    );
    await expect(all(readIdxFile(p))).rejects.toThrow(`${p}: IDX file has trailing data`);
  });
  it("IdxDataset.open closes its file when the options are wrong", async () => {
    const p = write("ok.idx", good);
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    for (let i = 0; i < 20; i++) {
      await expect(IdxDataset.open(p, { recordShape: [3] })).rejects.toThrow(
        /recordShape \[3\] has 3 elements/,
      );
    }
    await expect(IdxDataset.open(p, { preload: true, recordShape: [5] })).rejects.toThrow(/recordShape/);
    expect(fds()).toBe(before);
    await expect(IdxDataset.open(p, { scal: 2 } as never)).rejects.toThrow(
      /IdxDataset.open: unknown option 'scal' in the options; did you mean 'scale'\?/,
    );
  });
  it("huge declared dimensions are an error naming the file, not a raw allocation failure", async () => {
    const p = write("huge.idx", idxBytes(13, [1, 65536, 65536], []));
    await expect(all(readIdxFile(p))).rejects.toThrow(
      new RegExp(
        `^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: IDX header declares records of shape \\[65536, 65536\\]`,
      ),
    );
    await expect(IdxDataset.open(p)).rejects.toThrow(`${p}: IDX header declares records`);
  });
  it("gzip errors name the file (or the stream's name)", async () => {
    const gz = gzipSync(good);
    const truncated = write("cut.idx.gz", gz.subarray(0, gz.length - 6));
    await expect(all(readIdxFile(truncated))).rejects.toThrow(`${truncated}: cannot gunzip the file`);
    const garbage = write("garbage.csv.gz", "not gzip at all");
    await expect(all(readCsvFile(garbage))).rejects.toThrow(
      `${garbage}: cannot gunzip the file: incorrect header check`,
    );
    await expect(all(streamIdx(gz.subarray(0, 20), { name: "mem.idx.gz" }))).rejects.toThrow(
      "mem.idx.gz: cannot gunzip the data",
    );
  });
  it("fuzz: IDX files of every type round-trip through any chunking", async () => {
    const codes = [8, 9, 11, 12, 13, 14] as const;
    const ranges: Record<number, [number, number]> = {
      8: [0, 255],
      9: [-128, 127],
      11: [-32768, 32767],
      12: [-(2 ** 31), 2 ** 31 - 1],
      13: [-1e6, 1e6],
      14: [-1e6, 1e6],
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...codes),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(200), { maxLength: 4 }),
        fc.infiniteStream(fc.double({ noNaN: true, min: 0, max: 1 })),
        async (code, dims, batchSize, cuts, rnd) => {
          const n = dims.reduce((a, b) => a * b, 1);
          const [lo, hi] = ranges[code];
          const it = rnd[Symbol.iterator]();
          const vals = Array.from({ length: n }, () => {
            const v = lo + (hi - lo) * it.next().value;
            return code === 13 ? Math.fround(v) : code === 14 ? v : Math.round(v);
          });
          const bytes = idxBytes(code, dims, vals);
          const parts: Uint8Array[] = [];
          let prev = 0;
          for (const c of [...new Set(cuts.map((x) => x % (bytes.length + 1)))].sort((a, b) => a - b)) {
            parts.push(bytes.subarray(prev, c));
            prev = c;
          }
          parts.push(bytes.subarray(prev));
          const got: number[] = [];
          let records = 0;
          for await (const b of streamIdx(parts, { batchSize })) {
            got.push(...Array.from(b.data.data as ArrayLike<number>));
            records += b.count;
          }
          expect(records).toBe(dims[0]);
          // Doubles are decoded to float32, the output dtype.
          expect(got).toEqual(code === 14 ? vals.map(Math.fround) : vals);
        },
      ),
      { seed: 2051, numRuns: 200 },
    );
  });
  it("fuzz: mutated IDX bytes give exactly the declared records or an error naming the source", async () => {
    const base = idxBytes(
      11,
      [4, 3],
      Array.from({ length: 12 }, (_, i) => i * 100 - 500),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(base.length + 8), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.integer({ min: -6, max: 6 }),
        async (edits, grow) => {
          const len = Math.max(0, base.length + grow);
          const bytes = new Uint8Array(len);
          bytes.set(base.subarray(0, Math.min(len, base.length)));
          for (const [at, v] of edits) if (at < len) bytes[at] = v;
          const p = write("fuzz.idx", bytes);
          for (const open of [
            async () => {
              let n = 0;
              let declared = -1;
              for await (const b of readIdxFile(p)) {
                n += b.count;
                declared = b.header.dims[0];
                expect(b.data.data.length).toBe(b.count * b.header.recordSize);
              }
              if (declared >= 0) expect(n).toBe(declared);
            },
            async () => {
              const ds = await IdxDataset.open(p);
              try {
                const size = ds.file.header.expectedBytes;
                expect(size).toBe(len);
                for (let i = 0; i < Math.min(ds.length, 8); i++) await ds.get(i);
              } finally {
                await ds.close();
              }
            },
          ]) {
            try {
              await open();
            } catch (e) {
              expect((e as Error).message.startsWith(`${p}: `)).toBe(true);
            }
          }
        },
      ),
      { seed: 88, numRuns: 200 },
    );
  });
});

describe("options of samplers, splits and MNIST", () => {
  it("unknown keys are errors with a hint; a bad MNIST split is not silently the test set", async () => {
    const { RandomSampler, ShardSampler } = await import("../samplers");
    const { randomSplit } = await import("../split");
    const { openMnist } = await import("../mnist");
    expect(() => new RandomSampler(4, { num_samples: 2 } as never)).toThrow(
      "RandomSampler: unknown option 'num_samples' in the options; did you mean 'numSamples'?",
    );
    expect(() => new ShardSampler(4, { numShards: 2, shardIndex: 0, drop_uneven: true } as never)).toThrow(
      /ShardSampler: unknown option 'drop_uneven' in the options; did you mean 'dropUneven'\?/,
    );
    expect(() =>
      randomSplit({ length: 4, get: (i: number) => i }, [2, 2], { generator: 1 } as never),
    ).toThrow("randomSplit: unknown option 'generator'");
    await expect(openMnist(dir, { split: "tests" } as never)).rejects.toThrow(
      `openMnist: split must be 'train' or 'test', got "tests"`,
    );
  });
});
