/**
 * Straightforward float64 references for the tests (never used by the library): loops over
 * plain arrays, two-pass statistics, no tensor ops.
 */

export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values rounded to float32, so the reference sees exactly what the tensor holds. */
export function randomValues(n: number, seed: number, scale = 1, offset = 0): number[] {
  const r = seeded(seed);
  return Array.from({ length: n }, () => Math.fround(offset + scale * (2 * r() - 1)));
}

export interface RefStats {
  y: number[];
  mean: number[];
  varBiased: number[];
  varUnbiased: number[];
}

/** Normalization per channel on `axis` over every other axis, as the paper writes it. */
export function refBatchNorm(
  x: readonly number[],
  shape: readonly number[],
  eps: number,
  gamma?: readonly number[],
  beta?: readonly number[],
  axis = 1,
): RefStats {
  const c = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const chan = (i: number) => Math.floor(i / inner) % c;
  const sum = new Array(c).fill(0);
  const cnt = new Array(c).fill(0);
  x.forEach((v, i) => {
    sum[chan(i)] += v;
    cnt[chan(i)]++;
  });
  const mean = sum.map((s, k) => s / cnt[k]);
  const ss = new Array(c).fill(0);
  x.forEach((v, i) => {
    ss[chan(i)] += (v - mean[chan(i)]) ** 2;
  });
  const varBiased = ss.map((s, k) => s / cnt[k]);
  const varUnbiased = ss.map((s, k) => s / (cnt[k] - 1));
  const y = x.map((v, i) => {
    const k = chan(i);
    return ((v - mean[k]) / Math.sqrt(varBiased[k] + eps)) * (gamma?.[k] ?? 1) + (beta?.[k] ?? 0);
  });
  return { y, mean, varBiased, varUnbiased };
}

/** Standardizes consecutive rows of `cols` values (layer / group / instance norm). */
export function refRows(x: readonly number[], cols: number, eps: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / cols; r++) {
    const row = x.slice(r * cols, (r + 1) * cols);
    const m = row.reduce((a, b) => a + b, 0) / cols;
    const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / cols;
    for (const e of row) out.push((e - m) / Math.sqrt(v + eps));
  }
  return out;
}

/** Per-column statistics of [N, F] rows, NaN skipped, two-pass (like numpy's nanmean / nanvar). */
export function refColumns(rows: readonly (readonly number[])[]) {
  const f = rows[0].length;
  const out = {
    mean: [] as number[],
    var: [] as number[],
    min: [] as number[],
    max: [] as number[],
    n: [] as number[],
  };
  for (let j = 0; j < f; j++) {
    const col = rows.map((r) => r[j]).filter((v) => !Number.isNaN(v));
    const m = col.reduce((a, b) => a + b, 0) / col.length;
    out.mean.push(m);
    out.var.push(col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length);
    out.min.push(col.length ? Math.min(...col) : Number.NaN);
    out.max.push(col.length ? Math.max(...col) : Number.NaN);
    out.n.push(col.length);
  }
  return out;
}

export function chunk<T>(a: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += size) out.push(a.slice(i, i + size));
  return out;
}
