import type { BinaryOp, CompareOp, UnaryOp } from "../backend";
import { type DType, promote } from "../dtype";
import { broadcastShapes, broadcastStrides, fmt } from "../shape";
import type { Tensor } from "../tensor";
import { checkInt32, fromArray } from "./create";
import { composite, run1 } from "./run";

const FLOAT_ONLY: ReadonlySet<UnaryOp> = new Set([
  "exp",
  "log",
  "log1p",
  "expm1",
  "sqrt",
  "rsqrt",
  "sigmoid",
  "tanh",
  "gelu",
]);

/** A number operand becomes a 0-d tensor of the other operand's dtype (float if it has a fraction). */
export function asTensor(x: Tensor | number, like: Tensor, op = "number operand"): Tensor {
  if (typeof x !== "number") return x;
  const dtype: DType = like.dtype === "float32" || !Number.isInteger(x) ? "float32" : "int32";
  // As PyTorch: a number that int32 cannot hold is an error, not a wrapped operand.
  if (dtype === "int32") checkInt32(x, op, "number operand");
  const arr = dtype === "float32" ? new Float32Array([x]) : new Int32Array([x]);
  return fromArray(arr, [], dtype, { backend: like.backend.name });
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return run1("cast", [x], x.shape, dtype, {});
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  return composite([x], () => {
    if (op === "logicalNot") return run1(op, [cast(x, "bool")], x.shape, "bool", {});
    if (x.dtype === "bool") x = cast(x, FLOAT_ONLY.has(op) ? "float32" : "int32");
    else if (FLOAT_ONLY.has(op)) x = cast(x, "float32");
    return run1(op, [x], x.shape, x.dtype, {});
  });
}

export const neg = (x: Tensor) => unary("neg", x);
export const abs = (x: Tensor) => unary("abs", x);
export const sign = (x: Tensor) => unary("sign", x);
export const exp = (x: Tensor) => unary("exp", x);
export const log = (x: Tensor) => unary("log", x);
/** log(1 + x), exact for small x. */
export const log1p = (x: Tensor) => unary("log1p", x);
/** exp(x) - 1, exact for small x. */
export const expm1 = (x: Tensor) => unary("expm1", x);
export const sqrt = (x: Tensor) => unary("sqrt", x);
export const rsqrt = (x: Tensor) => unary("rsqrt", x);
export const relu = (x: Tensor) => unary("relu", x);
export const sigmoid = (x: Tensor) => unary("sigmoid", x);
export const tanh = (x: Tensor) => unary("tanh", x);
/** GELU with the exact erf form (PyTorch's default `approximate='none'`). */
export const gelu = (x: Tensor) => unary("gelu", x);
export const logicalNot = (x: Tensor) => unary("logicalNot", x);
export const square = (x: Tensor) => mul(x, x);

/** Clamps to [min, max]; either bound may be omitted (null/undefined). */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  return composite([x], () => {
    const lo = min ?? Number.NEGATIVE_INFINITY;
    const hi = max ?? Number.POSITIVE_INFINITY;
    if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) {
      throw new Error(`clamp: expected min <= max, got min=${min}, max=${max}`);
    }
    if (x.dtype === "bool") x = cast(x, "int32");
    const integral = (v: number) => Number.isInteger(v) || !Number.isFinite(v);
    if (x.dtype === "int32" && !(integral(lo) && integral(hi))) x = cast(x, "float32");
    return run1("clamp", [x], x.shape, x.dtype, { min: lo, max: hi });
  });
}

function binary(op: BinaryOp | CompareOp, a: Tensor | number, b: Tensor | number, compare: boolean): Tensor {
  return composite([a, b], () => {
    if (typeof a === "number" && typeof b === "number") {
      throw new Error(`${op}: at least one operand must be a tensor`);
    }
    const ta = asTensor(a, b as Tensor, op);
    const tb = asTensor(b, ta, op);
    let dtype = promote(ta.dtype, tb.dtype);
    if (op === "div" || (op === "pow" && dtype === "int32")) dtype = "float32"; // true division, as PyTorch
    const shape = broadcastShapes(op, ta.shape, tb.shape);
    const ca = cast(ta, dtype);
    const cb = cast(tb, dtype);
    return run1(op, [ca, cb], shape, compare ? "bool" : dtype, {
      aStrides: broadcastStrides(ca.shape, shape),
      bStrides: broadcastStrides(cb.shape, shape),
    });
  });
}

export const add = (a: Tensor | number, b: Tensor | number) => binary("add", a, b, false);
export const sub = (a: Tensor | number, b: Tensor | number) => binary("sub", a, b, false);
export const mul = (a: Tensor | number, b: Tensor | number) => binary("mul", a, b, false);
export const div = (a: Tensor | number, b: Tensor | number) => binary("div", a, b, false);
export const pow = (a: Tensor | number, b: Tensor | number) => binary("pow", a, b, false);
export const maximum = (a: Tensor | number, b: Tensor | number) => binary("maximum", a, b, false);
export const minimum = (a: Tensor | number, b: Tensor | number) => binary("minimum", a, b, false);
export const eq = (a: Tensor | number, b: Tensor | number) => binary("eq", a, b, true);
export const ne = (a: Tensor | number, b: Tensor | number) => binary("ne", a, b, true);
export const lt = (a: Tensor | number, b: Tensor | number) => binary("lt", a, b, true);
export const le = (a: Tensor | number, b: Tensor | number) => binary("le", a, b, true);
export const gt = (a: Tensor | number, b: Tensor | number) => binary("gt", a, b, true);
export const ge = (a: Tensor | number, b: Tensor | number) => binary("ge", a, b, true);

/** Elementwise choice: `a` where `cond` is true, else `b`, all broadcast together. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  return composite([cond, a, b], () => {
    if (cond.dtype !== "bool") {
      throw new Error(`where: condition must have dtype bool, got ${cond.dtype} of shape ${fmt(cond.shape)}`);
    }
    const like = typeof a !== "number" ? a : typeof b !== "number" ? b : cond;
    const ta = asTensor(a, like, "where");
    const tb = asTensor(b, ta, "where");
    const dtype = promote(ta.dtype, tb.dtype);
    const ca = cast(ta, dtype);
    const cb = cast(tb, dtype);
    const shape = broadcastShapes("where", cond.shape, ca.shape, cb.shape);
    return run1("where", [cond, ca, cb], shape, dtype, {
      condStrides: broadcastStrides(cond.shape, shape),
      aStrides: broadcastStrides(ca.shape, shape),
      bStrides: broadcastStrides(cb.shape, shape),
    });
  });
}
