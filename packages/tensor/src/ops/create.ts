import type { Backend } from "../backend";
import { traceRedraw, traceUpload, tracing } from "../compile/trace";
import { allocArray, type DType, dtypeOfArray, isDType, type TypedArray } from "../dtype";
import { ENGINE } from "../engine";
import { checkOptionKeys } from "../options";
import { defaultGenerator, type Generator } from "../random";
import { assertShape, fmt, type Shape, sizeOf } from "../shape";
import { Tensor } from "../tensor";

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  /** Backend name; defaults to the active backend. */
  backend?: string;
}
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

export type NestedArray = number | boolean | readonly NestedArray[];

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Checks that `v` can be stored as int32 exactly. Typed-array stores would wrap 3e9 to a negative
 * number, turn NaN and Infinity into 0 and truncate 1.5: each of those is a wrong value that looks
 * right, so they are errors (PyTorch raises for overflow and NaN too).
 */
export function checkInt32(v: number, op: string, where: string): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
    const why =
      typeof v !== "number"
        ? `is a ${typeof v}`
        : Number.isNaN(v) || !Number.isFinite(v)
          ? "is not finite"
          : !Number.isInteger(v)
            ? "is not an integer"
            : `is outside int32's range [${INT32_MIN}, ${INT32_MAX}]`;
    throw new Error(`${op}: ${where} ${String(v)} ${why}, as dtype int32 requires`);
  }
}

const CREATE_KEYS = ["dtype", "requiresGrad", "backend"] as const;
const RANDOM_KEYS = [...CREATE_KEYS, "generator"] as const;

function checkDType(dtype: unknown, op: string): void {
  if (dtype !== undefined && !isDType(dtype)) {
    throw new Error(`${op}: dtype must be 'float32', 'int32' or 'bool', got ${String(dtype)}`);
  }
}

function backendFor(name: string | undefined): Backend {
  if (!name) return ENGINE.backend();
  const b = ENGINE.getBackendByName(name);
  if (!b) throw new Error(`backend '${name}' is not initialized; call await setBackend('${name}') first`);
  return b;
}

/** Makes a tensor from a flat typed array that already has the right dtype (no copy is kept). */
export function fromArray(values: TypedArray, shape: Shape, dtype: DType, opts: CreateOptions = {}): Tensor {
  assertShape(shape, "tensor");
  if (values.length !== sizeOf(shape)) {
    throw new Error(
      `tensor: ${values.length} values cannot fill shape ${fmt(shape)} (${sizeOf(shape)} elements)`,
    );
  }
  const b = backendFor(opts.backend);
  const id = ENGINE.alloc(b, shape, dtype);
  b.write(id, values);
  const t = new Tensor(id, shape, dtype, b);
  if (tracing()) traceUpload(t, values);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

function inferShape(v: NestedArray, op: string): number[] {
  const shape: number[] = [];
  let cur: NestedArray = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray;
  }
  if (cur === undefined && shape.length && shape[shape.length - 1] !== 0) {
    throw new Error(`${op}: could not infer a shape from the nested array`);
  }
  return shape;
}

function flattenInto(
  v: NestedArray,
  shape: number[],
  dim: number,
  out: number[],
  op: string,
  path: string,
): void {
  if (dim === shape.length) {
    if (Array.isArray(v))
      throw new Error(`${op}: ragged nested array: ${path} is an array, expected a number`);
    out.push(typeof v === "boolean" ? (v ? 1 : 0) : (v as number));
    return;
  }
  if (!Array.isArray(v) || v.length !== shape[dim]) {
    throw new Error(
      `${op}: ragged nested array: ${path || "value"} has ${Array.isArray(v) ? `length ${v.length}` : "a scalar"}, expected length ${shape[dim]} (shape ${fmt(shape)})`,
    );
  }
  for (let i = 0; i < v.length; i++) flattenInto(v[i], shape, dim + 1, out, op, `${path}[${i}]`);
}

/**
 * Creates a tensor from nested arrays, a typed array or a number. Numbers default to float32
 * (as in TF.js; PyTorch would pick int64 for integers), booleans to bool, Int32Array to int32.
 */
export function tensor(
  values: NestedArray | ArrayLike<number>,
  shape?: readonly number[] | CreateOptions,
  opts?: CreateOptions,
): Tensor {
  if (shape && !Array.isArray(shape)) {
    opts = shape as CreateOptions;
    shape = undefined;
  }
  opts ??= {};
  checkOptionKeys("tensor", opts, CREATE_KEYS);
  checkDType(opts.dtype, "tensor");
  let flat: ArrayLike<number>;
  let inferred: number[];
  let dtype = opts.dtype;
  if (ArrayBuffer.isView(values)) {
    flat = values as unknown as ArrayLike<number>;
    inferred = [flat.length];
    dtype ??= dtypeOfArray(values as unknown as ArrayLike<number>) ?? "float32"; // integer arrays -> int32, as TF.js
  } else if (typeof values === "number" || typeof values === "boolean") {
    flat = [typeof values === "boolean" ? (values ? 1 : 0) : values];
    inferred = [];
    dtype ??= typeof values === "boolean" ? "bool" : "float32";
  } else if (Array.isArray(values)) {
    inferred = inferShape(values as NestedArray, "tensor");
    const out: number[] = [];
    flattenInto(values as NestedArray, inferred, 0, out, "tensor", "");
    flat = out;
    let first: unknown = values;
    while (Array.isArray(first)) first = first[0];
    dtype ??= typeof first === "boolean" ? "bool" : "float32";
  } else {
    throw new Error(`tensor: expected a number, nested array or typed array, got ${typeof values}`);
  }
  const s = (shape as readonly number[] | undefined) ?? inferred;
  if (sizeOf(s) !== flat.length) {
    throw new Error(`tensor: ${flat.length} values cannot fill shape ${fmt(s)} (${sizeOf(s)} elements)`);
  }
  // A typed array that already holds this dtype's values goes to the backend in one bulk copy
  // (the backend's write copies it; no element loop, nothing to check).
  if (
    (dtype === "float32" && flat instanceof Float32Array) ||
    (dtype === "int32" && flat instanceof Int32Array)
  ) {
    return fromArray(flat, s, dtype, opts);
  }
  const arr = allocArray(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (dtype === "int32") checkInt32(v, "tensor", `value at index ${i}:`);
    else if (typeof v !== "number" && typeof v !== "boolean") {
      throw new Error(`tensor: value at index ${i} is a ${typeof v}, expected a number or boolean`);
    }
    // NaN is true as a bool, as in PyTorch (it is not equal to zero).
    arr[i] = dtype === "bool" ? ((v as unknown) !== 0 && (v as unknown) !== false ? 1 : 0) : v;
  }
  return fromArray(arr, s, dtype, opts);
}

export function scalar(value: number | boolean, opts: CreateOptions = {}): Tensor {
  return tensor(value, [], opts);
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  assertShape(shape, "full");
  checkOptionKeys("full", opts, CREATE_KEYS);
  checkDType(opts.dtype, "full");
  const dtype = opts.dtype ?? "float32";
  if (typeof value !== "number" && typeof value !== "boolean") {
    throw new Error(`full: fill value must be a number or boolean, got ${typeof value}`);
  }
  if (dtype === "int32") checkInt32(value, "full", "fill value");
  const arr = allocArray(dtype, sizeOf(shape));
  if (value !== 0) arr.fill(dtype === "bool" ? ((value as unknown) !== false ? 1 : 0) : value);
  return fromArray(arr, shape, dtype, opts);
}
export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 1, opts);

function likeOpts(t: Tensor, opts: CreateOptions): CreateOptions {
  return { dtype: t.dtype, backend: t.backend.name, ...opts };
}
export const zerosLike = (t: Tensor, opts: CreateOptions = {}): Tensor => full(t.shape, 0, likeOpts(t, opts));
export const onesLike = (t: Tensor, opts: CreateOptions = {}): Tensor => full(t.shape, 1, likeOpts(t, opts));
export const fullLike = (t: Tensor, v: number, opts: CreateOptions = {}): Tensor =>
  full(t.shape, v, likeOpts(t, opts));

/** Values from start (inclusive) to end (exclusive) by step; arange(n) counts 0..n-1. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new Error("arange: step must not be zero");
  for (const [name, v] of [
    ["start", start],
    ["end", end],
    ["step", step],
  ] as const) {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new Error(`arange: ${name} must be a finite number, got ${String(v)}`);
  }
  checkOptionKeys("arange", opts, CREATE_KEYS);
  checkDType(opts.dtype, "arange");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? (Number.isInteger(start) && Number.isInteger(step) ? "int32" : "float32");
  if (dtype === "int32" && n > 0) {
    checkInt32(start, "arange", "start");
    checkInt32(start + (n - 1) * step, "arange", "last value");
  }
  const arr = allocArray(dtype, n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return fromArray(arr, [n], dtype, opts);
}

export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  checkOptionKeys("linspace", opts, CREATE_KEYS);
  if (!Number.isInteger(steps) || steps < 0)
    throw new Error(`linspace: steps must be a non-negative integer, got ${steps}`);
  const arr = new Float32Array(steps);
  const d = steps > 1 ? (end - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) arr[i] = i === steps - 1 && steps > 1 ? end : start + i * d;
  return fromArray(arr, [steps], "float32", { ...opts, dtype: "float32" });
}

export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  assertShape([n, m], "eye");
  checkOptionKeys("eye", opts, CREATE_KEYS);
  checkDType(opts.dtype, "eye");
  const dtype = opts.dtype ?? "float32";
  const arr = allocArray(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return fromArray(arr, [n, m], dtype, opts);
}

/** Uniform in [0, 1) (or [low, high) with `uniform`). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return uniform(shape, 0, 1, opts);
}
export function uniform(
  shape: readonly number[],
  low: number,
  high: number,
  opts: RandomOptions = {},
): Tensor {
  assertShape(shape, "uniform");
  checkOptionKeys("uniform", opts, RANDOM_KEYS);
  if (!Number.isFinite(low) || !Number.isFinite(high) || !(low <= high))
    throw new Error(`uniform: expected finite low <= high, got low=${low}, high=${high}`);
  const g = opts.generator ?? defaultGenerator;
  return randomTensor(shape, "float32", opts, () => {
    const arr = new Float32Array(sizeOf(shape));
    for (let i = 0; i < arr.length; i++) arr[i] = low + (high - low) * g.random();
    return arr;
  });
}
/** Standard normal, or N(mean, std^2) with `normal`. */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return normal(shape, 0, 1, opts);
}
export function normal(
  shape: readonly number[],
  mean: number,
  std: number,
  opts: RandomOptions = {},
): Tensor {
  assertShape(shape, "normal");
  checkOptionKeys("normal", opts, RANDOM_KEYS);
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0)
    throw new Error(`normal: expected a finite mean and std >= 0, got mean=${mean}, std=${std}`);
  const g = opts.generator ?? defaultGenerator;
  return randomTensor(shape, "float32", opts, () => {
    const arr = new Float32Array(sizeOf(shape));
    for (let i = 0; i < arr.length; i++) arr[i] = mean + std * g.normal();
    return arr;
  });
}
/** Integers uniform in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  opts: RandomOptions = {},
): Tensor {
  // PyTorch takes integer bounds only (randint(0.5, 1.5) is a TypeError there); flooring them
  // here would give values below `low`, so fractional bounds are an error.
  if (!Number.isInteger(low) || !Number.isInteger(high)) {
    throw new Error(`randint: low and high must be integers, got low=${low}, high=${high}`);
  }
  checkInt32(low, "randint", "low");
  checkInt32(high - 1, "randint", "high - 1");
  if (!(high > low)) throw new Error(`randint: expected low < high, got low=${low}, high=${high}`);
  assertShape(shape, "randint");
  checkOptionKeys("randint", opts, RANDOM_KEYS);
  const g = opts.generator ?? defaultGenerator;
  return randomTensor(shape, "int32", opts, () => {
    const arr = new Int32Array(sizeOf(shape));
    for (let i = 0; i < arr.length; i++) arr[i] = g.randint(low, high);
    return arr;
  });
}
/** A random permutation of 0..n-1. */
export function randperm(n: number, opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0 || n > INT32_MAX)
    throw new Error(`randperm: n must be a non-negative int32 integer, got ${n}`);
  checkOptionKeys("randperm", opts, RANDOM_KEYS);
  const g = opts.generator ?? defaultGenerator;
  return randomTensor([n], "int32", opts, () => g.permutation(n));
}

/**
 * A tensor whose values `draw()` makes on the host: a dropout mask or noise drawn from a
 * generator. Inside a compiled step (`compile`) every replay calls `draw` again, so each call gets
 * fresh values, as in eager mode; a plain `tensor(values)` there would be a constant of the program.
 * `draw` must return `sizeOf(shape)` values of the dtype (float32 by default) every time.
 */
export function fromDraw(
  draw: () => TypedArray,
  shape: readonly number[],
  opts: { dtype?: DType; backend?: string } = {},
): Tensor {
  checkOptionKeys("fromDraw", opts, ["dtype", "backend"]);
  const dtype = opts.dtype ?? "float32";
  const t = fromArray(draw(), shape, dtype, { backend: opts.backend });
  if (tracing()) traceRedraw(t, draw);
  return t;
}

/**
 * A 0-d float32 tensor holding `value()`. Inside a compiled step (`compile`) the value is computed
 * again on every replay, so a number that changes from step to step (an optimizer's bias
 * correction, computed from its step count) is not baked into the program. `value` must depend
 * only on JavaScript state that the step keeps current on replay (see `traceEffect`).
 */
export function dynamicScalar(value: () => number, opts: CreateOptions = {}): Tensor {
  checkOptionKeys("dynamicScalar", opts, ["backend"]);
  return fromDraw(() => new Float32Array([value()]), [], { backend: opts.backend });
}

/** A tensor of random values; inside a compiled step, each replay draws them again. */
function randomTensor(
  shape: readonly number[],
  dtype: DType,
  opts: RandomOptions,
  draw: () => TypedArray,
): Tensor {
  const t = fromDraw(draw, shape, { dtype, backend: opts.backend });
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}
