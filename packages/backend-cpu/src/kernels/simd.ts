import type { ReduceAttrs, TensorInfo, UnaryOp } from "@minibatch/tensor";
import { type WasmRuntime, wasmRuntime } from "../wasm/runtime";
import { data, finish, pointers, takePointers } from "./fast";

// Float32 unary ops, sums, maxima and minima in WebAssembly SIMD (asm/elementwise.ts), with the
// TypeScript loops as fallback. exp, log, log1p, expm1, sigmoid, tanh and softplus use float32
// polynomial approximations within 2.5 ulp of the float64 reference, gelu within 6.5 ulp (the
// TypeScript loops round a float64 result, within 0.5 ulp); the other ops give the TypeScript
// loops' values exactly, and special values follow UNARY_CPU for every op. test/simd.test.ts
// checks all of it.

/** The ops asm/elementwise.ts computes, with its op codes (the constants above `apply` there). */
export const UNARY_SIMD: { readonly [K in UnaryOp]?: number } = {
  neg: 0,
  abs: 1,
  sign: 2,
  exp: 3,
  log: 4,
  log1p: 5,
  expm1: 6,
  sqrt: 7,
  rsqrt: 8,
  relu: 9,
  sigmoid: 10,
  tanh: 11,
  softplus: 12,
  gelu: 13,
};

/**
 * Below this many values a tensor is an ordinary array (RESIDENT_MIN_SIZE), and the TypeScript
 * loop is as fast as the call.
 */
const MIN_SIZE = 64;
/** Operands outside wasm memory (made before the module loaded) are copied in only from this size. */
const COPY_MIN_SIZE = 4096;

const warmed = new WeakSet<WasmRuntime>();

/**
 * A few small calls of each kernel on first use, so that the first large call already runs V8's
 * optimized code rather than its baseline compile (see WasmRuntime.warmUp).
 */
function warm(w: WasmRuntime): void {
  if (warmed.has(w)) return;
  warmed.add(w);
  const n = 64;
  const p = pointers(w, () => [w.temp(n * 4), w.temp(n * 4)]);
  if (!p) return;
  const [a, b] = p;
  const v = w.view();
  for (let i = 0; i < n; i++) v[(a >> 2) + i] = (i - 32) / 8;
  const codes = Object.values(UNARY_SIMD) as number[];
  for (let k = 0; k < 16; k++) {
    for (const c of codes) w.exports.unaryF32(c, a, b, n);
    w.exports.sumF32(a, b, 4, 16, 1);
    w.exports.sumF32(a, b, 1, 4, 16);
    w.exports.extremeF32(a, b, 4, 16, 1, k & 1);
    w.exports.extremeF32(a, b, 1, 4, 16, k & 1);
  }
  w.release();
}

/**
 * The wasm runtime when a call reading x (float32, `x.size` values) and writing y (float32) is
 * worth it: x is in wasm memory or large enough to copy in. A small output outside wasm memory (a
 * sum's) is copied back.
 */
function runtimeFor(x: TensorInfo, y: TensorInfo): WasmRuntime | null {
  if (x.size < MIN_SIZE || x.dtype !== "float32" || y.dtype !== "float32") return null;
  if (data(x).ptr < 0 && x.size < COPY_MIN_SIZE) return null;
  const w = wasmRuntime();
  if (w) warm(w);
  return w;
}

/** y = op(x) for float32 x and y in wasm SIMD; false when it did not run (the caller loops). */
export function fastUnaryF32(op: UnaryOp, x: TensorInfo, y: TensorInfo): boolean {
  const code = UNARY_SIMD[op];
  if (code === undefined || x.size !== y.size) return false;
  const w = runtimeFor(x, y);
  if (!w) return false;
  const p = takePointers(w, 0, [x], [y]);
  if (!p) return false;
  w.exports.unaryF32(code, p[0], p[1], y.size);
  finish(w, [y], p, 1);
  return true;
}

/** Float32 sum over [outer, reduce, inner] in wasm SIMD with float64 accumulation; false when it did not run. */
export function fastSumF32(x: TensorInfo, y: TensorInfo, { outer, reduce, inner }: ReduceAttrs): boolean {
  if (x.size !== outer * reduce * inner || y.size !== outer * inner) return false;
  const w = runtimeFor(x, y);
  if (!w) return false;
  const p = takePointers(w, 0, [x], [y]);
  if (!p) return false;
  w.exports.sumF32(p[0], p[1], outer, reduce, inner);
  finish(w, [y], p, 1);
  return true;
}

/** Float32 max or min over [outer, reduce, inner] in wasm SIMD; false when it did not run. */
export function fastExtremeF32(x: TensorInfo, y: TensorInfo, at: ReduceAttrs, isMax: boolean): boolean {
  const { outer, reduce, inner } = at;
  if (reduce < 1 || x.size !== outer * reduce * inner || y.size !== outer * inner) return false;
  const w = runtimeFor(x, y);
  if (!w) return false;
  const p = takePointers(w, 0, [x], [y]);
  if (!p) return false;
  w.exports.extremeF32(p[0], p[1], outer, reduce, inner, isMax ? 1 : 0);
  finish(w, [y], p, 1);
  return true;
}
