import type { Conv2dAttrs, Kernel, TensorInfo } from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";

interface Geometry {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  cg: number;
  og: number;
}

function geometry(x: TensorInfo, wt: TensorInfo, y: TensorInfo, groups: number): Geometry {
  const [n, c, h, w] = x.shape;
  const [o, cg, kh, kw] = wt.shape;
  return { n, c, h, w, o, kh, kw, oh: y.shape[2], ow: y.shape[3], cg, og: o / groups };
}

/**
 * Direct convolution: for each output channel and kernel tap, a whole output row is updated
 * from one input row, so the inner loop is a strided axpy without bounds checks inside.
 * The input gradient walks the same taps and rows with the data flowing the other way
 * (`toInput`: DX[x] += w * DY[y] instead of Y[y] += w * X[x]).
 */
function convTaps(
  g: Geometry,
  at: Conv2dAttrs,
  W: Float32Array,
  X: Float32Array,
  Y: Float32Array,
  toInput: boolean,
): void {
  (toInput ? X : Y).fill(0);
  const [sh, sw] = at.stride;
  const [ph, pw] = at.padding;
  const [dh, dw] = at.dilation;
  for (let b = 0; b < g.n; b++) {
    for (let o = 0; o < g.o; o++) {
      const grp = Math.floor(o / g.og);
      const yBase = (b * g.o + o) * g.oh * g.ow;
      for (let ci = 0; ci < g.cg; ci++) {
        const xBase = (b * g.c + grp * g.cg + ci) * g.h * g.w;
        for (let i = 0; i < g.kh; i++) {
          for (let j = 0; j < g.kw; j++) {
            const wv = W[((o * g.cg + ci) * g.kh + i) * g.kw + j];
            if (wv === 0) continue;
            const [owLo, owHi] = validRange(g.ow, sw, j * dw - pw, g.w);
            for (let r = 0; r < g.oh; r++) {
              const ih = r * sh - ph + i * dh;
              if (ih < 0 || ih >= g.h) continue;
              const xRow = xBase + ih * g.w + j * dw - pw;
              const yRow = yBase + r * g.ow;
              if (toInput) for (let q = owLo; q < owHi; q++) X[xRow + q * sw] += wv * Y[yRow + q];
              else for (let q = owLo; q < owHi; q++) Y[yRow + q] += wv * X[xRow + q * sw];
            }
          }
        }
      }
    }
  }
}

export const conv2dKernel: Kernel<"conv2d", CpuBackend> = (_b, [x, wt], [y], at) =>
  convTaps(geometry(x, wt, y, at.groups), at, buf(wt), buf(x), buf(y), false);

export const conv2dGradInputKernel: Kernel<"conv2dGradInput", CpuBackend> = (_b, [dy, wt], [dx], at) =>
  convTaps(geometry(dx, wt, dy, at.groups), at, buf(wt), buf(dx), buf(dy), true);

/** Output columns q whose input column q * stride + shift lies inside [0, size). */
export function validRange(outSize: number, stride: number, shift: number, size: number): [number, number] {
  const lo = Math.min(outSize, Math.max(0, Math.ceil(-shift / stride)));
  const hi = Math.min(outSize, Math.floor((size - 1 - shift) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

export const conv2dGradFilterKernel: Kernel<"conv2dGradFilter", CpuBackend> = (_b, [x, dy], [dw_], at) => {
  const g = geometry(x, dw_, dy, at.groups);
  const X = buf(x);
  const DY = buf(dy);
  const DW = buf(dw_);
  DW.fill(0);
  const [sh, sw] = at.stride;
  const [ph, pw] = at.padding;
  const [dh, dw] = at.dilation;
  for (let o = 0; o < g.o; o++) {
    const grp = Math.floor(o / g.og);
    for (let ci = 0; ci < g.cg; ci++) {
      for (let i = 0; i < g.kh; i++) {
        for (let j = 0; j < g.kw; j++) {
          const [owLo, owHi] = validRange(g.ow, sw, j * dw - pw, g.w);
          let s = 0;
          for (let b = 0; b < g.n; b++) {
            const yBase = (b * g.o + o) * g.oh * g.ow;
            const xBase = (b * g.c + grp * g.cg + ci) * g.h * g.w;
            for (let r = 0; r < g.oh; r++) {
              const ih = r * sh - ph + i * dh;
              if (ih < 0 || ih >= g.h) continue;
              const xRow = xBase + ih * g.w + j * dw - pw;
              const yRow = yBase + r * g.ow;
              for (let q = owLo; q < owHi; q++) s += DY[yRow + q] * X[xRow + q * sw];
            }
          }
          DW[((o * g.cg + ci) * g.kh + i) * g.kw + j] = s;
        }
      }
    }
  }
};
