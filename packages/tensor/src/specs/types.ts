import type { Tensor } from "../tensor";

/**
 * How an elementwise op treats dtypes, decided once in its spec and applied by the front end before
 * any kernel runs (so a kernel only ever sees the dtype it computes in):
 * - `float`: int32 and bool inputs are cast to float32; the output is float32.
 * - `numeric`: bool inputs are cast to int32; int32 stays int32, float32 stays float32.
 * - `bool`: the input is cast to bool; the output is bool.
 */
export type DTypePolicy = "float" | "numeric" | "bool";

/** Inputs of the conformance cases derived from a spec (see packages/testing's specs.test.ts). */
export interface SpecCases {
  /** Inputs whose outputs are compared with `ref` on every backend (include edge values). */
  values: readonly number[];
  /** Points where the gradient is checked against finite differences (keep clear of kinks). */
  grad?: readonly number[];
}

/** One elementwise unary op, declared once. */
export interface UnarySpec {
  dtype: DTypePolicy;
  /** Float64 reference: the value the conformance suite expects and the reference backend computes. */
  ref: (x: number) => number;
  /** dL/dx from dL/dy (`g`), the input and the output; null for ops without a gradient. */
  grad: ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null;
  cases: SpecCases;
  /** One line for the API reference. */
  doc: string;
}

/** One elementwise binary op with broadcasting, declared once. */
export interface BinarySpec {
  /**
   * `numeric`: the operands are promoted to a common dtype (bool < int32 < float32);
   * `float`: as numeric, then int32 is computed in float32 (true division, as PyTorch);
   * `compare`: as numeric, the output is bool.
   */
  dtype: "numeric" | "float" | "compare";
  ref: (a: number, b: number) => number;
  /** Gradients with respect to a and b, before they are summed back to the operands' shapes. */
  grad: {
    a: ((g: Tensor, a: Tensor, b: Tensor, y: Tensor) => Tensor) | null;
    b: ((g: Tensor, a: Tensor, b: Tensor, y: Tensor) => Tensor) | null;
  } | null;
  cases: { a: readonly number[]; b: readonly number[]; grad?: boolean };
  doc: string;
}
