import type { BackwardOptions, Node } from "./autograd";
import { backward } from "./autograd";
import type { Backend, DataId, TensorInfo } from "./backend";
import { traceAssign, traceDispose, traceGradSet, traceRead, tracing } from "./compile/trace";
import type { DType, TypedArray } from "./dtype";
import { ENGINE } from "./engine";
import { formatTensor } from "./format";
import * as ops from "./ops";
import { fmt, type Shape, sizeOf } from "./shape";
import { DOCS } from "./singleton";
import { UNARY_OPS, type UnaryOp } from "./specs";

export type AxisArg = number | readonly number[];

/** One method per op of UNARY_SPECS (`x.atan()`), installed by `installSpecMethods`. */
type UnaryMethods = { [K in UnaryOp]: () => Tensor };

/**
 * An n-dimensional array on one backend. Operations are synchronous (a GPU backend queues the
 * work); reading values is asynchronous: `await t.data()`.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the spec-derived methods declared by the interface below are installed by installSpecMethods()
export class Tensor implements TensorInfo {
  readonly id: number;
  readonly shape: Shape;
  readonly size: number;
  readonly rank: number;
  /** Set when this tensor is a trainable leaf, or the result of an op on one. */
  requiresGrad = false;
  private _grad: Tensor | null = null;
  /** Accumulated gradient of a leaf after `backward()`. */
  get grad(): Tensor | null {
    return this._grad;
  }
  set grad(g: Tensor | null) {
    if (tracing()) traceGradSet(this, this._grad);
    this._grad = g;
  }
  /** Optional name, shown in errors and by modules. */
  name?: string;
  /** @internal the autograd node that produced this tensor. */
  _node: Node | null = null;
  /** @internal the tensor whose buffer this view shares (compile finds a buffer's owner with it). */
  _base: Tensor | null = null;
  private _dataId: DataId;
  private _disposed = false;
  /** @internal */
  _kept = false;
  /** @internal The `tidy` scope that will dispose this tensor, if any (engine.track). */
  _scope: Set<Tensor> | null = null;
  /**
   * @internal Bumped by every in-place change (`assign`). Autograd records it when an op saves
   * this tensor and checks it in backward, so gradients are never computed from changed values.
   */
  _version = 0;

  constructor(
    dataId: DataId,
    shape: Shape,
    readonly dtype: DType,
    public backend: Backend,
  ) {
    this._dataId = dataId;
    // Shapes are frozen: one from another tensor can be shared as it is.
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.size = sizeOf(shape);
    this.rank = shape.length;
    this.id = ENGINE.nextId++;
    ENGINE.track(this);
  }

  get dataId(): DataId {
    this.assertAlive("dataId");
    return this._dataId;
  }

  /** True for tensors not produced by a recorded op (user-created tensors and parameters). */
  get isLeaf(): boolean {
    return this._node === null;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  assertAlive(op: string): void {
    if (this._disposed) {
      throw new Error(
        `${op}: tensor ${this.name ?? `#${this.id}`} of shape ${fmt(this.shape)} was already disposed (see ${DOCS}/memory.md)`,
      );
    }
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** The values as a flat typed array (a copy). */
  async data<T extends TypedArray = TypedArray>(): Promise<T> {
    this.assertAlive("data");
    if (tracing()) traceRead(this, "data()");
    return (await this.backend.read(this._dataId, this.size, this.dtype)) as T;
  }

  /** Synchronous read, only on backends whose memory is host memory (cpu). */
  dataSync<T extends TypedArray = TypedArray>(): T {
    this.assertAlive("dataSync");
    if (tracing()) traceRead(this, "dataSync()");
    if (!this.backend.readSync) {
      throw new Error(
        `dataSync: the '${this.backend.name}' backend reads asynchronously; use await t.data()`,
      );
    }
    return this.backend.readSync(this._dataId, this.size, this.dtype) as T;
  }

  /** The values as nested arrays (bool as booleans). */
  async toArray(): Promise<any> {
    return nest(await this.data(), this.shape, this.dtype);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new Error(`item: expected a tensor with one element, got shape ${fmt(this.shape)}`);
    return (await this.data())[0];
  }

  toString(): string {
    this.assertAlive("toString");
    if (tracing()) traceRead(this, "toString()");
    const values = this.backend.readSync?.(this._dataId, this.size, this.dtype);
    return formatTensor(values, this.shape, this.dtype, this.backend.name, this.requiresGrad);
  }

  // ---- memory ----------------------------------------------------------------------------------

  dispose(): void {
    if (this._disposed) return;
    if (tracing()) traceDispose(this);
    this._disposed = true;
    ENGINE.liveTensors--;
    ENGINE.untrack(this);
    ENGINE.decRef(this._dataId);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Replaces this tensor's values with those of `value` (same shape and dtype), in place. */
  assign(value: Tensor): this {
    this.assertAlive("assign");
    value.assertAlive("assign");
    // The exact shape, not just the size: a [3, 2] value in a [2, 3] tensor would silently
    // reorder what every later op reads.
    if (value.dtype !== this.dtype || !sameShapeAs(value.shape, this.shape)) {
      throw new Error(
        `assign: expected a value of shape ${fmt(this.shape)} and dtype ${this.dtype}, got ${fmt(value.shape)} ${value.dtype}`,
      );
    }
    if (value.backend !== this.backend)
      throw new Error(`assign: value lives on '${value.backend.name}', not '${this.backend.name}'`);
    if (tracing()) traceAssign(this, value);
    this._setData(value.dataId);
    return this;
  }

  /** @internal Points this tensor at another buffer of its size and dtype (assign; compiled steps). */
  _setData(id: DataId): void {
    ENGINE.incRef(id);
    ENGINE.decRef(this._dataId);
    this._dataId = id;
    this._version++;
  }

  /** A new tensor sharing this one's values, cut from the autograd graph. */
  detach(): Tensor {
    return ops.view(this, this.shape, false);
  }

  /** Marks this tensor as a trainable leaf (in place) and returns it. */
  requiresGrad_(flag = true): this {
    if (flag && this.dtype !== "float32") {
      throw new Error(`requiresGrad: only float32 tensors can require gradients, got ${this.dtype}`);
    }
    this.requiresGrad = flag;
    return this;
  }

  /**
   * Reverse-mode autograd from this tensor; a non-scalar needs the gradient of the output. The graph
   * is released afterwards, so a second backward through it is an error unless the first one
   * passed `{ retainGraph: true }` (as in PyTorch). Accepts `backward(opts)` for scalar outputs.
   */
  backward(grad?: Tensor | BackwardOptions, opts?: BackwardOptions): void {
    if (grad !== undefined && !(grad instanceof Tensor)) backward(this, undefined, grad);
    else backward(this, grad, opts);
  }

  /** Copies this tensor to another backend (asynchronous when the source is a GPU). */
  async to(backendName: string): Promise<Tensor> {
    return ops.toBackend(this, backendName);
  }

  clone(): Tensor {
    return ops.clone(this);
  }

  // ---- ops as methods ----------------------------------------------------------------------------
  add(b: Tensor | number): Tensor {
    return ops.add(this, b);
  }
  sub(b: Tensor | number): Tensor {
    return ops.sub(this, b);
  }
  mul(b: Tensor | number): Tensor {
    return ops.mul(this, b);
  }
  div(b: Tensor | number): Tensor {
    return ops.div(this, b);
  }
  pow(b: Tensor | number): Tensor {
    return ops.pow(this, b);
  }
  maximum(b: Tensor | number): Tensor {
    return ops.maximum(this, b);
  }
  minimum(b: Tensor | number): Tensor {
    return ops.minimum(this, b);
  }
  eq(b: Tensor | number): Tensor {
    return ops.eq(this, b);
  }
  ne(b: Tensor | number): Tensor {
    return ops.ne(this, b);
  }
  lt(b: Tensor | number): Tensor {
    return ops.lt(this, b);
  }
  le(b: Tensor | number): Tensor {
    return ops.le(this, b);
  }
  gt(b: Tensor | number): Tensor {
    return ops.gt(this, b);
  }
  ge(b: Tensor | number): Tensor {
    return ops.ge(this, b);
  }
  square(): Tensor {
    return ops.square(this);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return ops.clamp(this, min, max);
  }
  cast(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }
  float(): Tensor {
    return ops.cast(this, "float32");
  }
  /** int32: minibatch has no int64, so PyTorch's `long()` gives int32. */
  long(): Tensor {
    return ops.cast(this, "int32");
  }
  bool(): Tensor {
    return ops.cast(this, "bool");
  }
  int(): Tensor {
    return ops.cast(this, "int32");
  }
  softmax(axis = -1): Tensor {
    return ops.softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  }
  logSumExp(axis?: AxisArg, keepDims = false): Tensor {
    return ops.logSumExp(this, axis, keepDims);
  }
  sum(axis?: AxisArg, keepDims = false): Tensor {
    return ops.sum(this, axis, keepDims);
  }
  mean(axis?: AxisArg, keepDims = false): Tensor {
    return ops.mean(this, axis, keepDims);
  }
  var(axis?: AxisArg, opts?: { correction?: number; keepDims?: boolean }): Tensor {
    return ops.variance(this, axis, opts);
  }
  std(axis?: AxisArg, opts?: { correction?: number; keepDims?: boolean }): Tensor {
    return ops.std(this, axis, opts);
  }
  max(axis?: AxisArg, keepDims = false): Tensor {
    return ops.max(this, axis, keepDims);
  }
  min(axis?: AxisArg, keepDims = false): Tensor {
    return ops.min(this, axis, keepDims);
  }
  argmax(axis?: number, keepDims = false): Tensor {
    return ops.argmax(this, axis, keepDims);
  }
  argmin(axis?: number, keepDims = false): Tensor {
    return ops.argmin(this, axis, keepDims);
  }
  matmul(b: Tensor): Tensor {
    return ops.matmul(this, b);
  }
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  view(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten(this, startDim, endDim);
  }
  squeeze(axis?: AxisArg): Tensor {
    return ops.squeeze(this, axis);
  }
  unsqueeze(axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  }
  permute(...perm: number[]): Tensor {
    return ops.permute(this, perm);
  }
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return ops.transpose(this, dim0, dim1);
  }
  /** The transpose of a 2-d tensor (PyTorch `t.T`). */
  get T(): Tensor {
    return ops.transpose(this, 0, this.rank > 1 ? 1 : 0);
  }
  expand(shape: readonly number[]): Tensor {
    return ops.expand(this, shape);
  }
  broadcastTo(shape: readonly number[]): Tensor {
    return ops.expand(this, shape);
  }
  slice(begin: readonly number[], size?: readonly number[]): Tensor {
    return ops.slice(this, begin, size);
  }
  narrow(axis: number, start: number, length: number): Tensor {
    return ops.narrow(this, axis, start, length);
  }
  split(sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
    return ops.split(this, sizeOrSections, axis);
  }
  indexSelect(axis: number, indices: Tensor | readonly number[]): Tensor {
    return ops.indexSelect(this, axis, indices);
  }
  gather(indices: Tensor | readonly number[], axis = 0): Tensor {
    return ops.indexSelect(this, axis, indices);
  }
  where(cond: Tensor, other: Tensor | number): Tensor {
    return ops.where(cond, this, other);
  }
  /** `value` where `mask` is true (PyTorch `masked_fill`). */
  maskedFill(mask: Tensor, value: number): Tensor {
    return ops.maskedFill(this, mask, value);
  }
  argsort(opts?: ops.SortOptions): Tensor {
    return ops.argsort(this, opts);
  }
  sort(opts?: ops.SortOptions): { values: Tensor; indices: Tensor } {
    return ops.sort(this, opts);
  }
  topk(k: number, opts?: ops.TopkOptions): { values: Tensor; indices: Tensor } {
    return ops.topk(this, k, opts);
  }
  cumsum(dim: number): Tensor {
    return ops.cumsum(this, dim);
  }
  takeAlongDim(indices: Tensor, dim: number): Tensor {
    return ops.takeAlongDim(this, indices, dim);
  }
  /**
   * Clamps in place: this tensor's buffer is replaced by the clamped values (PyTorch `clamp_`).
   * As in PyTorch, a tensor that requires a gradient can be changed in place only under `noGrad`.
   */
  clamp_(min?: number | null, max?: number | null): this {
    if (this.requiresGrad && ENGINE.gradEnabled) {
      throw new Error(
        "clamp_: a tensor that requires a gradient cannot be changed in place while autograd records; wrap it in noGrad(() => ...) or use clamp()",
      );
    }
    const v = ops.clamp(this, min, max);
    const c = v.dtype === this.dtype ? v : ops.cast(v, this.dtype);
    try {
      this.assign(c);
    } finally {
      v.dispose();
      c.dispose();
    }
    return this;
  }
}

function sameShapeAs(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function nest(values: TypedArray, shape: Shape, dtype: DType): any {
  const conv = dtype === "bool" ? (v: number) => v !== 0 : (v: number) => v;
  if (shape.length === 0) return conv(values[0]);
  const rec = (dim: number, offset: number): any[] => {
    const n = shape[dim];
    const out = new Array(n);
    if (dim === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = conv(values[offset + i]);
      return out;
    }
    const step = sizeOf(shape.slice(dim + 1));
    for (let i = 0; i < n; i++) out[i] = rec(dim + 1, offset + i * step);
    return out;
  };
  return rec(0, 0);
}

// The class and this interface merge: the interface declares the spec-derived methods, which
// installSpecMethods() puts on the prototype, so a new op in UNARY_SPECS is a method with no edit here.
export interface Tensor extends UnaryMethods {}

/** Installs a method per op of UNARY_SPECS; called once by the package entry, after every module loaded. */
export function installSpecMethods(): void {
  for (const op of UNARY_OPS) {
    Object.defineProperty(Tensor.prototype, op, {
      value: function (this: Tensor) {
        return ops.unaryOp(op, this);
      },
      writable: true,
      configurable: true,
    });
  }
}
