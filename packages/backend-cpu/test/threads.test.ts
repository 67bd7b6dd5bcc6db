import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WASM_BASE64 } from "../src/wasm/module";
import { getNumThreads, setNumThreads, splitGemm, threadsSupported } from "../src/wasm/pool";
import { unshareMemoryImport, type WasmRuntime, wasmRuntime, wasmStatus } from "../src/wasm/runtime";
import { rng } from "./rng";

// Matrix products split across worker threads must give the single-thread gemm's values bit for
// bit: every element is summed in the same order whatever the split.

/** [batch, batchA, batchB, m, n, k] */
type Shape = [number, number, number, number, number, number];

/**
 * Runs one product through `w.gemm` (threaded) and through `exports.gemm` (one thread) on the
 * same operands; returns the number of elements that differ and how many parts it could use.
 */
function compare(w: WasmRuntime, [batch, batchA, batchB, m, n, k]: Shape, transA: boolean, transB: boolean) {
  const r = rng(m * 7919 + n * 104729 + k);
  const sa = batchA * m * k;
  const sb = batchB * k * n;
  const sc = batch * m * n;
  const pa = w.temp(sa * 4);
  const pb = w.temp(sb * 4);
  const p1 = w.temp(sc * 4);
  const p2 = w.temp(sc * 4);
  const scratch = w.gemmScratch();
  const f = w.view();
  for (let i = 0; i < sa; i++) f[(pa >> 2) + i] = r() * 2 - 1;
  for (let i = 0; i < sb; i++) f[(pb >> 2) + i] = r() * 2 - 1;
  f.fill(Number.NaN, p1 >> 2, (p1 >> 2) + sc);
  f.fill(Number.NaN, p2 >> 2, (p2 >> 2) + sc);
  const ta = transA ? 1 : 0;
  const tb = transB ? 1 : 0;
  w.exports.gemm(pa, pb, p1, batch, batchA, batchB, m, n, k, ta, tb, scratch);
  w.gemm(pa, pb, p2, batch, batchA, batchB, m, n, k, ta, tb, scratch);
  const v = w.view();
  let differ = 0;
  for (let i = 0; i < sc; i++) {
    const x = v[(p1 >> 2) + i];
    const y = v[(p2 >> 2) + i];
    if (!(x === y) || Number.isNaN(x)) differ++;
  }
  w.release();
  return differ;
}

describe("splitGemm", () => {
  const covers = (batch: number, m: number, n: number, threads: number) => {
    const ps = splitGemm(batch, m, n, threads);
    expect(ps.length).toBeGreaterThanOrEqual(1);
    expect(ps.length).toBeLessThanOrEqual(4 * threads);
    const seen = new Uint8Array(batch * m * n);
    for (const [q0, q1, i0, i1, j0, j1] of ps) {
      expect(q1 > q0 && i1 > i0 && j1 > j0).toBe(true);
      for (let q = q0; q < q1; q++)
        for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) seen[(q * m + i) * n + j]++;
    }
    expect(seen.every((c) => c === 1)).toBe(true);
    return ps;
  };

  it("covers C exactly once, in at most 4 chunks per thread", () => {
    for (const [batch, m, n] of [
      [1, 1, 1],
      [1, 7, 3],
      [1, 100, 10],
      [1, 10, 100],
      [3, 13, 17],
      [4, 9, 9],
      [16, 2, 2],
      [5, 64, 64],
      [1, 1000, 1000],
      [300, 4, 4],
    ]) {
      for (const threads of [1, 2, 3, 4, 7]) covers(batch, m, n, threads);
    }
  });

  it("cuts rows on the 5-row tile, columns on the 8-column tile, products whole", () => {
    expect(splitGemm(1, 100, 10, 3).map((p) => [p[2], p[3]])).toEqual([
      [0, 30],
      [30, 65],
      [65, 100],
    ]);
    expect(splitGemm(1, 10, 64, 2).map((p) => [p[4], p[5]])).toEqual([
      [0, 32],
      [32, 64],
    ]);
    expect(splitGemm(16, 10, 10, 2).map((p) => [p[0], p[1]])).toEqual(
      [0, 2, 4, 6, 8, 10, 12, 14].map((q) => [q, q + 2]),
    );
    expect(splitGemm(8, 10, 10, 4)).toHaveLength(8);
    // Big products: chunks of at least 64 rows, up to 4 per thread.
    expect(splitGemm(1, 256, 256, 2).map((p) => p[3] - p[2])).toEqual([65, 65, 65, 61]);
    expect(splitGemm(1, 1024, 1024, 2)).toHaveLength(8);
    // Fewer rows than threads: as many chunks as tiles.
    expect(splitGemm(1, 3, 2, 4)).toEqual([[0, 1, 0, 3, 0, 2]]);
  });
});

describe.runIf(threadsSupported())("gemm on worker threads", () => {
  let w: WasmRuntime;
  let before: number;
  beforeAll(async () => {
    const rt = wasmRuntime();
    expect(rt).not.toBeNull();
    w = rt as WasmRuntime;
    before = getNumThreads();
    setNumThreads(4);
    expect(await w.startThreads()).toBe(4);
    // Split even small products, so that many shapes and part boundaries are exercised.
    w.gemmPartMinMacs = 1;
  });
  afterAll(() => {
    w.gemmPartMinMacs = 1 << 19;
    setNumThreads(before);
  });

  it("runs on a shared memory, with the pool's workers ready", () => {
    expect(w.shared).toBe(true);
    expect(w.exports.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(w.poolState()).toMatchObject({ workers: 3, ready: 3 });
    expect(wasmStatus()).toMatchObject({ enabled: true, threads: 4 });
  });

  const shapes: Shape[] = [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 2, 3, 4], // fewer rows than threads
    [1, 1, 1, 3, 200, 17], // wide: split by columns
    [1, 1, 1, 64, 64, 64],
    [1, 1, 1, 13, 17, 19],
    [1, 1, 1, 173, 24, 300], // several row blocks, k over one KC block
    [1, 1, 1, 67, 1030, 257], // several NC column blocks
    [1, 1, 1, 9, 4, 0], // k = 0: C is zeroed
    [3, 3, 3, 7, 9, 11], // batch not a multiple of the threads: rows split
    [8, 8, 8, 12, 10, 30], // batch split
    [4, 1, 4, 6, 10, 5],
    [4, 4, 1, 33, 8, 3],
    [2, 2, 2, 41, 37, 600],
  ];
  for (const shape of shapes) {
    const [batch, batchA, batchB, m, n, k] = shape;
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`batch ${batch} (${batchA}, ${batchB}) ${m}x${k} @ ${k}x${n} transA=${transA} transB=${transB}: bit-identical`, () => {
          expect(compare(w, shape, transA, transB)).toBe(0);
        });
      }
    }
  }

  /**
   * compare(), repeated until workers wrote some of the chunks (the calling thread takes chunks
   * too, and may take them all before a worker wakes); checks that they did.
   */
  const compareWithWorkers = (shape: Shape, transA: boolean, transB: boolean) => {
    const { chunks, here } = w.poolState();
    let differ = 0;
    for (let i = 0; i < 50; i++) {
      differ += compare(w, shape, transA, transB);
      const s = w.poolState();
      if (s.chunks - chunks > s.here - here) break;
    }
    const s = w.poolState();
    expect(s.chunks - chunks, "chunks written by workers").toBeGreaterThan(s.here - here);
    return differ;
  };

  it("the workers take chunks", () => {
    expect(compareWithWorkers([1, 1, 1, 400, 300, 200], false, false)).toBe(0);
    expect(compareWithWorkers([6, 6, 6, 50, 60, 70], true, true)).toBe(0);
  });

  it("keeps working when memory grows while the workers exist", () => {
    const mem = w.exports.memory;
    const bytes = mem.buffer.byteLength;
    // Fill the heap past its end: new blocks land in pages added after the workers started.
    const big = w.heap.alloc(bytes);
    expect(big).toBeGreaterThanOrEqual(0);
    expect(mem.buffer.byteLength).toBeGreaterThan(bytes);
    expect(compareWithWorkers([1, 1, 1, 400, 300, 200], false, true)).toBe(0);
    expect(compareWithWorkers([8, 8, 8, 30, 20, 0], true, false)).toBe(0);
    w.heap.free(big);
  });

  it("setNumThreads changes the pool; 1 stops the workers", async () => {
    setNumThreads(2);
    expect(getNumThreads()).toBe(2);
    expect(w.poolState().workers).toBe(1);
    expect(compare(w, [1, 1, 1, 40, 40, 40], false, true)).toBe(0);
    setNumThreads(1);
    expect(getNumThreads()).toBe(1);
    expect(w.poolState().workers).toBe(0);
    expect(compare(w, [1, 1, 1, 40, 40, 40], false, true)).toBe(0);
    setNumThreads(3);
    expect(await w.startThreads()).toBe(3);
    expect(compare(w, [1, 1, 1, 40, 40, 40], true, true)).toBe(0);
    expect(() => setNumThreads(0)).toThrow(/positive integer/);
    expect(() => setNumThreads(1.5)).toThrow(/positive integer/);
  });
});

describe("the unshared build", () => {
  it("imports a memory that is not shared and gives the same values", () => {
    const bytes = unshareMemoryImport(
      new Uint8Array(Buffer.from(WASM_BASE64, "base64")) as Uint8Array<ArrayBuffer>,
    );
    expect(WebAssembly.validate(bytes)).toBe(true);
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536 });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    const e = inst.exports as unknown as WasmRuntime["exports"];
    const f = new Float32Array(memory.buffer);
    const base = 1 << 16;
    const [m, n, k] = [7, 9, 11];
    for (let i = 0; i < m * k + k * n; i++) f[(base >> 2) + i] = (i % 13) - 6;
    const c = base + (m * k + k * n) * 4;
    e.gemm(base, base + m * k * 4, c, 1, 1, 1, m, n, k, 0, 0, 1 << 20);
    // Small integers: the exact products.
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += f[(base >> 2) + i * k + p] * f[(base >> 2) + m * k + p * n + j];
        expect(f[(c >> 2) + i * n + j]).toBe(s);
      }
    }
  });
});
