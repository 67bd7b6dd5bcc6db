import type { HostDType } from "./ndarray";
import { allocHost, dtypeOfTypedArray, formatShape, isNDArray, isTypedArray, NDArray } from "./ndarray";

/**
 * A collated batch before it becomes tensors: plain data that survives structured cloning, so a
 * worker thread can build it and transfer the typed arrays to the main thread without copying.
 */
export type HostBatch =
  | { k: "nd"; data: Float32Array | Int32Array | Uint8Array; shape: number[]; dtype: HostDType }
  | { k: "tuple"; items: HostBatch[] }
  | { k: "record"; fields: Record<string, HostBatch> }
  /** Values that have no tensor form (strings, null): kept as a list, as PyTorch does. */
  | { k: "list"; values: unknown[] }
  /** Tensors, stacked on the main thread (never produced inside a worker). */
  | { k: "tensors"; tensors: unknown[] };

/** The typed array that holds each host dtype. */
export interface HostArrayOf {
  float32: Float32Array;
  int32: Int32Array;
  bool: Uint8Array;
}

/**
 * Where a dataset's `getBatch` takes its output arrays from. An array may be recycled from an
 * earlier batch and still hold its values, so the dataset must write every element.
 */
export type HostAlloc = <D extends HostDType>(dtype: D, size: number) => HostArrayOf[D];

/** A new (zeroed) array every time: the default where nothing recycles batches. */
export const freshHost: HostAlloc = <D extends HostDType>(dtype: D, size: number) =>
  allocHost(dtype, size) as HostArrayOf[D];

/**
 * Recycles the typed arrays of host batches once they have become tensors. Allocating a fresh
 * batch-sized array costs more than filling it (the memory is zeroed, and touched for the first
 * time), which for small decoded batches (MNIST at batch 60) is a large part of an epoch. Only
 * arrays this pool lent are taken back: a dataset may put views of its own memory in a batch.
 */
export class HostArrayPool {
  private readonly free = new Map<string, HostArrayOf[HostDType][]>();
  /** Lent arrays and their free-list key (kept here, as a batch might label one with another dtype). */
  private readonly lent = new WeakMap<object, string>();

  readonly alloc: HostAlloc = <D extends HostDType>(dtype: D, size: number): HostArrayOf[D] => {
    const key = `${dtype}:${size}`;
    const a = (this.free.get(key)?.pop() ?? allocHost(dtype, size)) as HostArrayOf[D];
    this.lent.set(a, key);
    return a;
  };

  /**
   * Takes back the lent arrays of `b`. Call it only when nothing reads them any more: after
   * `hostBatchToTensors`, whose tensors hold copies (a backend writes the values into storage of
   * its own that the engine allocated first, or queues them to a GPU at once).
   */
  release(b: HostBatch): void {
    switch (b.k) {
      case "nd": {
        const a = b.data;
        const key = this.lent.get(a);
        if (key === undefined) return;
        this.lent.delete(a);
        const list = this.free.get(key);
        if (list) list.push(a);
        else this.free.set(key, [a]);
        return;
      }
      case "tuple":
        for (const item of b.items) this.release(item);
        return;
      case "record":
        for (const key in b.fields) this.release(b.fields[key]);
        return;
    }
  }
}

export function isTensorLike(x: unknown): boolean {
  return (
    typeof x === "object" &&
    x !== null &&
    !isTypedArray(x) &&
    "dataId" in (x as object) &&
    "shape" in (x as object) &&
    "dtype" in (x as object)
  );
}

function isPlainRecord(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function kindOf(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (typeof x === "number") return "number";
  if (typeof x === "boolean") return "boolean";
  if (typeof x === "string") return "string";
  if (isNDArray(x)) return "ndarray";
  if (isTypedArray(x)) return "typedarray";
  if (isTensorLike(x)) return "tensor";
  if (Array.isArray(x)) return "tuple";
  if (isPlainRecord(x)) return "record";
  return (x as object).constructor?.name ?? typeof x;
}

const where = (path: string) => (path ? ` at '${path}'` : "");

/**
 * Stacks samples along a new first axis: numbers and booleans become [batch] arrays, typed arrays
 * and NDArrays [batch, ...shape]; arrays (tuples) and plain objects collate field by field.
 */
export function collateHost(samples: readonly unknown[], path = "", alloc: HostAlloc = freshHost): HostBatch {
  if (samples.length === 0) throw new Error("collate: cannot collate an empty batch");
  const first = samples[0];
  const kind = kindOf(first);
  for (let i = 1; i < samples.length; i++) {
    const k = kindOf(samples[i]);
    const same =
      k === kind ||
      ((k === "ndarray" || k === "typedarray") && (kind === "ndarray" || kind === "typedarray"));
    if (!same) {
      throw new Error(`collate: sample 0 is a ${kind} but sample ${i} is a ${k}${where(path)}`);
    }
  }
  switch (kind) {
    case "number": {
      const out = alloc("float32", samples.length);
      for (let i = 0; i < samples.length; i++) out[i] = samples[i] as number;
      return { k: "nd", data: out, shape: [samples.length], dtype: "float32" };
    }
    case "boolean": {
      const out = alloc("bool", samples.length);
      for (let i = 0; i < samples.length; i++) out[i] = samples[i] ? 1 : 0;
      return { k: "nd", data: out, shape: [samples.length], dtype: "bool" };
    }
    case "ndarray":
    case "typedarray":
      return stackArrays(samples, path, alloc);
    case "tensor":
      return { k: "tensors", tensors: [...samples] };
    case "tuple": {
      const n = (first as unknown[]).length;
      for (let i = 1; i < samples.length; i++) {
        const m = (samples[i] as unknown[]).length;
        if (m !== n) {
          throw new Error(
            `collate: sample 0 is a tuple of ${n} items but sample ${i} has ${m}${where(path)}`,
          );
        }
      }
      const items: HostBatch[] = [];
      for (let j = 0; j < n; j++) {
        items.push(
          collateHost(
            samples.map((s) => (s as unknown[])[j]),
            path ? `${path}[${j}]` : `[${j}]`,
            alloc,
          ),
        );
      }
      return { k: "tuple", items };
    }
    case "record": {
      const keys = Object.keys(first as object);
      for (let i = 1; i < samples.length; i++) {
        const other = Object.keys(samples[i] as object);
        if (other.length !== keys.length || other.some((key) => !(key in (first as object)))) {
          throw new Error(
            `collate: sample 0 has fields {${keys.join(", ")}} but sample ${i} has {${other.join(", ")}}${where(path)}`,
          );
        }
      }
      const fields: Record<string, HostBatch> = {};
      for (const key of keys) {
        fields[key] = collateHost(
          samples.map((s) => (s as Record<string, unknown>)[key]),
          path ? `${path}.${key}` : key,
          alloc,
        );
      }
      return { k: "record", fields };
    }
    case "string":
    case "null":
    case "undefined":
      return { k: "list", values: [...samples] };
    default:
      throw new Error(
        `collate: cannot collate a ${kind}${where(path)}; samples may hold numbers, booleans, typed arrays, NDArrays, tensors, strings, arrays and plain objects (or pass a custom collate)`,
      );
  }
}

function stackArrays(samples: readonly unknown[], path: string, alloc: HostAlloc): HostBatch {
  const asNd = (x: unknown) => (isNDArray(x) ? x : new NDArray(x as NDArray["data"]));
  const first = asNd(samples[0]);
  const shape = first.shape;
  const size = first.size;
  const dtype = first.dtype;
  const out: HostArrayOf[HostDType] = alloc(dtype, size * samples.length);
  for (let i = 0; i < samples.length; i++) {
    const a = i === 0 ? first : asNd(samples[i]);
    if (a.shape.length !== shape.length || a.shape.some((d, j) => d !== shape[j])) {
      throw new Error(
        `collate: samples have unequal shapes${where(path)}: sample 0 has shape ${formatShape(shape)}, sample ${i} has shape ${formatShape(a.shape)}; pad or crop them to one shape, or pass a custom collate`,
      );
    }
    if (a.dtype !== dtype) {
      throw new Error(
        `collate: samples have different dtypes${where(path)}: sample 0 is ${dtype}, sample ${i} is ${a.dtype}`,
      );
    }
    out.set(a.data, i * size);
  }
  return { k: "nd", data: out, shape: [samples.length, ...shape], dtype };
}

/** The typed-array buffers of a host batch, to transfer rather than copy between threads. */
export function transferables(b: HostBatch, out: ArrayBuffer[] = []): ArrayBuffer[] {
  switch (b.k) {
    case "nd":
      if (b.data.buffer instanceof ArrayBuffer && !out.includes(b.data.buffer)) out.push(b.data.buffer);
      break;
    case "tuple":
      for (const item of b.items) transferables(item, out);
      break;
    case "record":
      for (const key in b.fields) transferables(b.fields[key], out);
      break;
  }
  return out;
}

export { dtypeOfTypedArray };
