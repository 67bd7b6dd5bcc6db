import { noGrad } from "../autograd";
import type { ReduceOp } from "../backend";
import { fmt, normalizeAxes, normalizeAxis, sizeOf } from "../shape";
import type { AxisArg, Tensor } from "../tensor";
import { abs, add, cast, div, exp, log, lt, mul, sqrt, sub, where } from "./elementwise";
import { composite, run1 } from "./run";
import { permute, reshape } from "./shape_ops";

/** Reduces over `axes`: contiguous axes become [outer, reduce, inner]; others are moved last first. */
function reduce(op: ReduceOp, x: Tensor, axis: AxisArg | undefined, keepDims: boolean): Tensor {
  return composite([x], () => {
    const axes = normalizeAxes(axis, x.rank, op);
    const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const outShape = keepDims ? keptShape : x.shape.filter((_, i) => !axes.includes(i));
    const arg = op === "argmax" || op === "argmin";
    if ((op === "max" || op === "min" || arg) && axes.some((a) => x.shape[a] === 0)) {
      throw new Error(`${op}: cannot reduce over an empty axis of shape ${fmt(x.shape)}`);
    }
    let input = x;
    if (x.dtype === "bool") input = cast(x, "int32");
    const contiguous = axes.length === 0 || axes[axes.length - 1] - axes[0] === axes.length - 1;
    if (!contiguous) {
      const rest = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
      input = permute(input, [...rest, ...axes]);
      const reduceSize = sizeOf(axes.map((a) => x.shape[a]));
      const outer = sizeOf(rest.map((a) => x.shape[a]));
      return run1(op, [input], outShape, arg ? "int32" : input.dtype, {
        outer,
        reduce: reduceSize,
        inner: 1,
      });
    }
    const first = axes.length ? axes[0] : x.rank;
    const last = axes.length ? axes[axes.length - 1] : x.rank - 1;
    const outer = sizeOf(x.shape.slice(0, first));
    const reduceSize = sizeOf(x.shape.slice(first, last + 1));
    const inner = sizeOf(x.shape.slice(last + 1));
    return run1(op, [input], outShape, arg ? "int32" : input.dtype, { outer, reduce: reduceSize, inner });
  });
}

export const sum = (x: Tensor, axis?: AxisArg, keepDims = false) => reduce("sum", x, axis, keepDims);
export const max = (x: Tensor, axis?: AxisArg, keepDims = false) => reduce("max", x, axis, keepDims);
export const min = (x: Tensor, axis?: AxisArg, keepDims = false) => reduce("min", x, axis, keepDims);

/** Index of the largest value along `axis` (over the flattened tensor when omitted). */
export function argmax(x: Tensor, axis?: number, keepDims = false): Tensor {
  return composite([x], () => {
    if (axis === undefined) return reduce("argmax", reshape(x, [x.size]), 0, false);
    return reduce("argmax", x, normalizeAxis(axis, x.rank, "argmax"), keepDims);
  });
}
export function argmin(x: Tensor, axis?: number, keepDims = false): Tensor {
  return composite([x], () => {
    if (axis === undefined) return reduce("argmin", reshape(x, [x.size]), 0, false);
    return reduce("argmin", x, normalizeAxis(axis, x.rank, "argmin"), keepDims);
  });
}

function countOf(x: Tensor, axis: AxisArg | undefined, op: string): number {
  return sizeOf(normalizeAxes(axis, x.rank, op).map((a) => x.shape[a]));
}

export function mean(x: Tensor, axis?: AxisArg, keepDims = false): Tensor {
  return composite([x], () => {
    const n = countOf(x, axis, "mean");
    return div(sum(cast(x, "float32"), axis, keepDims), n);
  });
}

/** Variance with Bessel's `correction` (1 = unbiased, PyTorch's default; 0 = biased). */
export function variance(
  x: Tensor,
  axis?: AxisArg,
  opts: { correction?: number; keepDims?: boolean } = {},
): Tensor {
  return composite([x], () => {
    const correction = opts.correction ?? 1;
    const n = countOf(x, axis, "var");
    const xf = cast(x, "float32");
    const m = mean(xf, axis, true);
    const d = sub(xf, m);
    return div(sum(mul(d, d), axis, opts.keepDims ?? false), Math.max(0, n - correction));
  });
}

export function std(
  x: Tensor,
  axis?: AxisArg,
  opts: { correction?: number; keepDims?: boolean } = {},
): Tensor {
  return composite([x], () => {
    return sqrt(variance(x, axis, opts));
  });
}

/** log(sum(exp(x))) computed stably by shifting with the (constant) maximum. */
export function logSumExp(x: Tensor, axis?: AxisArg, keepDims = false): Tensor {
  return composite([x], () => {
    const [shifted, m] = shiftByMax(x, axis);
    const out = add(log(sum(exp(shifted), axis, true)), m);
    if (keepDims) return out;
    const axes = normalizeAxes(axis, x.rank, "logSumExp");
    return reshape(
      out,
      x.shape.filter((_, i) => !axes.includes(i)),
    );
  });
}

/**
 * x - max(x) with the maximum treated as a constant (it cancels out of every gradient). A slice
 * that is all -Infinity is shifted by 0 so that it gives -Infinity rather than NaN.
 */
function shiftByMax(x: Tensor, axis: AxisArg | undefined): [Tensor, Tensor] {
  const m = noGrad(() => {
    const raw = max(x, axis, true);
    return where(finiteMask(raw), raw, 0);
  });
  return [sub(x, m), m];
}

function finiteMask(t: Tensor): Tensor {
  return lt(abs(t), Number.POSITIVE_INFINITY);
}

/** (x - m) - log(sum(exp(x - m))): subtracting in the shifted frame keeps float32 precision for large x. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return composite([x], () => {
    const [shifted] = shiftByMax(x, axis);
    return sub(shifted, log(sum(exp(shifted), axis, true)));
  });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return composite([x], () => {
    const [shifted] = shiftByMax(x, axis);
    const e = exp(shifted);
    return div(e, sum(e, axis, true));
  });
}
