import { assertNever, type Kernel, type ReduceOp, type TensorInfo, type TypedArray } from "@minibatch/tensor";
import { buf, type CpuBackend, type CpuData } from "../backend";
import { fastExtremeF32, fastSumF32 } from "./simd";

/**
 * Whether a reduction is worth a wasm call: short rows (a softmax over 10 classes) or a small
 * result outside wasm memory (copied through a temporary block) cost more in the call than the
 * TypeScript loop below does (measured: a row sum of [60, 10] took 10 us in wasm, 7 us here).
 */
function wasmWorthIt(x: TensorInfo, y: TensorInfo, reduce: number, inner: number): boolean {
  if (inner === 1 && reduce < 32) return false;
  return (y.dataId as CpuData).ptr >= 0 || x.size >= 4096;
}

/**
 * Reductions over [outer, reduce, inner]. With inner == 1 each output is one contiguous run;
 * otherwise rows of `inner` values are combined in order, which keeps memory access sequential.
 * Sums accumulate in float64. Float32 sums, maxima and minima run in wasm SIMD when they can (./simd.ts).
 */
export const reduceKernel =
  <K extends ReduceOp>(op: K): Kernel<K, CpuBackend> =>
  (_b, [x], [y], attrs) => {
    const { outer, reduce, inner } = attrs;
    if (wasmWorthIt(x, y, reduce, inner)) {
      if (op === "sum" && fastSumF32(x, y, attrs)) return;
      if ((op === "max" || op === "min") && fastExtremeF32(x, y, attrs, op === "max")) return;
    }
    const xs = buf(x);
    const ys = buf(y);
    const kind: ReduceOp = op;
    switch (kind) {
      case "sum":
        return sumLoop(xs, ys, outer, reduce, inner);
      case "max":
      case "min":
        return extremeLoop(xs, ys, outer, reduce, inner, kind === "max");
      case "argmax":
      case "argmin":
        return argLoop(xs, ys, outer, reduce, inner, kind === "argmax");
      default:
        return assertNever(kind);
    }
  };

function sumLoop(x: TypedArray, y: TypedArray, outer: number, reduce: number, inner: number): void {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let s = 0;
      const base = o * reduce;
      for (let r = 0; r < reduce; r++) s += x[base + r];
      y[o] = s;
    }
    return;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    for (let r = 0; r < reduce; r++) {
      const base = (o * reduce + r) * inner;
      for (let i = 0; i < inner; i++) acc[i] += x[base + i];
    }
    const ob = o * inner;
    for (let i = 0; i < inner; i++) y[ob + i] = acc[i];
  }
}

function extremeLoop(
  x: TypedArray,
  y: TypedArray,
  outer: number,
  reduce: number,
  inner: number,
  isMax: boolean,
): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = x[o * reduce * inner + i];
      for (let r = 1; r < reduce && best === best; r++) {
        const v = x[(o * reduce + r) * inner + i];
        if (v !== v || (isMax ? v > best : v < best)) best = v;
      }
      y[o * inner + i] = best;
    }
  }
}

function argLoop(
  x: TypedArray,
  y: TypedArray,
  outer: number,
  reduce: number,
  inner: number,
  isMax: boolean,
): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = x[o * reduce * inner + i];
      let at = 0;
      for (let r = 1; r < reduce && best === best; r++) {
        const v = x[(o * reduce + r) * inner + i];
        if (v !== v || (isMax ? v > best : v < best)) {
          best = v;
          at = r;
        }
      }
      y[o * inner + i] = at;
    }
  }
}
