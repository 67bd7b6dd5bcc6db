/**
 * Host-side arrays: samples and batches before they become tensors. Kept free of
 * @minibatch/tensor so that worker threads can load and collate without a backend.
 */

export type HostDType = "float32" | "int32" | "bool";

export type HostTypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | Uint8ClampedArray;

// A registry symbol rather than instanceof, so that NDArrays made by the CJS and ESM builds (or by
// the separately bundled node entry) are recognized alike.
const BRAND = Symbol.for("@minibatch/data.NDArray");

/** A typed array with a shape and the tensor dtype it becomes when collated. */
export class NDArray {
  readonly [BRAND] = true;
  readonly shape: readonly number[];
  readonly size: number;
  constructor(
    readonly data: HostTypedArray,
    shape?: readonly number[],
    readonly dtype: HostDType = dtypeOfTypedArray(data),
  ) {
    this.shape = Object.freeze([...(shape ?? [data.length])]);
    this.size = this.shape.reduce((a, b) => a * b, 1);
    if (this.size !== data.length) {
      throw new Error(`ndarray: ${data.length} values cannot fill shape ${formatShape(this.shape)}`);
    }
  }
}

/**
 * Wraps a typed array as a sample field with an explicit shape and dtype. Use it for scalar
 * integer labels (`ndarray(Int32Array.of(label), [], "int32")`), since plain numbers collate to float32.
 */
export function ndarray(data: HostTypedArray, shape?: readonly number[], dtype?: HostDType): NDArray {
  return new NDArray(data, shape, dtype);
}

/** An int32 scalar sample field (a class label), which collates into an int32 tensor of shape [batch]. */
export function int32Scalar(value: number): NDArray {
  return new NDArray(Int32Array.of(value), [], "int32");
}

export function isNDArray(x: unknown): x is NDArray {
  return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
}

export function isTypedArray(x: unknown): x is HostTypedArray {
  return (
    ArrayBuffer.isView(x) &&
    !(x instanceof DataView) &&
    !(x instanceof BigInt64Array) &&
    !(x instanceof BigUint64Array)
  );
}

/** The tensor dtype a typed array collates to; integer arrays become int32, like `tensor()` does. */
export function dtypeOfTypedArray(a: HostTypedArray): HostDType {
  if (a instanceof Float32Array || a instanceof Float64Array) return "float32";
  return "int32";
}

export function allocHost(dtype: HostDType, size: number): Float32Array | Int32Array | Uint8Array {
  if (dtype === "float32") return new Float32Array(size);
  if (dtype === "int32") return new Int32Array(size);
  return new Uint8Array(size);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
