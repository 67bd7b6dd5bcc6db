import type { FusedExpr, FusedKernel } from "./compile/fuse";
import type { DType, TypedArray } from "./dtype";
import type { IndexCheck } from "./index-errors";
import type { Shape } from "./shape";
import type { BinaryOp, CompareOp, UnaryOp } from "./specs";

export type { BinaryOp, CompareOp, UnaryOp } from "./specs";
export { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from "./specs";

/**
 * The backend contract. A backend stores flat buffers and runs kernels; it knows nothing about
 * autograd, broadcasting rules or shapes beyond what a kernel's attributes spell out. Output
 * buffers are allocated by the engine (through `alloc`) before a kernel runs, so every kernel is
 * "read inputs, write outputs": shape logic lives once, in the front end.
 *
 * Kernels come in two tiers (see `KernelTable`): the primitives every backend must implement, and
 * optional fused kernels (`FUSED_OPS`) that the core composes from primitives when a backend does
 * not provide them. A backend with primitives only passes the whole conformance suite.
 */
export interface Backend {
  readonly name: string;
  alloc(size: number, dtype: DType): DataId;
  write(id: DataId, values: TypedArray): void;
  /** Reads a buffer back; asynchronous because a GPU must map a staging buffer. */
  read(id: DataId, size: number, dtype: DType): Promise<TypedArray>;
  /** Synchronous read, only where the memory is host memory (the CPU backend). */
  readSync?(id: DataId, size: number, dtype: DType): TypedArray;
  free(id: DataId): void;
  /** Live buffers and their bytes, as the backend sees them (pool free lists excluded). */
  memory(): { buffers: number; bytes: number };
  /**
   * Enforces a data-dependent index check (see index-errors.ts). Optional: without it the core
   * checks by `readSync`. A GPU backend records the first violation on the device and throws the
   * same error as `assertIndices` on the next `read` or `sync`.
   */
  checkIndices?(indices: TensorInfo, check: IndexCheck): void;
  /**
   * Runs the launches of a compiled step (see `compile`) as one unit. Optional: a GPU backend
   * records them into one command buffer and may leave it open, so that the following steps join
   * the same submit until a value is read.
   */
  runProgram?(replay: () => void): void;
  /**
   * Compiles a chain of elementwise ops into one kernel, for compiled steps. Optional: without it
   * (or when it returns null) the ops run one by one. The kernel must compute what the ops compute
   * one at a time, bit for bit (the fusible ops are exactly rounded).
   */
  fuseElementwise?(expr: FusedExpr): FusedKernel | null;
  /** Waits for queued work; errors from the device surface here or on the next read. */
  sync?(): Promise<void>;
  dispose?(): void;
  /** True once the device is gone (a GPU lost); `setBackend` then creates a fresh backend. */
  readonly lost?: boolean;
  readonly kernels: KernelTable<any>;
}

/** An opaque handle owned by one backend (a typed array, a GPUBuffer, ...). */
export type DataId = object;

export interface TensorInfo {
  readonly dataId: DataId;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
}

/** A reduction sees its input as [outer, reduce, inner] and writes [outer, inner]. */
export interface ReduceAttrs {
  outer: number;
  reduce: number;
  inner: number;
}

/** An op along one axis sees its input as [outer, n, inner]. */
export interface ScanAttrs {
  outer: number;
  n: number;
  inner: number;
}

export interface Conv2dAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export interface Pool2dAttrs {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

/** Batch norm sees x as [outer, C, inner]: statistics per C over outer * inner elements. */
export interface BatchNormAttrs {
  outer: number;
  channels: number;
  inner: number;
  eps: number;
}

type None = Record<string, never>;

/**
 * Every kernel, with its attributes. Inputs and outputs are listed in comments; the engine
 * guarantees inputs already have the dtype the kernel computes in (casts happen in the front end).
 * Elementwise binary kernels receive `aStrides`/`bStrides` that read each input broadcast to the
 * output shape, so no broadcast copy is materialized.
 */
/** Elementwise unary ops, [x] -> [y] of the same shape: one per entry of UNARY_SPECS. */
type UnaryAttrsTable = { [K in UnaryOp]: None };
/** Elementwise binary ops with broadcasting, [a, b] -> [y]: one per entry of BINARY_SPECS / COMPARE_SPECS. */
type BinaryAttrsTable = { [K in BinaryOp | CompareOp]: BinaryAttrs };

export interface OpAttrs extends UnaryAttrsTable, BinaryAttrsTable {
  // [x] -> [y] same shape
  clamp: { min: number; max: number };
  cast: None;
  // [cond, a, b] -> [y]
  where: { condStrides: number[]; aStrides: number[]; bStrides: number[] };
  // reductions, [x] -> [y]
  sum: ReduceAttrs;
  max: ReduceAttrs;
  min: ReduceAttrs;
  argmax: ReduceAttrs;
  argmin: ReduceAttrs;
  /** [a (batchA, M, K) or transposed, b (batchB, K, N) or transposed] -> [(batch, M, N)]; batchA/B is 1 or batch. */
  matmul: {
    batch: number;
    m: number;
    n: number;
    k: number;
    transA: boolean;
    transB: boolean;
    batchA: number;
    batchB: number;
  };
  /** [x] -> [y]: y[i] = x[offset + sum(index_d(i) * strides[d])]; covers transpose, expand and slice. */
  strided: { strides: number[]; offset: number };
  /** [x0, x1, ...] -> [y], each xi seen as [outer, sizes[i] * inner] */
  concat: { outer: number; sizes: number[]; inner: number };
  /** [x (outer, dim, inner), indices int32 (n)] -> [y (outer, n, inner)] */
  gather: { outer: number; dim: number; inner: number; n: number };
  /** [src (outer, n, inner), indices int32 (n)] -> [y (outer, dim, inner)], y zeroed then y[idx] += src */
  scatterAdd: { outer: number; dim: number; inner: number; n: number };
  /**
   * [x (outer, n, inner)] -> [indices int32 (outer, n, inner)]: a stable sort of each of the
   * outer * inner rows of length n; NaN sorts above everything (last ascending, first descending).
   */
  argsort: ScanAttrs & { descending: boolean };
  /** [x (outer, n, inner)] -> [y]: running sums along n, from the end when `reverse`. */
  cumsum: ScanAttrs & { reverse: boolean };
  /** [x (N, C, H, W), w (O, C/groups, KH, KW)] -> [y (N, O, OH, OW)] */
  conv2d: Conv2dAttrs;
  /** [dy (N, O, OH, OW), w] -> [dx (N, C, H, W)] */
  conv2dGradInput: Conv2dAttrs;
  /** [x, dy] -> [dw (O, C/groups, KH, KW)] */
  conv2dGradFilter: Conv2dAttrs;
  /** [x (N, C, H, W)] -> [y (N, C, OH, OW)] */
  maxPool2d: Pool2dAttrs;
  /** [x, dy] -> [dx] */
  maxPool2dGrad: Pool2dAttrs;
  avgPool2d: Pool2dAttrs;
  /** [dy] -> [dx (N, C, H, W)] */
  avgPool2dGrad: Pool2dAttrs;
  /** [x, gamma (C), beta (C)] -> [y, mean (C), invstd (C), var unbiased (C)] in one fused pass over the statistics. */
  batchNormTrain: BatchNormAttrs;
  /** [dy, x, gamma, mean, invstd] -> [dx, dgamma, dbeta] from the closed form. */
  batchNormGrad: BatchNormAttrs;
}

export interface BinaryAttrs {
  aStrides: readonly number[];
  bStrides: readonly number[];
}

export type OpName = keyof OpAttrs;

export type Kernel<K extends OpName, B extends Backend = Backend> = (
  backend: B,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  attrs: OpAttrs[K],
) => void;

/**
 * Fused kernels: optional. Each has a default in the core composed from primitives
 * (`packages/tensor/src/defaults/`); a backend overrides one when it can do better, and the
 * conformance suite compares the override with the default.
 */
export const FUSED_OPS = [
  "conv2dGradInput",
  "conv2dGradFilter",
  "maxPool2dGrad",
  "avgPool2dGrad",
  "batchNormTrain",
  "batchNormGrad",
  "argsort",
  "cumsum",
] as const satisfies readonly OpName[];
export type FusedOp = (typeof FUSED_OPS)[number];
/** The ops every backend must implement. */
export type PrimitiveOp = Exclude<OpName, FusedOp>;

/**
 * Exhaustive by op name: a backend that lacks a primitive does not compile; fused kernels may be
 * left out, and the core then runs their default composed from primitives.
 */
export type KernelTable<B extends Backend = Backend> = { [K in PrimitiveOp]: Kernel<K, B> } & {
  [K in FusedOp]?: Kernel<K, B>;
};

export const REDUCE_OPS = ["sum", "max", "min", "argmax", "argmin"] as const satisfies readonly OpName[];
export type ReduceOp = (typeof REDUCE_OPS)[number];

/**
 * A kernel per op of a family (`kernelsFor(UNARY_OPS, unaryKernel)`), in the shape a KernelTable
 * wants: for ops of one family, which share their attributes, one factory covers the spec table.
 */
export function kernelsFor<K extends OpName, B extends Backend>(
  ops: readonly K[],
  make: (op: K) => Kernel<K, B>,
): { [P in K]: Kernel<P, B> } {
  const out = {} as Record<K, Kernel<K, B>>;
  for (const op of ops) out[op] = make(op);
  return out as unknown as { [P in K]: Kernel<P, B> };
}

/**
 * The `default:` of a switch over op names: the argument has type `never` when every case is
 * handled, so a new op that a kernel forgets is a compile error there.
 */
export function assertNever(op: never, where = "kernel"): never {
  throw new Error(`internal: ${where} has no case for op '${String(op)}'`);
}
