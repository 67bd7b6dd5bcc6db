import { type DType, promote } from "../dtype";
import { ENGINE } from "../engine";
import { broadcastShapes, broadcastStrides, contiguousStrides, fmt, sameShape } from "../shape";
import { BINARY_SPECS, type BinaryOp, type CompareOp, UNARY_SPECS, type UnaryOp } from "../specs";
import type { Tensor } from "../tensor";
import { checkInt32, fromArray } from "./create";
import { composite, run1 } from "./run";

/** A number operand becomes a 0-d tensor of the other operand's dtype (float if it has a fraction). */
const SCALAR: readonly number[] = Object.freeze([]);

export function asTensor(x: Tensor | number, like: Tensor, op = "number operand"): Tensor {
  if (typeof x !== "number") return x;
  const dtype: DType = like.dtype === "float32" || !Number.isInteger(x) ? "float32" : "int32";
  // As PyTorch: a number that int32 cannot hold is an error, not a wrapped operand.
  if (dtype === "int32") checkInt32(x, op, "number operand");
  const arr = dtype === "float32" ? new Float32Array(1) : new Int32Array(1);
  arr[0] = x;
  return fromArray(arr, SCALAR, dtype, { backend: like.backend.name });
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return run1("cast", [x], x.shape, dtype, {});
}

/** Runs one op of UNARY_SPECS, applying its dtype policy first. */
export function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  const policy = UNARY_SPECS[op].dtype;
  // No cast needed: no intermediate, so no composite scope.
  if (policy === "float" ? x.dtype === "float32" : policy === "numeric" && x.dtype !== "bool") {
    return run1(op, [x], x.shape, x.dtype, {});
  }
  return composite([x], () => {
    if (policy === "bool") return run1(op, [cast(x, "bool")], x.shape, "bool", {});
    if (policy === "float") x = cast(x, "float32");
    else if (x.dtype === "bool") x = cast(x, "int32");
    return run1(op, [x], x.shape, x.dtype, {});
  });
}

type UnaryFn = (x: Tensor) => Tensor;
// Declared types (not inferred) keep the specs, which call these in their gradients, free of a type cycle.
const unaryFn =
  (op: UnaryOp): UnaryFn =>
  (x: Tensor) =>
    unaryOp(op, x);

// One line per op of UNARY_SPECS (its doc line is there); a conformance test fails when one is missing.
/** Elementwise negation, -x. */
export const neg: UnaryFn = unaryFn("neg");
/** Elementwise absolute value. */
export const abs: UnaryFn = unaryFn("abs");
/** Elementwise sign: -1, 0 or 1. */
export const sign: UnaryFn = unaryFn("sign");
/** Elementwise e^x. */
export const exp: UnaryFn = unaryFn("exp");
/** Elementwise natural logarithm. */
export const log: UnaryFn = unaryFn("log");
/** log(1 + x), exact for small x. */
export const log1p: UnaryFn = unaryFn("log1p");
/** exp(x) - 1, exact for small x. */
export const expm1: UnaryFn = unaryFn("expm1");
/** Elementwise square root. */
export const sqrt: UnaryFn = unaryFn("sqrt");
/** Elementwise 1 / sqrt(x). */
export const rsqrt: UnaryFn = unaryFn("rsqrt");
/** max(x, 0). */
export const relu: UnaryFn = unaryFn("relu");
/** Logistic sigmoid. */
export const sigmoid: UnaryFn = unaryFn("sigmoid");
/** Hyperbolic tangent. */
export const tanh: UnaryFn = unaryFn("tanh");
/** GELU with the exact erf form (PyTorch's default `approximate='none'`). */
export const gelu: UnaryFn = unaryFn("gelu");
/** Elementwise arctangent, in radians. */
export const atan: UnaryFn = unaryFn("atan");
/** log(1 + e^x) with PyTorch's defaults (beta 1, threshold 20). */
export const softplus: UnaryFn = unaryFn("softplus");
/** Elementwise logical not (nonzero is true). */
export const logicalNot: UnaryFn = unaryFn("logicalNot");
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

const ZERO_STRIDES: (readonly number[])[] = [];

/** Frozen all-zero strides of a rank: a scalar operand broadcast to a tensor of that rank. */
function zeroStrides(rank: number): readonly number[] {
  for (let r = ZERO_STRIDES.length; r <= rank; r++)
    ZERO_STRIDES.push(Object.freeze(new Array<number>(r).fill(0)));
  return ZERO_STRIDES[rank];
}

function binary(op: BinaryOp | CompareOp, a: Tensor | number, b: Tensor | number, compare: boolean): Tensor {
  // The common case makes no intermediate (no number operand, no cast): skip the composite scope.
  if (typeof a !== "number" && typeof b !== "number") {
    const dtype =
      !compare && BINARY_SPECS[op as BinaryOp].dtype === "float" ? "float32" : promote(a.dtype, b.dtype);
    if (a.dtype === dtype && b.dtype === dtype) {
      if (a.shape === b.shape || sameShape(a.shape, b.shape)) {
        // One shape (the usual case): the output shares a's frozen shape and both operands its
        // strides, so the op allocates no shape or stride arrays.
        const st = contiguousStrides(a.shape);
        return run1(op, [a, b], a.shape, compare ? "bool" : dtype, { aStrides: st, bStrides: st });
      }
      const shape = broadcastShapes(op, a.shape, b.shape);
      return run1(op, [a, b], shape, compare ? "bool" : dtype, {
        aStrides: broadcastStrides(a.shape, shape),
        bStrides: broadcastStrides(b.shape, shape),
      });
    }
  }
  // A float32 tensor and a number, with no gradient to record (optimizer updates, running
  // statistics): the number becomes a scalar tensor for this one op and is disposed right after,
  // without the composite scope.
  const t = typeof a === "number" ? b : a;
  if (
    typeof t !== "number" &&
    (typeof a === "number") !== (typeof b === "number") &&
    t.dtype === "float32" &&
    !(ENGINE.gradEnabled && t.requiresGrad)
  ) {
    const s = asTensor(typeof a === "number" ? a : (b as number), t, op);
    const ts = contiguousStrides(t.shape);
    const zs = zeroStrides(t.rank);
    try {
      return typeof a === "number"
        ? run1(op, [s, t], t.shape, compare ? "bool" : "float32", { aStrides: zs, bStrides: ts })
        : run1(op, [t, s], t.shape, compare ? "bool" : "float32", { aStrides: ts, bStrides: zs });
    } finally {
      s.dispose();
    }
  }
  return composite([a, b], () => {
    if (typeof a === "number" && typeof b === "number") {
      throw new Error(`${op}: at least one operand must be a tensor`);
    }
    const ta = asTensor(a, b as Tensor, op);
    const tb = asTensor(b, ta, op);
    let dtype = promote(ta.dtype, tb.dtype);
    // The spec's "float" policy: integers are computed in float32 (true division, as PyTorch).
    if (!compare && BINARY_SPECS[op as BinaryOp].dtype === "float") dtype = "float32";
    const shape = broadcastShapes(op, ta.shape, tb.shape);
    const ca = cast(ta, dtype);
    const cb = cast(tb, dtype);
    return run1(op, [ca, cb], shape, compare ? "bool" : dtype, {
      aStrides: broadcastStrides(ca.shape, shape),
      bStrides: broadcastStrides(cb.shape, shape),
    });
  });
}

export const add = (a: Tensor | number, b: Tensor | number): Tensor => binary("add", a, b, false);
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binary("sub", a, b, false);
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binary("mul", a, b, false);
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binary("div", a, b, false);
export const pow = (a: Tensor | number, b: Tensor | number): Tensor => binary("pow", a, b, false);
export const maximum = (a: Tensor | number, b: Tensor | number): Tensor => binary("maximum", a, b, false);
export const minimum = (a: Tensor | number, b: Tensor | number): Tensor => binary("minimum", a, b, false);
export const eq = (a: Tensor | number, b: Tensor | number): Tensor => binary("eq", a, b, true);
export const ne = (a: Tensor | number, b: Tensor | number): Tensor => binary("ne", a, b, true);
export const lt = (a: Tensor | number, b: Tensor | number): Tensor => binary("lt", a, b, true);
export const le = (a: Tensor | number, b: Tensor | number): Tensor => binary("le", a, b, true);
export const gt = (a: Tensor | number, b: Tensor | number): Tensor => binary("gt", a, b, true);
export const ge = (a: Tensor | number, b: Tensor | number): Tensor => binary("ge", a, b, true);

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
