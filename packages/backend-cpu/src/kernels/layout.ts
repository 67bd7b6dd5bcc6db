import { type IndexCheck, indexError, type Kernel, type TypedArray } from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";
import { forEachRow } from "./iterate";

/**
 * ys[o .. o + n) = xs[start .. start + n). Short runs (a gather of single values, a column) are
 * copied by a loop: a subarray view per run costs more than the copy and feeds the GC.
 */
function copyRun(ys: TypedArray, o: number, xs: TypedArray, start: number, n: number): void {
  if (n < 32) {
    for (let i = 0; i < n; i++) ys[o + i] = xs[start + i];
    return;
  }
  ys.set(xs.subarray(start, start + n), o);
}

export const stridedKernel: Kernel<"strided", CpuBackend> = (_b, [x], [y], { strides, offset }) => {
  const xs = buf(x);
  const ys = buf(y);
  forEachRow(y.shape, [strides], (o, off, n, inner) => {
    const s = inner[0];
    const start = offset + off[0];
    if (s === 1) copyRun(ys, o, xs, start, n);
    else for (let i = 0; i < n; i++) ys[o + i] = xs[start + i * s];
  });
};

export const concatKernel: Kernel<"concat", CpuBackend> = (_b, xs, [y], { outer, sizes, inner }) => {
  const ys = buf(y);
  const total = sizes.reduce((p, c) => p + c, 0) * inner;
  let col = 0;
  xs.forEach((x, i) => {
    const xv = buf(x);
    const len = sizes[i] * inner;
    for (let o = 0; o < outer; o++) copyRun(ys, o * total + col, xv, o * len, len);
    col += len;
  });
};

export const gatherKernel: Kernel<"gather", CpuBackend> = (_b, [x, idx], [y], { outer, dim, inner, n }) => {
  const xs = buf(x);
  const is = buf<Int32Array>(idx);
  const ys = buf(y);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      let r = is[j];
      if (r < 0) r += dim;
      if (r < 0 || r >= dim) throw indexError(kernelCheck("gather", dim), is[j], j, idx.shape);
      const src = (o * dim + r) * inner;
      copyRun(ys, (o * n + j) * inner, xs, src, inner);
    }
  }
};

export const scatterAddKernel: Kernel<"scatterAdd", CpuBackend> = (
  _b,
  [src, idx],
  [y],
  { outer, dim, inner, n },
) => {
  const ss = buf(src);
  const is = buf<Int32Array>(idx);
  const ys = buf(y);
  ys.fill(0);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      let r = is[j];
      if (r < 0) r += dim;
      if (r < 0 || r >= dim) throw indexError(kernelCheck("scatterAdd", dim), is[j], j, idx.shape);
      const dst = (o * dim + r) * inner;
      const from = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) ys[dst + i] += ss[from + i];
    }
  }
};

/**
 * The kernels' own guard, for callers that skip the front end's check (which names the op the
 * user called); the message comes from the same builder.
 */
function kernelCheck(op: string, dim: number): IndexCheck {
  return { op, what: "index", low: -dim, high: dim, range: `a dimension of size ${dim}` };
}
