import type { Conv2dAttrs, Kernel } from "@minibatch/tensor";
import type { CpuBackend } from "../backend";
import { wasmRuntime } from "../wasm/runtime";
import { conv2dGradFilterKernel, conv2dGradInputKernel, conv2dKernel, validRange } from "./conv";
import { data, finish, outputs as outputPtrs, pointers } from "./fast";

// Convolution as matrix products (im2col), so that it runs on the wasm SIMD gemm. For each image,
// the columns matrix holds, for every kernel tap row (ci, i, j), the input values that tap sees at
// each output position: [K = C * KH * KW, P = OH * OW]. Then, with the weights as [O, K]:
//   forward      Y[b] (O x P)   = W (O x K) @ cols[b] (K x P)           (Y is NCHW as it stands)
//   grad filter  dW   (O x K)   = sum over b of dY[b] (O x P) @ cols[b]^T
//   grad input   dcols[b] (K x P) = W^T @ dY[b], scattered back onto dX (col2im)
// Images go through in chunks so the columns buffer stays under COLS_LIMIT floats. Grouped
// convolutions, and ones too small for the products to pay off, use the direct TypeScript kernels.

/** At most this many floats of columns (64 MiB) at a time. */
const COLS_LIMIT = 16 * 1024 * 1024;
/** Below this many multiply-adds per call the direct kernel is as fast. */
const MIN_MACS = 1 << 16;

interface Plan {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  /** Taps per output value: C * KH * KW. */
  k: number;
  /** Output positions per image: OH * OW. */
  p: number;
  /** Images per chunk. */
  chunk: number;
}

/** The shapes of a convolution for the fast path, or null when the direct kernel should run. */
export function convPlan(
  x: readonly number[],
  wt: readonly number[],
  y: readonly number[],
  at: Conv2dAttrs,
): Plan | null {
  if (at.groups !== 1) return null;
  const [n, c, h, w] = x;
  const [o, , kh, kw] = wt;
  const [, , oh, ow] = y;
  const k = c * kh * kw;
  const p = oh * ow;
  if (n * o * k * p < MIN_MACS || k * p === 0) return null;
  return {
    n,
    c,
    h,
    w,
    o,
    kh,
    kw,
    oh,
    ow,
    k,
    p,
    chunk: Math.max(1, Math.min(n, Math.floor(COLS_LIMIT / (k * p)))),
  };
}

/**
 * Copies images [b0, b0 + nb) of X into columns at float index `dst` (im2col), or, with
 * `scatter`, adds columns back onto those images (col2im). Padding reads as zero and is dropped
 * when scattering.
 */
function columns(
  g: Plan,
  at: Conv2dAttrs,
  X: Float32Array,
  mem: Float32Array,
  dst: number,
  b0: number,
  nb: number,
  scatter: boolean,
): void {
  const [sh, sw] = at.stride;
  const [ph, pw] = at.padding;
  const [dh, dw] = at.dilation;
  const { c, h, w, kh, kw, oh, ow, p } = g;
  for (let b = 0; b < nb; b++) {
    for (let ci = 0; ci < c; ci++) {
      const xPlane = ((b0 + b) * c + ci) * h * w;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const shift = j * dw - pw;
          const [lo, hi] = validRange(ow, sw, shift, w);
          let col = dst + (b * g.k + (ci * kh + i) * kw + j) * p;
          for (let r = 0; r < oh; r++, col += ow) {
            const ih = r * sh - ph + i * dh;
            if (ih < 0 || ih >= h) {
              if (!scatter) mem.fill(0, col, col + ow);
              continue;
            }
            const xRow = xPlane + ih * w + shift;
            if (scatter) {
              for (let q = lo; q < hi; q++) X[xRow + q * sw] += mem[col + q];
            } else {
              if (lo > 0) mem.fill(0, col, col + lo);
              if (sw === 1) mem.set(X.subarray(xRow + lo, xRow + hi), col + lo);
              else for (let q = lo; q < hi; q++) mem[col + q] = X[xRow + q * sw];
              if (hi < ow) mem.fill(0, col + hi, col + ow);
            }
          }
        }
      }
    }
  }
}

export const fastConv2dKernel: Kernel<"conv2d", CpuBackend> = (backend, inputs, outputs, at) => {
  const [x, wt] = inputs;
  const [y] = outputs;
  const g = convPlan(x.shape, wt.shape, y.shape, at);
  const w = g ? wasmRuntime() : null;
  if (!g || !w) return conv2dKernel(backend, inputs, outputs, at);
  // Pointers first: allocating may grow memory, which replaces the views taken after.
  const p = pointers(w, () => [
    w.gemmScratch(),
    w.temp(g.chunk * g.k * g.p * 4),
    w.input(data(wt)),
    ...outputPtrs(w, [y]),
  ]);
  if (!p) return conv2dKernel(backend, inputs, outputs, at);
  const [scratch, cols, pw, py] = p;
  const X = data(x).values as Float32Array;
  for (let b0 = 0; b0 < g.n; b0 += g.chunk) {
    const nb = Math.min(g.chunk, g.n - b0);
    columns(g, at, X, w.view(), cols >> 2, b0, nb, false);
    w.gemm(pw, cols, py + b0 * g.o * g.p * 4, nb, 1, nb, g.o, g.p, g.k, 0, 0, scratch);
  }
  finish(w, [y], [py]);
};

export const fastConv2dGradFilterKernel: Kernel<"conv2dGradFilter", CpuBackend> = (
  backend,
  inputs,
  outputs,
  at,
) => {
  const [x, dy] = inputs;
  const [dwt] = outputs;
  const g = convPlan(x.shape, dwt.shape, dy.shape, at);
  const w = g ? wasmRuntime() : null;
  if (!g || !w) return conv2dGradFilterKernel(backend, inputs, outputs, at);
  const p = pointers(w, () => [
    w.gemmScratch(),
    w.temp(g.chunk * g.k * g.p * 4),
    w.temp(g.chunk * g.o * g.k * 4),
    w.input(data(dy)),
  ]);
  if (!p) return conv2dGradFilterKernel(backend, inputs, outputs, at);
  const [scratch, cols, perImage, pdy] = p;
  const X = data(x).values as Float32Array;
  const DW = data(dwt).values as Float32Array;
  DW.fill(0);
  const ok = g.o * g.k;
  for (let b0 = 0; b0 < g.n; b0 += g.chunk) {
    const nb = Math.min(g.chunk, g.n - b0);
    const mem = w.view();
    columns(g, at, X, mem, cols >> 2, b0, nb, false);
    // One [O, K] product per image (gemm overwrites its output), summed here.
    w.gemm(pdy + b0 * g.o * g.p * 4, cols, perImage, nb, nb, nb, g.o, g.k, g.p, 0, 1, scratch);
    for (let b = 0; b < nb; b++) {
      const src = (perImage >> 2) + b * ok;
      for (let i = 0; i < ok; i++) DW[i] += mem[src + i];
    }
  }
  w.release();
};

export const fastConv2dGradInputKernel: Kernel<"conv2dGradInput", CpuBackend> = (
  backend,
  inputs,
  outputs,
  at,
) => {
  const [dy, wt] = inputs;
  const [dx] = outputs;
  const g = convPlan(dx.shape, wt.shape, dy.shape, at);
  const w = g ? wasmRuntime() : null;
  if (!g || !w) return conv2dGradInputKernel(backend, inputs, outputs, at);
  const p = pointers(w, () => [
    w.gemmScratch(),
    w.temp(g.chunk * g.k * g.p * 4),
    w.input(data(wt)),
    w.input(data(dy)),
  ]);
  if (!p) return conv2dGradInputKernel(backend, inputs, outputs, at);
  const [scratch, cols, pw, pdy] = p;
  const DX = data(dx).values as Float32Array;
  DX.fill(0);
  for (let b0 = 0; b0 < g.n; b0 += g.chunk) {
    const nb = Math.min(g.chunk, g.n - b0);
    // dcols[b] (K x P) = W^T (K x O) @ dY[b] (O x P); W is stored [O, K], hence transA.
    w.gemm(pw, pdy + b0 * g.o * g.p * 4, cols, nb, 1, nb, g.k, g.p, g.o, 1, 0, scratch);
    columns(g, at, DX, w.view(), cols >> 2, b0, nb, true);
  }
  w.release();
};
