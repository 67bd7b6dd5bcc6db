/** Element types. `bool` is stored as one byte per element (0 or 1) on the CPU. */
export type DType = "float32" | "int32" | "bool";
export const DTYPES: readonly DType[] = ["float32", "int32", "bool"];

export type TypedArray = Float32Array | Int32Array | Uint8Array;
export type ArrayFor<D extends DType> = D extends "float32"
  ? Float32Array
  : D extends "int32"
    ? Int32Array
    : Uint8Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, int32: 4, bool: 1 };

export function allocArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

export function isDType(x: unknown): x is DType {
  return x === "float32" || x === "int32" || x === "bool";
}

/** The dtype arithmetic between a and b produces (PyTorch's promotion, restricted to our dtypes). */
export function promote(a: DType, b: DType): DType {
  if (a === "float32" || b === "float32") return "float32";
  return "int32";
}

export function dtypeOfArray(a: ArrayLike<number>): DType | undefined {
  if (a instanceof Float32Array || a instanceof Float64Array) return "float32";
  if (a instanceof Int32Array || a instanceof Int16Array || a instanceof Int8Array) return "int32";
  if (a instanceof Uint8Array || a instanceof Uint16Array || a instanceof Uint8ClampedArray) return "int32";
  return undefined;
}
