import {
  assertNever,
  type BatchNormAttrs,
  BINARY_OPS,
  type BinaryOp,
  COMPARE_OPS,
  type CompareOp,
  type Conv2dAttrs,
  type DType,
  type FusedArg,
  type FusedExpr,
  type FusedKernel,
  type FusibleOp,
  type Kernel,
  type KernelTable,
  kernelsFor,
  mergeAxes,
  type Pool2dAttrs,
  type ReduceOp,
  type TensorInfo,
  UNARY_OPS,
  type UnaryOp,
} from "@minibatch/tensor";
import type { GPUData, WebGPUBackend } from "./backend";
import { INDEX_CHECK_SRC } from "./index-checks";
import { argsortKernel, cumsumKernel } from "./sort";
import { bindings, elementwiseMain, MATH, PRELUDE, wgslType } from "./wgsl";

const data = (t: TensorInfo) => t.dataId as GPUData;

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
/** A float parameter, passed bit-for-bit through the i32 parameter block. */
function f32bits(v: number): number {
  F32[0] = v;
  return I32[0];
}

/** A grid of `groups` workgroups, folded into 2-d past the per-dimension limit. */
function grid(b: WebGPUBackend, groups: number): [number, number] {
  const max = b.maxGroups;
  return groups <= max ? [groups, 1] : [max, Math.ceil(groups / max)];
}

export function runElementwise(
  b: WebGPUBackend,
  key: string,
  source: () => string,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  params: number[],
  total: number,
): void {
  if (total === 0) return;
  b.dispatch(key, source, inputs.map(data), outputs.map(data), params, grid(b, Math.ceil(total / 256)));
}

// ---- strides ----------------------------------------------------------------------------------

/** Largest rank a strided kernel takes once dimensions are merged (parameters are 64 x i32). */
const MAX_RANK = 12;

/**
 * WGSL that turns the flat output index `i` into one offset per operand (o0, o1, ...); params
 * hold [total, shape (rank), strides of operand 0 (rank), strides of operand 1, ...].
 */
function offsetsCode(rank: number, operands: number): string {
  const lines = ["  var rem = i;"];
  for (let j = 0; j < operands; j++) lines.push(`  var o${j} = 0u;`);
  for (let d = rank - 1; d >= 0; d--) {
    lines.push("  {");
    if (d > 0) lines.push(`    let s = U(${1 + d}u); let c = rem % s; rem = rem / s;`);
    else lines.push("    let c = rem;");
    for (let j = 0; j < operands; j++) lines.push(`    o${j} = o${j} + c * U(${1 + (j + 1) * rank + d}u);`);
    lines.push("  }");
  }
  return lines.join("\n");
}

function stridedParams(op: string, total: number, shape: number[], strides: number[][]): number[] {
  if (shape.length > MAX_RANK) {
    throw new Error(
      `minibatch webgpu: ${op} supports up to ${MAX_RANK} non-mergeable dimensions, got ${shape.length}`,
    );
  }
  return [total, ...shape, ...strides.flat()];
}

// ---- unary ------------------------------------------------------------------------------------

/**
 * The WGSL expression of each op of UNARY_SPECS over `x` of WGSL type `t` (f32, i32, or u32 for
 * bool). Exhaustive: a new op in the spec table fails to compile here until it has an entry.
 */
const UNARY_WGSL: { [K in UnaryOp]: (t: string) => string } = {
  neg: (t) => (t === "u32" ? "x" : "-x"),
  abs: (t) => (t === "u32" ? "x" : "abs(x)"),
  sign: (t) =>
    t === "f32" ? "select(select(x, -1.0, x < 0.0), 1.0, x > 0.0)" : t === "i32" ? "sign(x)" : "min(x, 1u)",
  exp: () => "exp_(x)",
  log: () => "log_(x)",
  log1p: () => "log1p_(x)",
  expm1: () => "expm1_(x)",
  sqrt: () => "sqrt_(x)",
  rsqrt: () => "1.0 / sqrt_(x)",
  relu: (t) =>
    t === "f32" ? "select(select(0.0, x, isnan_(x)), x, x > 0.0)" : t === "i32" ? "max(x, 0)" : "x",
  sigmoid: () => "sigmoid_(x)",
  tanh: () => "tanh_(x)",
  gelu: () => "gelu_(x)",
  atan: () => "atan(x)",
  // PyTorch's threshold 20; below it, max(x, 0) + log1p(e^-|x|) never overflows
  softplus: () => "select(max(x, 0.0) + log1p_(exp_(-abs(x))), x, x > 20.0)",
  logicalNot: () => "select(0u, 1u, x == 0u)",
};

function unaryExpr(op: UnaryOp | "clamp", t: string): string {
  if (op !== "clamp") return UNARY_WGSL[op](t);
  return t === "f32"
    ? "clampNaN(x, F(1u), F(2u))"
    : t === "i32"
      ? "clamp(x, P(1u), P(2u))"
      : "clamp(x, U(1u), U(2u))";
}

function unarySource(op: UnaryOp | "clamp", t: string, tOut: string): string {
  return `${PRELUDE}${MATH}
fn clampNaN(x: f32, lo: f32, hi: f32) -> f32 {
  var v = x;
  if (v < lo) { v = lo; }
  if (v > hi) { v = hi; }
  return v;
}
${bindings([["X", t]], [["Y", tOut]])}
${elementwiseMain(`  let x = X[i];\n  Y[i] = ${t === "f32" && tOut === "f32" ? `select(${unaryExpr(op, t)}, x, isnan_(x))` : unaryExpr(op, t)};`)}`;
}

const unary =
  (op: UnaryOp): Kernel<UnaryOp, WebGPUBackend> =>
  (b, [x], [y]) => {
    const t = wgslType(x.dtype);
    const tOut = wgslType(y.dtype);
    runElementwise(b, `unary:${op}:${t}:${tOut}`, () => unarySource(op, t, tOut), [x], [y], [y.size], y.size);
  };

const clampKernel: Kernel<"clamp", WebGPUBackend> = (b, [x], [y], { min, max }) => {
  const t = wgslType(x.dtype);
  let lo: number;
  let hi: number;
  if (t === "f32") {
    lo = f32bits(min);
    hi = f32bits(max);
  } else {
    const floor = t === "i32" ? -2147483648 : 0;
    const ceil = t === "i32" ? 2147483647 : 1;
    lo = Math.min(ceil, Math.max(floor, Math.ceil(min)));
    hi = Math.max(floor, Math.min(ceil, Math.floor(max)));
    if (t === "u32") {
      lo |= 0;
      hi |= 0;
    }
  }
  runElementwise(b, `unary:clamp:${t}`, () => unarySource("clamp", t, t), [x], [y], [y.size, lo, hi], y.size);
};

function castExpr(from: string, to: string): string {
  if (from === to) return "x";
  // !(x == 0) rather than x != 0: compilers emit an ordered compare, false for NaN
  if (to === "u32") return from === "f32" ? "select(0u, 1u, !(x == 0.0))" : "select(0u, 1u, x != 0)";
  if (to === "f32") return "f32(x)";
  // to i32
  if (from === "u32") return "i32(x)";
  return "castToI32(x)";
}

const castKernel: Kernel<"cast", WebGPUBackend> = (b, [x], [y]) => {
  const from = wgslType(x.dtype);
  const to = wgslType(y.dtype);
  const source = () => `${PRELUDE}
// JavaScript's ToInt32(Math.trunc(x)): toward zero, NaN and infinities to 0, wrapping modulo 2^32.
fn castToI32(x: f32) -> i32 {
  if (isnan_(x) || abs(x) == inf_()) { return 0; }
  let t = trunc(x);
  if (abs(t) < 2147483648.0) { return i32(t); }
  // |t| >= 2^31 is a multiple of 256, so this modulo is exact in f32
  let m = t - floor(t / 4294967296.0) * 4294967296.0;
  return bitcast<i32>(u32(m));
}
${bindings([["X", from]], [["Y", to]])}
${elementwiseMain(`  let x = X[i];\n  Y[i] = ${castExpr(from, to)};`)}`;
  runElementwise(b, `cast:${from}:${to}`, source, [x], [y], [y.size], y.size);
};

// ---- binary, compare, where -----------------------------------------------------------------

function binaryExpr(op: BinaryOp | CompareOp, t: string): string {
  const f = t === "f32";
  const cmp = (c: string) => `select(0u, 1u, ${c})`;
  switch (op) {
    case "add":
      return "a + b";
    case "sub":
      return "a - b";
    case "mul":
      return "a * b";
    case "div":
      return "a / b";
    case "pow":
      return f ? "pow_(a, b)" : "a";
    case "maximum":
      return f ? "select(b, a, a > b || isnan_(a))" : "max(a, b)";
    case "minimum":
      return f ? "select(b, a, a < b || isnan_(a))" : "min(a, b)";
    case "eq":
      return cmp("a == b");
    case "ne":
      return cmp("!(a == b)");
    case "lt":
      return cmp("a < b");
    case "le":
      return cmp("a <= b");
    case "gt":
      return cmp("a > b");
    case "ge":
      return cmp("a >= b");
    default:
      return assertNever(op);
  }
}

function binarySource(op: BinaryOp | CompareOp, t: string, tOut: string, rank: number): string {
  return `${PRELUDE}${MATH}
${bindings(
  [
    ["A", t],
    ["B", t],
  ],
  [["Y", tOut]],
)}
${elementwiseMain(`${offsetsCode(rank, 2)}
  let a = A[o0];
  let b = B[o1];
  Y[i] = ${binaryExpr(op, t)};`)}`;
}

const binary =
  <K extends BinaryOp | CompareOp>(op: K): Kernel<K, WebGPUBackend> =>
  (b, [x1, x2], [y], attrs) => {
    const { aStrides, bStrides } = attrs as { aStrides: number[]; bStrides: number[] };
    if (op === "pow" && x1.dtype !== "float32")
      throw new Error("internal: integer pow reached the webgpu kernel");
    const t = wgslType(x1.dtype);
    const tOut = wgslType(y.dtype);
    const c = mergeAxes(y.shape, [aStrides, bStrides]);
    const rank = c.shape.length;
    const source = () => binarySource(op, t, tOut, rank);
    runElementwise(
      b,
      `binary:${op}:${t}:${rank}`,
      source,
      [x1, x2],
      [y],
      stridedParams(op, y.size, c.shape, c.strides),
      y.size,
    );
  };

// Values move as raw 32-bit words: one pipeline serves every dtype.
const whereKernel: Kernel<"where", WebGPUBackend> = (b, [cond, x1, x2], [y], attrs) => {
  const c = mergeAxes(y.shape, [attrs.condStrides, attrs.aStrides, attrs.bStrides]);
  const rank = c.shape.length;
  const source = () => `${PRELUDE}
${bindings(
  [
    ["C", "u32"],
    ["A", "u32"],
    ["B", "u32"],
  ],
  [["Y", "u32"]],
)}
${elementwiseMain(`${offsetsCode(rank, 3)}
  Y[i] = select(B[o2], A[o1], C[o0] != 0u);`)}`;
  runElementwise(
    b,
    `where:${rank}`,
    source,
    [cond, x1, x2],
    [y],
    stridedParams("where", y.size, c.shape, c.strides),
    y.size,
  );
};

// ---- data movement ----------------------------------------------------------------------------

function stridedSource(rank: number): string {
  return `${PRELUDE}
${bindings([["X", "u32"]], [["Y", "u32"]])}
${elementwiseMain(`${offsetsCode(rank, 1)}
  Y[i] = X[U(${1 + 2 * rank}u) + o0];`)}`;
}

const stridedKernel: Kernel<"strided", WebGPUBackend> = (b, [x], [y], { strides, offset }) => {
  const c = mergeAxes(y.shape, [strides]);
  const rank = c.shape.length;
  const params = stridedParams("strided", y.size, c.shape, c.strides);
  params.push(offset);
  runElementwise(b, `strided:${rank}`, () => stridedSource(rank), [x], [y], params, y.size);
};

const CONCAT_SRC = `${PRELUDE}
${bindings([["X", "u32"]], [["Y", "u32"]])}
${elementwiseMain(`  // params: total, row length of this input, row length of the output, column offset
  let len = U(1u);
  let row = i / len;
  Y[row * U(2u) + U(3u) + (i - row * len)] = X[i];`)}`;

/** One dispatch per input, each copying its rows into its column range of the output. */
const concatKernel: Kernel<"concat", WebGPUBackend> = (b, xs, [y], { outer, sizes, inner }) => {
  const rowOut = sizes.reduce((p, c) => p + c, 0) * inner;
  let col = 0;
  xs.forEach((x, i) => {
    const len = sizes[i] * inner;
    runElementwise(b, "concat", () => CONCAT_SRC, [x], [y], [outer * len, len, rowOut, col], outer * len);
    col += len;
  });
};

const GATHER_SRC = `${PRELUDE}
${bindings(
  [
    ["X", "u32"],
    ["IDX", "i32"],
  ],
  [["Y", "u32"]],
)}
${elementwiseMain(`  // params: total, dim, inner, n
  let dim = P(1u);
  let inner = U(2u);
  let n = U(3u);
  let k = i % inner;
  let t = i / inner;
  let j = t % n;
  let o = t / n;
  var idx = IDX[j];
  if (idx < 0) { idx = idx + dim; }
  if (idx < 0 || idx >= dim) { Y[i] = 0u; return; }
  Y[i] = X[(o * u32(dim) + u32(idx)) * inner + k];`)}`;

const gatherKernel: Kernel<"gather", WebGPUBackend> = (b, [x, idx], [y], { dim, inner, n }) => {
  runElementwise(b, "gather", () => GATHER_SRC, [x, idx], [y], [y.size, dim, inner, n], y.size);
};

/** One thread per output element scanning all n indices: deterministic, no atomics. */
const scatterAddKernel: Kernel<"scatterAdd", WebGPUBackend> = (b, [src, idx], [y], { dim, inner, n }) => {
  const t = wgslType(y.dtype);
  const source = () => `${PRELUDE}
${bindings(
  [
    ["S", t],
    ["IDX", "i32"],
  ],
  [["Y", t]],
)}
${elementwiseMain(`  // params: total, dim, inner, n
  let dim = P(1u);
  let inner = U(2u);
  let n = U(3u);
  let k = i % inner;
  let t = i / inner;
  let d = i32(t % u32(dim));
  let o = t / u32(dim);
  var acc = ${t}(0);
  for (var j = 0u; j < n; j = j + 1u) {
    var idx = IDX[j];
    if (idx < 0) { idx = idx + dim; }
    if (idx == d) { acc = acc + S[(o * n + j) * inner + k]; }
  }
  Y[i] = acc;`)}`;
  runElementwise(b, `scatterAdd:${t}`, source, [src, idx], [y], [y.size, dim, inner, n], y.size);
};

// ---- reductions -------------------------------------------------------------------------------

/**
 * Tree reductions are sized to their work: `lanes` threads (a power of two) share one output, each
 * first folding about REDUCE_CHUNK values of the axis in a loop, then the lanes combine as a tree
 * in workgroup memory. Several outputs share a workgroup when the axis is short, so a [60, 100]
 * column sum is 13 workgroups of 64 threads, not 100 of 256: on software adapters (SwiftShader)
 * every workgroup barrier costs time in proportion to the workgroup's threads, and a short axis
 * gains nothing from a wide tree. There, axes up to SERIAL_MAX long skip the tree altogether.
 */
const REDUCE_CHUNK = 8;
/** The most threads on one output (also the largest workgroup). */
const MAX_LANES = 256;
/** Workgroups never get fewer threads than this: short axes pack MIN_GROUP / lanes outputs. */
const MIN_GROUP = 64;

/**
 * On a software adapter, axes up to this long are folded by one thread per output: no tree, so no
 * workgroup barrier in the shader at all. SwiftShader runs a shader that has a barrier as
 * coroutines that switch at every barrier, which cost far more than the serial loop here (the
 * 100-channel batch-norm statistics of a batch of 60 took about 1 ms as 8-lane trees).
 */
const SERIAL_MAX = 1024;

/** Threads per output for a reduction over `count` values (`serial`: a software adapter). */
export function reduceLanes(count: number, serial = false): number {
  if (serial && count <= SERIAL_MAX) return 1;
  let l = 1;
  while (l < MAX_LANES && l * REDUCE_CHUNK < count) l *= 2;
  return l;
}

/** Threads in a workgroup whose outputs each get `lanes` threads. */
export const groupThreads = (lanes: number): number => Math.max(MIN_GROUP, lanes);

/**
 * WGSL declaring, for `lanes` threads per output: `lane` (this thread's place among them), `out`
 * (its output index) and `valid` (out < params[0]). Threads past the end stay to the barriers.
 */
function lanesHead(lanes: number): string {
  return `  let lane = li % ${lanes}u;
  let out = (wid.y * nwg.x + wid.x) * ${groupThreads(lanes) / lanes}u + li / ${lanes}u;
  let valid = out < U(0u);`;
}

/** A workgroup barrier, left out at one lane per output (none needed, see SERIAL_MAX). */
const barrier = (lanes: number): string => (lanes > 1 ? "workgroupBarrier();" : "");

/** The tree over each output's lanes; `step` combines slot li with slot li + s. */
function lanesTree(lanes: number, step: string): string {
  if (lanes === 1) return "";
  return `  for (var s = ${lanes >> 1}u; s > 0u; s = s >> 1u) {
    if (lane < s) { ${step} }
    workgroupBarrier();
  }`;
}

/** The workgroup count for `outputs` outputs at `lanes` threads each. */
function lanesGrid(b: WebGPUBackend, outputs: number, lanes: number): [number, number] {
  return grid(b, Math.ceil(outputs / (groupThreads(lanes) / lanes)));
}

/** What each reduction keeps: exhaustive, so a new reduction is a compile error here. */
const REDUCE_KIND: { [K in ReduceOp]: { arg: boolean; isMax: boolean } } = {
  sum: { arg: false, isMax: false },
  max: { arg: false, isMax: true },
  min: { arg: false, isMax: false },
  argmax: { arg: true, isMax: true },
  argmin: { arg: true, isMax: false },
};

/** Reductions over [outer, reduce, inner]: `lanes` threads per output (see reduceLanes). */
function reduceSource(op: ReduceOp, t: string, lanes: number): string {
  const f = t === "f32";
  const { arg, isMax } = REDUCE_KIND[op];
  const lowest = f ? "-inf_()" : t === "i32" ? "bitcast<i32>(0x80000000u)" : "0u";
  const highest = f ? "inf_()" : t === "i32" ? "2147483647" : "0xffffffffu";
  const init = op === "sum" ? `${t}(0)` : isMax ? lowest : highest;
  const nan = f ? "isnan_(v)" : "false";
  const better = isMax ? "b > a" : "b < a";
  const wg = groupThreads(lanes);
  const step = arg ? "if (take(acc, ai, v, i32(r))) { acc = v; ai = i32(r); }" : "acc = comb(acc, v);";
  const treeStep = arg
    ? "if (take(sv[li], si[li], sv[li + s], si[li + s])) { sv[li] = sv[li + s]; si[li] = si[li + s]; }"
    : "sv[li] = comb(sv[li], sv[li + s]);";
  return `${PRELUDE}
${bindings([["X", t]], [["Y", arg ? "i32" : t]])}
fn nanv(v: ${t}) -> bool { return ${nan}; }
// Whether (b, ib) replaces (a, ia): NaN wins, then the extreme, then the lower index.
fn take(a: ${t}, ia: i32, b: ${t}, ib: i32) -> bool {
  if (ib < 0) { return false; }
  if (ia < 0) { return true; }
  let an = nanv(a);
  let bn = nanv(b);
  if (an || bn) { return bn && (!an || ib < ia); }
  if (${better}) { return true; }
  return b == a && ib < ia;
}
fn comb(a: ${t}, b: ${t}) -> ${t} {
  ${op === "sum" ? "return a + b;" : `if (nanv(a)) { return a; } if (nanv(b)) { return b; } return select(a, b, ${better});`}
}
var<workgroup> sv: array<${t}, ${wg}>;
var<workgroup> si: array<i32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  // params: outputs, reduce, inner
${lanesHead(lanes)}
  let reduce = select(0u, U(1u), valid);
  let inner = U(2u);
  let base = (out / inner) * reduce * inner + out % inner;
  var acc: ${t} = ${init};
  var ai = -1;
  for (var r = lane; r < reduce; r = r + ${lanes}u) {
    let v = X[base + r * inner];
    ${step}
  }
  sv[li] = acc;
  si[li] = ai;
  ${barrier(lanes)}
${lanesTree(lanes, treeStep)}
  if (valid && lane == 0u) { Y[out] = ${arg ? "si[li]" : "sv[li]"}; }
}`;
}

const reduceKernel =
  <K extends ReduceOp>(op: K): Kernel<K, WebGPUBackend> =>
  (b, [x], [y], attrs) => {
    const { outer, reduce, inner } = attrs as { outer: number; reduce: number; inner: number };
    const outputs = outer * inner;
    if (outputs === 0) return;
    const t = wgslType(x.dtype);
    const lanes = reduceLanes(reduce, b.software);
    b.dispatch(
      `reduce:${op}:${t}:${lanes}`,
      () => reduceSource(op, t, lanes),
      [data(x)],
      [data(y)],
      [outputs, reduce, inner],
      lanesGrid(b, outputs, lanes),
    );
  };

// ---- matmul -----------------------------------------------------------------------------------

/**
 * Tiled matmul: a 16x16 workgroup computes a 64x64 output tile, 4x4 per thread (four vec4
 * accumulators), staging 16-deep slices of A and B in workgroup memory. Loads follow the
 * operand's memory order (coalesced) for either transposition. The per-thread work is written
 * out without private arrays, which some shader compilers (SwiftShader) are slow to optimize.
 */
function matmulSource(transA: boolean, transB: boolean): string {
  // Tile element (m, kk) of A and (kk, n) of B for load slot e in [0, 1024).
  const aLoad = transA
    ? "let m = e % 64u; let kk = e / 64u; let gm = row0 + m; let gk = k0 + kk; var v = 0.0; if (gm < M && gk < K) { v = A[aOff + gk * M + gm]; }"
    : "let kk = e % 16u; let m = e / 16u; let gm = row0 + m; let gk = k0 + kk; var v = 0.0; if (gm < M && gk < K) { v = A[aOff + gm * K + gk]; }";
  const bLoad = transB
    ? "let kk = e % 16u; let n = e / 16u; let gn = col0 + n; let gk = k0 + kk; var w = 0.0; if (gn < N && gk < K) { w = B[bOff + gn * K + gk]; }"
    : "let n = e % 64u; let kk = e / 64u; let gn = col0 + n; let gk = k0 + kk; var w = 0.0; if (gn < N && gk < K) { w = B[bOff + gk * N + gn]; }";
  const rows = [0, 1, 2, 3];
  return `${PRELUDE}
${bindings(
  [
    ["A", "f32"],
    ["B", "f32"],
  ],
  [["Y", "f32"]],
)}
var<workgroup> As: array<vec4<f32>, 256>; // [kk][m / 4]
var<workgroup> Bs: array<vec4<f32>, 256>; // [kk][n / 4]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  // params: M, N, K, batchA, batchB
  let M = U(0u);
  let N = U(1u);
  let K = U(2u);
  let bat = wid.z;
  let aOff = select(bat, 0u, U(3u) == 1u) * M * K;
  let bOff = select(bat, 0u, U(4u) == 1u) * K * N;
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
${rows.map((r) => `  var acc${r} = vec4<f32>(0.0);`).join("\n")}
  for (var k0 = 0u; k0 < K; k0 = k0 + 16u) {
    for (var l = 0u; l < 4u; l = l + 1u) {
      let e = li + l * 256u;
      { ${aLoad} As[kk * 16u + m / 4u][m % 4u] = v; }
      { ${bLoad} Bs[kk * 16u + n / 4u][n % 4u] = w; }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      let a = As[kk * 16u + lid.y];
      let b = Bs[kk * 16u + lid.x];
${rows.map((r) => `      acc${r} = acc${r} + a[${r}] * b;`).join("\n")}
    }
    workgroupBarrier();
  }
  let yOff = bat * M * N;
  let gn = col0 + lid.x * 4u;
${rows
  .map(
    (r) => `  {
    let gm = row0 + lid.y * 4u + ${r}u;
    if (gm < M) {
      for (var c = 0u; c < 4u; c = c + 1u) {
        if (gn + c < N) { Y[yOff + gm * N + gn + c] = acc${r}[c]; }
      }
    }
  }`,
  )
  .join("\n")}
}`;
}

/**
 * The small tile, for software adapters (SwiftShader): each thread computes a 4x4 block of outputs
 * straight from A and B, an 8x8 workgroup a 32x32 tile, with no workgroup memory and no barriers.
 * On a CPU the operands are in cache anyway, while every barrier makes SwiftShader switch between
 * all of the workgroup's threads; a tiled 16x16 kernel spent most of its time there. Out-of-range
 * rows and columns load a clamped (valid) index and are not written.
 */
function matmulSmallSource(transA: boolean, transB: boolean): string {
  // Element (m, k) of A is at aOff + m * amS + k * akS; (k, n) of B at bOff + k * bkS + n * bnS.
  const [amS, akS] = transA ? ["1u", "M"] : ["K", "1u"];
  const [bkS, bnS] = transB ? ["1u", "K"] : ["N", "1u"];
  const q = [0, 1, 2, 3];
  return `${PRELUDE}
${bindings(
  [
    ["A", "f32"],
    ["B", "f32"],
  ],
  [["Y", "f32"]],
)}
@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // params: M, N, K, batchA, batchB
  let M = U(0u);
  let N = U(1u);
  let K = U(2u);
  let bat = wid.z;
  let row0 = (wid.y * 8u + lid.y) * 4u;
  let col0 = (wid.x * 8u + lid.x) * 4u;
  if (row0 >= M || col0 >= N) { return; }
  let aOff = select(bat, 0u, U(3u) == 1u) * M * K;
  let bOff = select(bat, 0u, U(4u) == 1u) * K * N;
${q.map((r) => `  let a${r} = aOff + min(row0 + ${r}u, M - 1u) * ${amS};`).join("\n")}
${q.map((c) => `  let b${c} = bOff + min(col0 + ${c}u, N - 1u) * ${bnS};`).join("\n")}
${q.map((r) => `  var acc${r} = vec4<f32>(0.0);`).join("\n")}
  for (var k = 0u; k < K; k = k + 1u) {
    let ka = k * ${akS};
    let kb = k * ${bkS};
    let a = vec4<f32>(A[a0 + ka], A[a1 + ka], A[a2 + ka], A[a3 + ka]);
    let b = vec4<f32>(B[b0 + kb], B[b1 + kb], B[b2 + kb], B[b3 + kb]);
${q.map((r) => `    acc${r} = acc${r} + a[${r}] * b;`).join("\n")}
  }
  let yOff = bat * M * N;
${q
  .map(
    (r) => `  if (row0 + ${r}u < M) {
    for (var c = 0u; c < 4u; c = c + 1u) {
      if (col0 + c < N) { Y[yOff + (row0 + ${r}u) * N + col0 + c] = acc${r}[c]; }
    }
  }`,
  )
  .join("\n")}
}`;
}

/**
 * The small tile's vec4 form, when the operands' contiguous axes allow it (see vec4Fits). On a
 * software adapter every load from a storage buffer costs per lane and per component: SwiftShader
 * runs 4 invocations as one SIMD vector, and a load at per-lane addresses becomes a gather
 * emulated lane by lane, with bounds checks. Those loads, not the multiply-adds, are where the
 * time goes (doubling the loads of the loop nearly tripled its time, doubling the multiply-adds
 * added a quarter), so this form cuts their overhead: each thread computes an r x c block (4 x 4,
 * or 8 x 8 for the outer-product form below) from vec4 loads along each operand's contiguous
 * axis, 4 k-steps per loop iteration (a quarter of the load instructions, index arithmetic and
 * bounds clamps per value, and of the loop iterations). A plain A and a transposed B are read 4 k-steps at a time, a transposed A 4 rows
 * and a plain B 4 columns at a time. Each output still sums its products in k order, as the
 * scalar form does.
 */
function matmulVec4Source(transA: boolean, transB: boolean): string {
  const { r: R, c: C, wx, wy } = vec4Tile(transA, transB);
  const range = (n: number) => [...Array(n).keys()];
  const rows = range(R);
  const rowQuads = range(R / 4);
  const cols = range(C);
  const quads = range(C / 4);
  const js = [0, 1, 2, 3];
  // Row r of this thread's block at k-step j: a plain A loads one vec4 per row (4 k-steps), a
  // transposed A one vec4 per 4 rows and k-step.
  const aHead = transA
    ? rowQuads.map((g) => `  let ia${g} = aOff + min(row0 + ${4 * g}u, M - 4u) / 4u;`)
    : rows.map((r) => `  let ia${r} = aOff + min(row0 + ${r}u, M - 1u) * (K / 4u);`);
  const aLoad = transA
    ? rowQuads.flatMap((g) => js.map((j) => `    let a${g}_${j} = A[ia${g} + (k * 4u + ${j}u) * (M / 4u)];`))
    : rows.map((r) => `    let a${r} = A[ia${r} + k];`);
  const aAt = (r: number, j: number) => (transA ? `a${r >> 2}_${j}[${r & 3}]` : `a${r}[${j}]`);
  const bHead = transB
    ? cols.map((c) => `  let ib${c} = bOff + min(col0 + ${c}u, N - 1u) * (K / 4u);`)
    : quads.map((q) => `  let ib${q} = bOff + min(col0 + ${4 * q}u, N - 4u) / 4u;`);
  const bLoad = transB
    ? cols.map((c) => `    let b${c} = B[ib${c} + k];`)
    : quads.flatMap((q) => js.map((j) => `    let b${q}_${j} = B[ib${q} + (k * 4u + ${j}u) * (N / 4u)];`));
  // Columns 4q..4q+3 of the block at k-step j, as one vec4.
  const bRow = (q: number, j: number) =>
    transB ? `vec4<f32>(${js.map((c) => `b${4 * q + c}[${j}]`).join(", ")})` : `b${q}_${j}`;
  return `${PRELUDE}
${bindings(
  [
    ["A", "vec4<f32>"],
    ["B", "vec4<f32>"],
  ],
  [["Y", "f32"]],
)}
@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // params: M, N, K, batchA, batchB (offsets below in vec4 units)
  let M = U(0u);
  let N = U(1u);
  let K = U(2u);
  let bat = wid.z;
  let row0 = (wid.y * ${wy}u + lid.y) * ${R}u;
  let col0 = (wid.x * ${wx}u + lid.x) * ${C}u;
  if (row0 >= M || col0 >= N) { return; }
  let aOff = select(bat, 0u, U(3u) == 1u) * M * (K / 4u);
  let bOff = select(bat, 0u, U(4u) == 1u) * (K / 4u) * N;
${aHead.join("\n")}
${bHead.join("\n")}
${rows.flatMap((r) => quads.map((q) => `  var acc${r}_${q} = vec4<f32>(0.0);`)).join("\n")}
  for (var k = 0u; k < K / 4u; k = k + 1u) {
${aLoad.join("\n")}
${bLoad.join("\n")}
${js
  .flatMap((j) =>
    quads.flatMap((q) => [
      `    { let b = ${bRow(q, j)};`,
      ...rows.map((r) => `      acc${r}_${q} = acc${r}_${q} + ${aAt(r, j)} * b;`),
      "    }",
    ]),
  )
  .join("\n")}
  }
  let yOff = bat * M * N;
${rows
  .flatMap((r) =>
    quads.map(
      (q) => `  if (row0 + ${r}u < M) {
    for (var c = 0u; c < 4u; c = c + 1u) {
      let n = col0 + ${4 * q}u + c;
      if (n < N) { Y[yOff + (row0 + ${r}u) * N + n] = acc${r}_${q}[c]; }
    }
  }`,
    ),
  )
  .join("\n")}
}`;
}

/**
 * The vec4 form's block per thread and workgroup shape. A transposed A with a plain B (the weight
 * gradient, dy^T x) loads one vec4 per 4 rows or columns per k-step, so an 8 x 8 block costs 4
 * loads per 64 multiply-adds; in the other forms a larger block than 4 x 4 did not pay on
 * SwiftShader.
 */
function vec4Tile(transA: boolean, transB: boolean): { r: number; c: number; wx: number; wy: number } {
  return transA && !transB ? { r: 8, c: 8, wx: 4, wy: 4 } : { r: 4, c: 4, wx: 8, wy: 8 };
}

/** Whether the vec4 form applies: every vec4 it loads lies inside one row of its operand. */
function vec4Fits(m: number, n: number, k: number, transA: boolean, transB: boolean): boolean {
  return k % 4 === 0 && (!transA || m % 4 === 0) && (transB || n % 4 === 0);
}

export type MatmulTile = "small" | "large";

export function matmulPipeline(
  tile: MatmulTile,
  transA: boolean,
  transB: boolean,
  vec4 = false,
): [string, () => string] {
  const key = `matmul:${tile}${vec4 ? "4" : ""}:${transA ? "T" : "N"}${transB ? "T" : "N"}`;
  const source = tile === "large" ? matmulSource : vec4 ? matmulVec4Source : matmulSmallSource;
  return [key, () => source(transA, transB)];
}

const matmulKernel: Kernel<"matmul", WebGPUBackend> = (b, [x1, x2], [y], at) => {
  if (y.size === 0) return;
  if (at.k === 0) {
    runElementwise(b, "fill0", () => FILL0_SRC, [], [y], [y.size], y.size);
    return;
  }
  const tile = b.matmulTile;
  const vec4 = tile === "small" && vec4Fits(at.m, at.n, at.k, at.transA, at.transB);
  const [key, source] = matmulPipeline(tile, at.transA, at.transB, vec4);
  // Outputs per workgroup, columns x rows.
  let [tn, tm] = tile === "large" ? [64, 64] : [32, 32];
  if (vec4) {
    const v = vec4Tile(at.transA, at.transB);
    [tn, tm] = [v.c * v.wx, v.r * v.wy];
  }
  b.dispatch(
    key,
    source,
    [data(x1), data(x2)],
    [data(y)],
    [at.m, at.n, at.k, at.batchA, at.batchB],
    [Math.ceil(at.n / tn), Math.ceil(at.m / tm), at.batch],
  );
};

const FILL0_SRC = `${PRELUDE}
${bindings([], [["Y", "u32"]])}
${elementwiseMain("  Y[i] = 0u;")}`;

// ---- convolution ------------------------------------------------------------------------------

/** [total, N, C, H, W, O, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, groups] */
function convParams(
  total: number,
  x: readonly number[],
  y: readonly number[],
  w: readonly number[],
  at: Conv2dAttrs,
): number[] {
  return [
    total,
    x[0],
    x[1],
    x[2],
    x[3],
    y[1],
    y[2],
    y[3],
    w[2],
    w[3],
    ...at.stride,
    ...at.padding,
    ...at.dilation,
    at.groups,
  ];
}

const CONV_HEAD = `
  let N = P(1u); let C = P(2u); let H = P(3u); let W = P(4u);
  let O = P(5u); let OH = P(6u); let OW = P(7u); let KH = P(8u); let KW = P(9u);
  let sh = P(10u); let sw = P(11u); let ph = P(12u); let pw = P(13u); let dh = P(14u); let dw = P(15u);
  let G = P(16u);
  let cg = C / G;
  let og = O / G;`;

const CONV_SRC = `${PRELUDE}
${bindings(
  [
    ["X", "f32"],
    ["Wt", "f32"],
  ],
  [["Y", "f32"]],
)}
${elementwiseMain(`${CONV_HEAD}
  let ii = i32(i);
  let ow = ii % OW;
  let oh = (ii / OW) % OH;
  let o = (ii / (OW * OH)) % O;
  let n = ii / (OW * OH * O);
  let g = o / og;
  var acc = 0.0;
  for (var ci = 0; ci < cg; ci = ci + 1) {
    let xPlane = (n * C + g * cg + ci) * H;
    let wPlane = (o * cg + ci) * KH;
    for (var kh = 0; kh < KH; kh = kh + 1) {
      let ih = oh * sh - ph + kh * dh;
      if (ih < 0 || ih >= H) { continue; }
      for (var kw = 0; kw < KW; kw = kw + 1) {
        let iw = ow * sw - pw + kw * dw;
        if (iw < 0 || iw >= W) { continue; }
        acc = acc + X[(xPlane + ih) * W + iw] * Wt[(wPlane + kh) * KW + kw];
      }
    }
  }
  Y[i] = acc;`)}`;

const conv2dKernel: Kernel<"conv2d", WebGPUBackend> = (b, [x, w], [y], at) => {
  runElementwise(
    b,
    "conv2d",
    () => CONV_SRC,
    [x, w],
    [y],
    convParams(y.size, x.shape, y.shape, w.shape, at),
    y.size,
  );
};

/** One thread per input position, gathering from every output that read it (no atomics). */
const CONV_GRAD_INPUT_SRC = `${PRELUDE}
${bindings(
  [
    ["DY", "f32"],
    ["Wt", "f32"],
  ],
  [["DX", "f32"]],
)}
${elementwiseMain(`${CONV_HEAD}
  let ii = i32(i);
  let iw = ii % W;
  let ih = (ii / W) % H;
  let c = (ii / (W * H)) % C;
  let n = ii / (W * H * C);
  let g = c / cg;
  let ci = c % cg;
  var acc = 0.0;
  for (var o = g * og; o < (g + 1) * og; o = o + 1) {
    for (var kh = 0; kh < KH; kh = kh + 1) {
      let th = ih + ph - kh * dh;
      if (th < 0 || th % sh != 0) { continue; }
      let oh = th / sh;
      if (oh >= OH) { continue; }
      for (var kw = 0; kw < KW; kw = kw + 1) {
        let tw = iw + pw - kw * dw;
        if (tw < 0 || tw % sw != 0) { continue; }
        let ow = tw / sw;
        if (ow >= OW) { continue; }
        acc = acc + DY[((n * O + o) * OH + oh) * OW + ow] * Wt[((o * cg + ci) * KH + kh) * KW + kw];
      }
    }
  }
  DX[i] = acc;`)}`;

const conv2dGradInputKernel: Kernel<"conv2dGradInput", WebGPUBackend> = (b, [dy, w], [dx], at) => {
  runElementwise(
    b,
    "conv2dGradInput",
    () => CONV_GRAD_INPUT_SRC,
    [dy, w],
    [dx],
    convParams(dx.size, dx.shape, dy.shape, w.shape, at),
    dx.size,
  );
};

/** Per filter weight, a tree over batch and output positions (`lanes` threads per weight). */
function convGradFilterSource(lanes: number): string {
  return `${PRELUDE}
${bindings(
  [
    ["X", "f32"],
    ["DY", "f32"],
  ],
  [["DW", "f32"]],
)}
var<workgroup> sv: array<f32, ${groupThreads(lanes)}>;
@compute @workgroup_size(${groupThreads(lanes)})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
${lanesHead(lanes)}
${CONV_HEAD}
  let ii = i32(out);
  let kw = ii % KW;
  let kh = (ii / KW) % KH;
  let ci = (ii / (KW * KH)) % cg;
  let o = ii / (KW * KH * cg);
  let c = (o / og) * cg + ci;
  let count = select(0, N * OH * OW, valid);
  var acc = 0.0;
  for (var t = i32(lane); t < count; t = t + ${lanes}) {
    let ow = t % OW;
    let oh = (t / OW) % OH;
    let n = t / (OW * OH);
    let ih = oh * sh - ph + kh * dh;
    let iw = ow * sw - pw + kw * dw;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
      acc = acc + X[((n * C + c) * H + ih) * W + iw] * DY[((n * O + o) * OH + oh) * OW + ow];
    }
  }
  sv[li] = acc;
  ${barrier(lanes)}
${lanesTree(lanes, "sv[li] = sv[li] + sv[li + s];")}
  if (valid && lane == 0u) { DW[out] = sv[li]; }
}`;
}

const conv2dGradFilterKernel: Kernel<"conv2dGradFilter", WebGPUBackend> = (b, [x, dy], [dw], at) => {
  if (dw.size === 0) return;
  const lanes = reduceLanes(dy.shape[0] * dy.shape[2] * dy.shape[3], b.software);
  b.dispatch(
    `conv2dGradFilter:${lanes}`,
    () => convGradFilterSource(lanes),
    [data(x), data(dy)],
    [data(dw)],
    convParams(dw.size, x.shape, dy.shape, dw.shape, at),
    lanesGrid(b, dw.size, lanes),
  );
};

// ---- pooling ----------------------------------------------------------------------------------

/** [total, H, W, OH, OW, KH, KW, sh, sw, ph, pw] */
function poolParams(total: number, x: readonly number[], y: readonly number[], at: Pool2dAttrs): number[] {
  return [total, x[2], x[3], y[2], y[3], ...at.kernel, ...at.stride, ...at.padding];
}

/** The max-pool helpers; the caller declares X (the input) among its bindings. */
const POOL_FUNCS = `
fn H_() -> i32 { return P(1u); }
fn W_() -> i32 { return P(2u); }
fn OH_() -> i32 { return P(3u); }
fn OW_() -> i32 { return P(4u); }
// Index within the plane of a window's maximum: the first on ties, the first NaN wins;
// padding is ignored.
fn argmaxWindow(plane: i32, oh: i32, ow: i32) -> i32 {
  let ih0 = oh * P(7u) - P(9u);
  let iw0 = ow * P(8u) - P(10u);
  var best = 0.0;
  var at = -1;
  for (var ih = max(ih0, 0); ih < min(ih0 + P(5u), H_()); ih = ih + 1) {
    for (var iw = max(iw0, 0); iw < min(iw0 + P(6u), W_()); iw = iw + 1) {
      let v = X[plane + ih * W_() + iw];
      if (at < 0 || v > best || (isnan_(v) && !isnan_(best))) {
        best = v;
        at = ih * W_() + iw;
      }
    }
  }
  return at;
}
`;

const MAX_POOL_SRC = `${PRELUDE}
${bindings([["X", "f32"]], [["Y", "f32"]])}
${POOL_FUNCS}
${elementwiseMain(`  let ii = i32(i);
  let ow = ii % OW_();
  let oh = (ii / OW_()) % OH_();
  let p = ii / (OW_() * OH_());
  let plane = p * H_() * W_();
  Y[i] = X[plane + argmaxWindow(plane, oh, ow)];`)}`;

/** The first output window row/column whose window (start r*s - p, length k) covers position x. */
const WINDOW_RANGE = `
fn firstWindow(x: i32, k: i32, s: i32, p: i32) -> i32 {
  let t = x + p - k + 1;
  if (t <= 0) { return 0; }
  return (t + s - 1) / s;
}`;

const MAX_POOL_GRAD_SRC = `${PRELUDE}
${bindings(
  [
    ["X", "f32"],
    ["DY", "f32"],
  ],
  [["DX", "f32"]],
)}
${POOL_FUNCS}
${WINDOW_RANGE}
${elementwiseMain(`  let ii = i32(i);
  let pos = ii % (H_() * W_());
  let p = ii / (H_() * W_());
  let h = pos / W_();
  let w = pos % W_();
  let plane = p * H_() * W_();
  var acc = 0.0;
  let ohEnd = min(OH_() - 1, (h + P(9u)) / P(7u));
  let owEnd = min(OW_() - 1, (w + P(10u)) / P(8u));
  for (var oh = firstWindow(h, P(5u), P(7u), P(9u)); oh <= ohEnd; oh = oh + 1) {
    for (var ow = firstWindow(w, P(6u), P(8u), P(10u)); ow <= owEnd; ow = ow + 1) {
      if (argmaxWindow(plane, oh, ow) == pos) {
        acc = acc + DY[(p * OH_() + oh) * OW_() + ow];
      }
    }
  }
  DX[i] = acc;`)}`;

const AVG_POOL_SRC = `${PRELUDE}
${bindings([["X", "f32"]], [["Y", "f32"]])}
${elementwiseMain(`  let H = P(1u); let W = P(2u); let OH = P(3u); let OW = P(4u);
  let ii = i32(i);
  let ow = ii % OW;
  let oh = (ii / OW) % OH;
  let plane = (ii / (OW * OH)) * H * W;
  let ih0 = oh * P(7u) - P(9u);
  let iw0 = ow * P(8u) - P(10u);
  var s = 0.0;
  for (var ih = max(ih0, 0); ih < min(ih0 + P(5u), H); ih = ih + 1) {
    for (var iw = max(iw0, 0); iw < min(iw0 + P(6u), W); iw = iw + 1) {
      s = s + X[plane + ih * W + iw];
    }
  }
  // padded zeros count (count_include_pad)
  Y[i] = s / f32(P(5u) * P(6u));`)}`;

const AVG_POOL_GRAD_SRC = `${PRELUDE}
${bindings([["DY", "f32"]], [["DX", "f32"]])}
${WINDOW_RANGE}
${elementwiseMain(`  let H = P(1u); let W = P(2u); let OH = P(3u); let OW = P(4u);
  let ii = i32(i);
  let w = ii % W;
  let h = (ii / W) % H;
  let p = ii / (W * H);
  let area = f32(P(5u) * P(6u));
  var acc = 0.0;
  let ohEnd = min(OH - 1, (h + P(9u)) / P(7u));
  let owEnd = min(OW - 1, (w + P(10u)) / P(8u));
  for (var oh = firstWindow(h, P(5u), P(7u), P(9u)); oh <= ohEnd; oh = oh + 1) {
    for (var ow = firstWindow(w, P(6u), P(8u), P(10u)); ow <= owEnd; ow = ow + 1) {
      acc = acc + DY[(p * OH + oh) * OW + ow] / area;
    }
  }
  DX[i] = acc;`)}`;

const maxPool2dKernel: Kernel<"maxPool2d", WebGPUBackend> = (b, [x], [y], at) => {
  runElementwise(
    b,
    "maxPool2d",
    () => MAX_POOL_SRC,
    [x],
    [y],
    poolParams(y.size, x.shape, y.shape, at),
    y.size,
  );
};
const maxPool2dGradKernel: Kernel<"maxPool2dGrad", WebGPUBackend> = (b, [x, dy], [dx], at) => {
  runElementwise(
    b,
    "maxPool2dGrad",
    () => MAX_POOL_GRAD_SRC,
    [x, dy],
    [dx],
    poolParams(dx.size, x.shape, dy.shape, at),
    dx.size,
  );
};
const avgPool2dKernel: Kernel<"avgPool2d", WebGPUBackend> = (b, [x], [y], at) => {
  runElementwise(
    b,
    "avgPool2d",
    () => AVG_POOL_SRC,
    [x],
    [y],
    poolParams(y.size, x.shape, y.shape, at),
    y.size,
  );
};
const avgPool2dGradKernel: Kernel<"avgPool2dGrad", WebGPUBackend> = (b, [dy], [dx], at) => {
  runElementwise(
    b,
    "avgPool2dGrad",
    () => AVG_POOL_GRAD_SRC,
    [dy],
    [dx],
    poolParams(dx.size, dx.shape, dy.shape, at),
    dx.size,
  );
};

// ---- batch norm -------------------------------------------------------------------------------

/**
 * params: [C, outer, inner, eps]; x is [outer, C, inner]; `lanes` threads per channel (see
 * reduceLanes), several channels per workgroup when outer * inner is small.
 */
function bnStatsSource(lanes: number): string {
  return `${PRELUDE}
${bindings(
  [["X", "f32"]],
  [
    ["MEAN", "f32"],
    ["INVSTD", "f32"],
    ["VAR", "f32"],
  ],
)}
var<workgroup> sv: array<f32, ${groupThreads(lanes)}>;
// The sum of this channel's lanes, seen by all of them.
fn total(li: u32, lane: u32) -> f32 {
  ${barrier(lanes)}
${lanesTree(lanes, "sv[li] = sv[li] + sv[li + s];")}
  let r = sv[li - lane];
  ${barrier(lanes)}
  return r;
}
@compute @workgroup_size(${groupThreads(lanes)})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
${lanesHead(lanes)}
  let c = out;
  let C = U(0u);
  let inner = U(2u);
  let count = U(1u) * inner;
  let n = select(0u, count, valid);
  var acc = 0.0;
  for (var t = lane; t < n; t = t + ${lanes}u) {
    acc = acc + X[((t / inner) * C + c) * inner + t % inner];
  }
  sv[li] = acc;
  let mean = total(li, lane) / f32(count);
  // a second pass over centred values: no cancellation from E[x^2] - E[x]^2
  acc = 0.0;
  for (var t = lane; t < n; t = t + ${lanes}u) {
    let d = X[((t / inner) * C + c) * inner + t % inner] - mean;
    acc = acc + d * d;
  }
  sv[li] = acc;
  let ssd = total(li, lane);
  if (valid && lane == 0u) {
    MEAN[c] = mean;
    INVSTD[c] = 1.0 / sqrt(ssd / f32(count) + F(3u));
    VAR[c] = ssd / f32(count - 1u);
  }
}`;
}

const BN_APPLY_SRC = `${PRELUDE}
${bindings(
  [
    ["X", "f32"],
    ["GAMMA", "f32"],
    ["BETA", "f32"],
    ["MEAN", "f32"],
    ["INVSTD", "f32"],
  ],
  [["Y", "f32"]],
)}
${elementwiseMain(`  // params: total, C, inner
  let c = (i / U(2u)) % U(1u);
  Y[i] = (X[i] - MEAN[c]) * INVSTD[c] * GAMMA[c] + BETA[c];`)}`;

const batchNormTrainKernel: Kernel<"batchNormTrain", WebGPUBackend> = (
  b,
  [x, gamma, beta],
  [y, mean, invstd, varU],
  at: BatchNormAttrs,
) => {
  if (at.channels === 0) return;
  const lanes = reduceLanes(at.outer * at.inner, b.software);
  b.dispatch(
    `bnStats:${lanes}`,
    () => bnStatsSource(lanes),
    [data(x)],
    [data(mean), data(invstd), data(varU)],
    [at.channels, at.outer, at.inner, f32bits(at.eps)],
    lanesGrid(b, at.channels, lanes),
  );
  runElementwise(
    b,
    "bnApply",
    () => BN_APPLY_SRC,
    [x, gamma, beta, mean, invstd],
    [y],
    [y.size, at.channels, at.inner],
    y.size,
  );
};

/** Per channel: dbeta = sum(dy), dgamma = sum(dy * xhat), as two trees (`lanes` threads each). */
function bnGradStatsSource(lanes: number): string {
  return `${PRELUDE}
${bindings(
  [
    ["DY", "f32"],
    ["X", "f32"],
    ["MEAN", "f32"],
    ["INVSTD", "f32"],
  ],
  [
    ["DGAMMA", "f32"],
    ["DBETA", "f32"],
  ],
)}
var<workgroup> s1: array<f32, ${groupThreads(lanes)}>;
var<workgroup> s2: array<f32, ${groupThreads(lanes)}>;
@compute @workgroup_size(${groupThreads(lanes)})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
${lanesHead(lanes)}
  let C = U(0u);
  let c = select(0u, out, valid);
  let inner = U(2u);
  let n = select(0u, U(1u) * inner, valid);
  let m = MEAN[c];
  let is = INVSTD[c];
  var a1 = 0.0;
  var a2 = 0.0;
  for (var t = lane; t < n; t = t + ${lanes}u) {
    let j = ((t / inner) * C + c) * inner + t % inner;
    let g = DY[j];
    a1 = a1 + g;
    a2 = a2 + g * (X[j] - m) * is;
  }
  s1[li] = a1;
  s2[li] = a2;
  ${barrier(lanes)}
${lanesTree(lanes, "s1[li] = s1[li] + s1[li + s];\n      s2[li] = s2[li] + s2[li + s];")}
  if (valid && lane == 0u) {
    DBETA[c] = s1[li];
    DGAMMA[c] = s2[li];
  }
}`;
}

const BN_GRAD_DX_SRC = `${PRELUDE}
${bindings(
  [
    ["DY", "f32"],
    ["X", "f32"],
    ["GAMMA", "f32"],
    ["MEAN", "f32"],
    ["INVSTD", "f32"],
    ["DGAMMA", "f32"],
    ["DBETA", "f32"],
  ],
  [["DX", "f32"]],
)}
${elementwiseMain(`  // params: total, C, inner, count
  let c = (i / U(2u)) % U(1u);
  let n = f32(U(3u));
  let is = INVSTD[c];
  let xhat = (X[i] - MEAN[c]) * is;
  DX[i] = GAMMA[c] * is * (DY[i] - DBETA[c] / n - xhat * DGAMMA[c] / n);`)}`;

const batchNormGradKernel: Kernel<"batchNormGrad", WebGPUBackend> = (
  b,
  [dy, x, gamma, mean, invstd],
  [dx, dgamma, dbeta],
  at,
) => {
  if (at.channels === 0) return;
  const lanes = reduceLanes(at.outer * at.inner, b.software);
  b.dispatch(
    `bnGradStats:${lanes}`,
    () => bnGradStatsSource(lanes),
    [data(dy), data(x), data(mean), data(invstd)],
    [data(dgamma), data(dbeta)],
    [at.channels, at.outer, at.inner],
    lanesGrid(b, at.channels, lanes),
  );
  runElementwise(
    b,
    "bnGradDx",
    () => BN_GRAD_DX_SRC,
    [dy, x, gamma, mean, invstd, dgamma, dbeta],
    [dx],
    [dx.size, at.channels, at.inner, at.outer * at.inner],
    dx.size,
  );
};

// ---- fused elementwise chains (compiled steps) --------------------------------------------------

/** The WGSL of each fusible op; exhaustive, so a new fusible op is a compile error here. */
const FUSED_WGSL: { [K in FusibleOp]: (a: string, b: string) => string } = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  neg: (a) => `(-${a})`,
  abs: (a) => `abs(${a})`,
};

/** One shader for a chain of elementwise ops: each value a `let`, only the chain's outputs written. */
export function fusedKernel(b: WebGPUBackend, expr: FusedExpr, maxStorage: number): FusedKernel | null {
  if (expr.inputs.length + expr.outputs.length > maxStorage) return null;
  const arg = (a: FusedArg) => ("node" in a ? `v${a.node}` : `x${a.input}`);
  const body = [
    ...expr.inputs.map((k, i) => `  let x${i} = X${i}[${k === "full" ? "i" : "0u"}];`),
    ...expr.nodes.map(
      (n, j) => `  let v${j} = ${FUSED_WGSL[n.op](arg(n.args[0]), n.args[1] ? arg(n.args[1]) : "")};`,
    ),
    ...expr.outputs.map((node, k) => `  Y${k}[i] = v${node};`),
  ].join("\n");
  const source = () => `${PRELUDE}
${bindings(
  expr.inputs.map((_, i): [string, string] => [`X${i}`, "f32"]),
  expr.outputs.map((_, k): [string, string] => [`Y${k}`, "f32"]),
)}
${elementwiseMain(body)}`;
  const key = `fused:${expr.key}`;
  return (ins, outs) => runElementwise(b, key, source, ins, outs, [expr.size], expr.size);
}

// ---- the table --------------------------------------------------------------------------------

export const KERNELS: KernelTable<WebGPUBackend> = {
  ...kernelsFor(UNARY_OPS, unary),
  clamp: clampKernel,
  cast: castKernel,
  ...kernelsFor(BINARY_OPS, binary),
  ...kernelsFor(COMPARE_OPS, binary),
  where: whereKernel,
  sum: reduceKernel("sum"),
  max: reduceKernel("max"),
  min: reduceKernel("min"),
  argmax: reduceKernel("argmax"),
  argmin: reduceKernel("argmin"),
  matmul: matmulKernel,
  strided: stridedKernel,
  concat: concatKernel,
  gather: gatherKernel,
  scatterAdd: scatterAddKernel,
  argsort: argsortKernel,
  cumsum: cumsumKernel,
  conv2d: conv2dKernel,
  conv2dGradInput: conv2dGradInputKernel,
  conv2dGradFilter: conv2dGradFilterKernel,
  maxPool2d: maxPool2dKernel,
  maxPool2dGrad: maxPool2dGradKernel,
  avgPool2d: avgPool2dKernel,
  avgPool2dGrad: avgPool2dGradKernel,
  batchNormTrain: batchNormTrainKernel,
  batchNormGrad: batchNormGradKernel,
};

/** Pipelines worth compiling ahead, asynchronously, when the backend starts. */
type Warm = [key: string, inputs: number, outputs: number, source: () => string];
export function warmPipelines(tile: MatmulTile): Warm[] {
  return [
    ...(
      [
        [false, false],
        [false, true],
        [true, false],
      ] as const
    ).map(([ta, tb]): Warm => {
      const [key, src] = matmulPipeline(tile, ta, tb);
      return [key, 2, 1, src];
    }),
    ...WARM_PIPELINES,
  ];
}

const WARM_PIPELINES: readonly Warm[] = [
  ["strided:2", 1, 1, () => stridedSource(2)],
  ...(["add", "sub", "mul"] as const).flatMap((op) =>
    [1, 2].map(
      (rank): Warm => [`binary:${op}:f32:${rank}`, 2, 1, () => binarySource(op, "f32", "f32", rank)],
    ),
  ),
  ["unary:sigmoid:f32:f32", 1, 1, () => unarySource("sigmoid", "f32", "f32")],
  ["unary:relu:f32:f32", 1, 1, () => unarySource("relu", "f32", "f32")],
  ["reduce:sum:f32:8", 1, 1, () => reduceSource("sum", "f32", 8)],
  ["reduce:sum:f32:128", 1, 1, () => reduceSource("sum", "f32", 128)],
  // Every crossEntropy, Embedding and indexSelect call runs one.
  ["indexCheck", 1, 1, () => INDEX_CHECK_SRC],
];

export type { DType };
