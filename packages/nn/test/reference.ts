/** Float64 reference implementations and deterministic inputs for the tests. */

/** Deterministic pseudo-random values in [lo, hi) (a tiny LCG, independent of the library's generator). */
export function values(n: number, seed = 1, lo = -1, hi = 1): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(lo + (s / 2 ** 32) * (hi - lo));
  }
  return out;
}

/** Rounds through float32 so references use exactly the values the tensors hold. */
export const f32 = (xs: number[]): number[] => Array.from(Float32Array.from(xs));

/** [m, k] @ [k, n] in float64. */
export function matmul(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out = new Array(m * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      out[i * n + j] = s;
    }
  return out;
}

export function transpose(a: number[], r: number, c: number): number[] {
  const out = new Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

export interface ConvSpec {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** Direct 2-d cross-correlation (PyTorch's conv2d) in float64. */
export function conv2d(
  x: number[],
  wt: number[],
  bias: number[] | null,
  s: ConvSpec,
): { y: number[]; oh: number; ow: number } {
  const oh = Math.floor((s.h + 2 * s.padding[0] - s.dilation[0] * (s.kh - 1) - 1) / s.stride[0]) + 1;
  const ow = Math.floor((s.w + 2 * s.padding[1] - s.dilation[1] * (s.kw - 1) - 1) / s.stride[1]) + 1;
  const cg = s.c / s.groups;
  const og = s.o / s.groups;
  const y = new Array(s.n * s.o * oh * ow).fill(0);
  for (let b = 0; b < s.n; b++)
    for (let o = 0; o < s.o; o++) {
      const g = Math.floor(o / og);
      for (let r = 0; r < oh; r++)
        for (let q = 0; q < ow; q++) {
          let acc = bias ? bias[o] : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < s.kh; i++)
              for (let j = 0; j < s.kw; j++) {
                const ih = r * s.stride[0] - s.padding[0] + i * s.dilation[0];
                const iw = q * s.stride[1] - s.padding[1] + j * s.dilation[1];
                if (ih < 0 || iw < 0 || ih >= s.h || iw >= s.w) continue;
                const c = g * cg + ci;
                acc += x[((b * s.c + c) * s.h + ih) * s.w + iw] * wt[((o * cg + ci) * s.kh + i) * s.kw + j];
              }
          y[((b * s.o + o) * oh + r) * ow + q] = acc;
        }
    }
  return { y, oh, ow };
}

export function logSoftmaxRows(x: number[], n: number, c: number): number[] {
  const out = new Array(n * c);
  for (let i = 0; i < n; i++) {
    const row = x.slice(i * c, (i + 1) * c);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    for (let j = 0; j < c; j++) out[i * c + j] = row[j] - lse;
  }
  return out;
}

/** Mean and standard deviation. */
export function stats(xs: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < xs.length; i++) {
    s += xs[i];
    min = Math.min(min, xs[i]);
    max = Math.max(max, xs[i]);
  }
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / xs.length), min, max };
}
