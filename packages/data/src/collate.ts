import { fromArray, stack, type Tensor, type TypedArray } from "@minibatch/tensor";
import { collateHost, type HostBatch } from "./collate-host";
import { formatShape, type NDArray } from "./ndarray";

/**
 * The batch `defaultCollate` makes from samples of type `T`, and so the type a `DataLoader`
 * without a `collate` yields: tensors, numbers, booleans, typed arrays and NDArrays become one
 * stacked `Tensor`; tuples, arrays and plain objects are collated field by field; strings and
 * nulls are kept as lists.
 */
export type Collated<T> = T extends Tensor | number | boolean | TypedArray | NDArray
  ? Tensor
  : T extends string | null | undefined
    ? T[]
    : T extends readonly unknown[]
      ? { -readonly [K in keyof T]: Collated<T[K]> }
      : T extends object
        ? { [K in keyof T]: Collated<T[K]> }
        : unknown;

/** Turns a host batch into tensors on the active backend (one upload per leaf). */
export function hostBatchToTensors(b: HostBatch, path = ""): unknown {
  switch (b.k) {
    case "nd":
      return fromArray(b.data, b.shape, b.dtype);
    case "tuple":
      return b.items.map((item, i) => hostBatchToTensors(item, `${path}[${i}]`));
    case "record": {
      const out: Record<string, unknown> = {};
      for (const key in b.fields) out[key] = hostBatchToTensors(b.fields[key], path ? `${path}.${key}` : key);
      return out;
    }
    case "list":
      return b.values;
    case "tensors": {
      const ts = b.tensors as Tensor[];
      const s0 = ts[0].shape;
      for (let i = 1; i < ts.length; i++) {
        const s = ts[i].shape;
        if (s.length !== s0.length || s.some((d, j) => d !== s0[j])) {
          throw new Error(
            `collate: samples have unequal shapes${path ? ` at '${path}'` : ""}: sample 0 has shape ${formatShape(s0)}, sample ${i} has shape ${formatShape(s)}; pad or crop them to one shape, or pass a custom collate`,
          );
        }
        if (ts[i].dtype !== ts[0].dtype) {
          throw new Error(
            `collate: samples have different dtypes${path ? ` at '${path}'` : ""}: ${ts[0].dtype} and ${ts[i].dtype}`,
          );
        }
      }
      return stack(ts, 0);
    }
  }
}

/**
 * The default collate: stacks tensors, typed arrays, NDArrays and numbers along a new first axis
 * and recurses into tuples (arrays) and records (plain objects). Numbers become float32 (as in
 * `tensor()`); give integer labels as `int32Scalar(label)` to get an int32 batch.
 */
export function defaultCollate<T = unknown>(samples: readonly unknown[]): T {
  return hostBatchToTensors(collateHost(samples)) as T;
}
