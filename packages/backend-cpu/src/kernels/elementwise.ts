import {
  assertNever,
  type BinaryOp,
  type CompareOp,
  type Kernel,
  type TypedArray,
  type UnaryOp,
} from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";
import { fastBinaryF32 } from "./fast";
import { forEachRow } from "./iterate";
import { erf } from "./math";
import { fastUnaryF32 } from "./simd";

/**
 * How the CPU computes each op of UNARY_SPECS on one value: exhaustive, so a new op in the spec
 * table fails to compile here until it has an entry. The hot float32 ops also have their own
 * loops below (no per-element call).
 */
export const UNARY_CPU: { [K in UnaryOp]: (v: number) => number } = {
  neg: (v) => -v,
  abs: Math.abs,
  sign: (v) => (v > 0 ? 1 : v < 0 ? -1 : v), // keeps NaN and signed zero
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  expm1: Math.expm1,
  sqrt: Math.sqrt,
  rsqrt: (v) => 1 / Math.sqrt(v),
  relu: (v) => (v > 0 ? v : v === v ? 0 : v),
  // two forms so that exp never overflows
  sigmoid: (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))),
  tanh: Math.tanh,
  gelu: (v) => 0.5 * v * (1 + erf(v * Math.SQRT1_2)),
  atan: Math.atan,
  // PyTorch's threshold 20; below it log1p(e^v) + max(v, 0) form never overflows
  softplus: (v) => (v > 20 ? v : Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))),
  logicalNot: (v) => (v ? 0 : 1),
};

function unaryLoop(op: UnaryOp, x: TypedArray, y: TypedArray): void {
  const f = UNARY_CPU[op];
  const n = x.length;
  for (let i = 0; i < n; i++) y[i] = f(x[i]);
}

/**
 * The float32 -> float32 loops of the common unary ops. unaryLoop sees float32, int32 and bool
 * arrays, so V8 compiles its element accesses polymorphic (several times slower per element);
 * this copy only ever sees Float32Array and stays monomorphic. Returns false for other ops.
 */
function unaryLoopF32(op: UnaryOp, x: Float32Array, y: Float32Array): boolean {
  const n = x.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) y[i] = -x[i];
      return true;
    case "exp":
      for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]);
      return true;
    case "log":
      for (let i = 0; i < n; i++) y[i] = Math.log(x[i]);
      return true;
    case "sqrt":
      for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i]);
      return true;
    case "rsqrt":
      for (let i = 0; i < n; i++) y[i] = 1 / Math.sqrt(x[i]);
      return true;
    case "relu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        y[i] = v > 0 ? v : v === v ? 0 : v;
      }
      return true;
    case "sigmoid":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        // two forms so that exp never overflows (as in unaryLoop)
        if (v >= 0) y[i] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          y[i] = e / (1 + e);
        }
      }
      return true;
    case "tanh":
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
      return true;
    default:
      return false;
  }
}

export const unaryKernel =
  (op: UnaryOp): Kernel<UnaryOp, CpuBackend> =>
  (_b, [x], [y]) => {
    if (fastUnaryF32(op, x, y)) return;
    const xs = buf(x);
    const ys = buf(y);
    if (xs instanceof Float32Array && ys instanceof Float32Array && unaryLoopF32(op, xs, ys)) return;
    unaryLoop(op, xs, ys);
  };

export const clampKernel: Kernel<"clamp", CpuBackend> = (_b, [x], [y], { min, max }) => {
  const xs = buf(x);
  const ys = buf(y);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    ys[i] = v < min ? min : Math.min(v, max);
  }
};

export const castKernel: Kernel<"cast", CpuBackend> = (_b, [x], [y]) => {
  const xs = buf(x);
  const ys = buf(y);
  if (y.dtype === "bool") {
    for (let i = 0; i < xs.length; i++) ys[i] = xs[i] !== 0 ? 1 : 0;
  } else if (y.dtype === "int32") {
    for (let i = 0; i < xs.length; i++) ys[i] = Math.trunc(xs[i]) | 0; // NaN -> 0, toward zero
  } else {
    ys.set(xs);
  }
};

function binaryRow(
  op: BinaryOp | CompareOp,
  a: TypedArray,
  b: TypedArray,
  y: TypedArray,
  o: number,
  ao: number,
  bo: number,
  n: number,
  as: number,
  bs: number,
): void {
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] + b[bo + i * bs];
      break;
    case "sub":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] - b[bo + i * bs];
      break;
    case "mul":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] * b[bo + i * bs];
      break;
    case "div":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] / b[bo + i * bs];
      break;
    case "pow":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] ** b[bo + i * bs];
      break;
    case "maximum":
      for (let i = 0; i < n; i++) {
        const p = a[ao + i * as];
        const q = b[bo + i * bs];
        y[o + i] = p > q || p !== p ? p : q; // NaN propagates, as torch.maximum
      }
      break;
    case "minimum":
      for (let i = 0; i < n; i++) {
        const p = a[ao + i * as];
        const q = b[bo + i * bs];
        y[o + i] = p < q || p !== p ? p : q;
      }
      break;
    case "eq":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] === b[bo + i * bs] ? 1 : 0;
      break;
    case "ne":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] !== b[bo + i * bs] ? 1 : 0;
      break;
    case "lt":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] < b[bo + i * bs] ? 1 : 0;
      break;
    case "le":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] <= b[bo + i * bs] ? 1 : 0;
      break;
    case "gt":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] > b[bo + i * bs] ? 1 : 0;
      break;
    case "ge":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] >= b[bo + i * bs] ? 1 : 0;
      break;
    default:
      assertNever(op);
  }
}

/**
 * binaryRow for float32 operands and the arithmetic ops only: monomorphic element accesses (see
 * unaryLoopF32), and the two dominant shapes of a training step, equal shapes and a scalar
 * operand (stride 0), get loops without the stride multiply. Returns false for other ops.
 */
function binaryRowF32(
  op: BinaryOp | CompareOp,
  a: Float32Array,
  b: Float32Array,
  y: Float32Array,
  o: number,
  ao: number,
  bo: number,
  n: number,
  as: number,
  bs: number,
): boolean {
  if (as === 1 && bs === 1) {
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] + b[bo + i];
        return true;
      case "sub":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] - b[bo + i];
        return true;
      case "mul":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] * b[bo + i];
        return true;
      case "div":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] / b[bo + i];
        return true;
    }
  } else if (as === 1 && bs === 0) {
    const q = b[bo];
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] + q;
        return true;
      case "sub":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] - q;
        return true;
      case "mul":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] * q;
        return true;
      case "div":
        for (let i = 0; i < n; i++) y[o + i] = a[ao + i] / q;
        return true;
    }
  } else if (as === 0 && bs === 1) {
    const p = a[ao];
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) y[o + i] = p + b[bo + i];
        return true;
      case "sub":
        for (let i = 0; i < n; i++) y[o + i] = p - b[bo + i];
        return true;
      case "mul":
        for (let i = 0; i < n; i++) y[o + i] = p * b[bo + i];
        return true;
      case "div":
        for (let i = 0; i < n; i++) y[o + i] = p / b[bo + i];
        return true;
    }
  }
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] + b[bo + i * bs];
      return true;
    case "sub":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] - b[bo + i * bs];
      return true;
    case "mul":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] * b[bo + i * bs];
      return true;
    case "div":
      for (let i = 0; i < n; i++) y[o + i] = a[ao + i * as] / b[bo + i * bs];
      return true;
    default:
      return false;
  }
}

const F32_ARITHMETIC = new Set<string>(["add", "sub", "mul", "div"]);

export const binaryKernel =
  <K extends BinaryOp | CompareOp>(op: K): Kernel<K, CpuBackend> =>
  (_b, [a, b], [y], { aStrides, bStrides }) => {
    const av = buf(a);
    const bv = buf(b);
    const yv = buf(y);
    if (y.dtype === "int32" && op === "div") throw new Error("internal: integer div reached the kernel");
    if (
      F32_ARITHMETIC.has(op) &&
      av instanceof Float32Array &&
      bv instanceof Float32Array &&
      yv instanceof Float32Array
    ) {
      if (fastBinaryF32(op, a, b, y)) return;
      // Operands of the output's size are laid out as it is (CPU buffers are contiguous): one row.
      if (a.size === y.size && b.size === y.size) {
        binaryRowF32(op, av, bv, yv, 0, 0, 0, y.size, 1, 1);
        return;
      }
      forEachRow(y.shape, [aStrides, bStrides], (o, off, n, inner) =>
        binaryRowF32(op, av, bv, yv, o, off[0], off[1], n, inner[0], inner[1]),
      );
      return;
    }
    forEachRow(y.shape, [aStrides, bStrides], (o, off, n, inner) =>
      binaryRow(op, av, bv, yv, o, off[0], off[1], n, inner[0], inner[1]),
    );
  };
export const compareKernel = binaryKernel;

export const whereKernel: Kernel<"where", CpuBackend> = (_b, [c, a, b], [y], attrs) => {
  const cv = buf(c);
  const av = buf(a);
  const bv = buf(b);
  const yv = buf(y);
  forEachRow(y.shape, [attrs.condStrides, attrs.aStrides, attrs.bStrides], (o, off, n, inner) => {
    const [co, ao, bo] = off;
    const [cs, as, bs] = inner;
    for (let i = 0; i < n; i++) yv[o + i] = cv[co + i * cs] ? av[ao + i * as] : bv[bo + i * bs];
  });
};
