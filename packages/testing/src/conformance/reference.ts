/**
 * Straightforward float64 reference implementations, written independently of the library's
 * kernels (plain nested index arithmetic, no shared helpers), used as the expected values of the
 * conformance suite.
 */
export interface Ref {
  data: number[];
  shape: number[];
}

export const ref = (data: number[], shape: number[]): Ref => ({ data, shape });

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function unravel(i: number, shape: number[]): number[] {
  const idx = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

function ravel(idx: number[], shape: number[]): number {
  let off = 0;
  for (let d = 0; d < shape.length; d++) off = off * shape[d] + idx[d];
  return off;
}

export function map(a: Ref, f: (x: number) => number): Ref {
  return { data: a.data.map(f), shape: [...a.shape] };
}

export function broadcast2(a: Ref, b: Ref, f: (x: number, y: number) => number): Ref {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pa = [...new Array(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...new Array(rank - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape);
    const ia = idx.map((v, d) => (pa[d] === 1 ? 0 : v));
    const ib = idx.map((v, d) => (pb[d] === 1 ? 0 : v));
    data.push(f(a.data[ravel(ia, pa)], b.data[ravel(ib, pb)]));
  }
  return { data, shape };
}

/** Reduces over axes with f over the list of values; keepDims keeps size-1 axes. */
export function reduceAxes(
  a: Ref,
  axes: number[] | undefined,
  f: (vals: number[]) => number,
  keepDims = false,
): Ref {
  const ax = (axes ?? a.shape.map((_, i) => i)).map((x) => (x < 0 ? x + a.shape.length : x));
  const outShapeKeep = a.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  for (let i = 0; i < a.data.length; i++) {
    const idx = unravel(i, a.shape).map((v, d) => (ax.includes(d) ? 0 : v));
    const key = ravel(idx, outShapeKeep);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(a.data[i]);
  }
  const data: number[] = [];
  for (let k = 0; k < size(outShapeKeep); k++) data.push(f(groups.get(k) ?? []));
  return { data, shape: keepDims ? outShapeKeep : a.shape.filter((_, i) => !ax.includes(i)) };
}

export const sumOf = (v: number[]) => v.reduce((s, x) => s + x, 0);
export const meanOf = (v: number[]) => sumOf(v) / v.length;
export const varOf = (v: number[], correction: number) => {
  const m = meanOf(v);
  return v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - correction);
};
export const argOf = (v: number[], better: (x: number, y: number) => boolean) => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (better(v[i], v[best])) best = i;
  return best;
};

export function matmul2(a: Ref, b: Ref): Ref {
  const [m, k] = a.shape;
  const n = b.shape[1];
  const data: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a.data[i * k + p] * b.data[p * n + j];
      data.push(s);
    }
  }
  return { data, shape: [m, n] };
}

export function permuteRef(a: Ref, perm: number[]): Ref {
  const shape = perm.map((p) => a.shape[p]);
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape);
    const src = new Array(a.shape.length);
    perm.forEach((p, d) => {
      src[p] = idx[d];
    });
    data.push(a.data[ravel(src, a.shape)]);
  }
  return { data, shape };
}

export function conv2dRef(
  x: Ref,
  w: Ref,
  stride: [number, number],
  pad: [number, number],
  dil: [number, number],
  groups: number,
): Ref {
  const [n, c, h, wd] = x.shape;
  const [o, cg, kh, kw] = w.shape;
  const oh = Math.floor((h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1]) + 1;
  const data: number[] = [];
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let r = 0; r < oh; r++)
        for (let q = 0; q < ow; q++) {
          let s = 0;
          const g = Math.floor(oc / (o / groups));
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const ih = r * stride[0] - pad[0] + i * dil[0];
                const iw = q * stride[1] - pad[1] + j * dil[1];
                if (ih < 0 || iw < 0 || ih >= h || iw >= wd) continue;
                s +=
                  x.data[((b * c + g * cg + ci) * h + ih) * wd + iw] *
                  w.data[((oc * cg + ci) * kh + i) * kw + j];
              }
          data.push(s);
        }
  return { data, shape: [n, o, oh, ow] };
}

export function poolRef(
  x: Ref,
  k: [number, number],
  stride: [number, number],
  pad: [number, number],
  kind: "max" | "avg",
): Ref {
  const [n, c, h, w] = x.shape;
  const oh = Math.floor((h + 2 * pad[0] - k[0]) / stride[0]) + 1;
  const ow = Math.floor((w + 2 * pad[1] - k[1]) / stride[1]) + 1;
  const data: number[] = [];
  for (let p = 0; p < n * c; p++)
    for (let r = 0; r < oh; r++)
      for (let q = 0; q < ow; q++) {
        const vals: number[] = [];
        for (let i = 0; i < k[0]; i++)
          for (let j = 0; j < k[1]; j++) {
            const ih = r * stride[0] - pad[0] + i;
            const iw = q * stride[1] - pad[1] + j;
            if (ih < 0 || iw < 0 || ih >= h || iw >= w) continue;
            vals.push(x.data[(p * h + ih) * w + iw]);
          }
        data.push(kind === "max" ? Math.max(...vals) : sumOf(vals) / (k[0] * k[1]));
      }
  return { data, shape: [n, c, oh, ow] };
}

/** erf by composite Simpson integration of 2/sqrt(pi) exp(-t^2) on [0, x] (independent of the kernels' series). */
export function erfRef(x: number): number {
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

/** A deterministic pseudo-random fill in [-1, 1) (a linear congruential sequence, not the library's generator). */
export function fill(n: number, seed = 1, lo = -1, hi = 1): number[] {
  // Scramble the seed so that neighbouring seeds give unrelated sequences.
  let s = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) >>> 0;
  s = (s ^ (s >>> 15)) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(Math.fround(lo + ((hi - lo) * s) / 2 ** 32));
  }
  return out;
}
