import { abs, add, cast, div, eq, gt, log, lt, mul, neg, pow, sub, where } from "../ops/elementwise";
import type { Tensor } from "../tensor";
import type { BinarySpec } from "./types";

// Called inside the gradient (not at load): the op modules and this table import each other.
/** Gradient of the elementwise max/min: to the chosen operand, split evenly on ties (as PyTorch). */
const pick = (chosen: (p: Tensor, q: Tensor) => Tensor) => (g: Tensor, p: Tensor, q: Tensor) =>
  mul(g, add(cast(chosen(p, q), "float32"), mul(cast(eq(p, q), "float32"), 0.5)));

const A = [-2.5, -1, 0, 0.5, 3, 7] as const;
const B = [1.5, -2, 4, 0.5, -3, 2] as const;

/**
 * Every elementwise binary op (broadcasting), one entry each. As with UNARY_SPECS, `BinaryOp` and
 * `CompareOp` are these keys, and the kernel tables, front end and conformance cases follow.
 */
export const BINARY_SPECS = {
  add: {
    dtype: "numeric",
    ref: (a, b) => a + b,
    grad: { a: (g) => g, b: (g) => g },
    cases: { a: A, b: B, grad: true },
    doc: "Elementwise a + b, broadcast.",
  },
  sub: {
    dtype: "numeric",
    ref: (a, b) => a - b,
    grad: { a: (g) => g, b: (g) => neg(g) },
    cases: { a: A, b: B, grad: true },
    doc: "Elementwise a - b, broadcast.",
  },
  mul: {
    dtype: "numeric",
    ref: (a, b) => a * b,
    grad: { a: (g, _a, b) => mul(g, b), b: (g, a) => mul(g, a) },
    cases: { a: A, b: B, grad: true },
    doc: "Elementwise a * b, broadcast.",
  },
  div: {
    dtype: "float",
    ref: (a, b) => a / b,
    grad: { a: (g, _a, b) => div(g, b), b: (g, _a, b, y) => neg(div(mul(g, y), b)) },
    cases: { a: A, b: B, grad: true },
    doc: "Elementwise true division a / b (integers divide in float32, as PyTorch).",
  },
  pow: {
    dtype: "float",
    ref: (a, b) => a ** b,
    grad: {
      a: (g, a, b) => mul(g, mul(b, pow(a, sub(b, 1)))),
      // d/db a^b = a^b log a; where a == 0 PyTorch defines it as 0.
      b: (g, a, _b, y) => mul(g, where(eq(a, 0), 0, mul(y, log(abs(a))))),
    },
    cases: { a: [0.5, 1, 2, 3, 0.25, 4], b: [2, -1, 0.5, 3, 1.5, -0.5], grad: true },
    doc: "Elementwise a ** b.",
  },
  maximum: {
    dtype: "numeric",
    ref: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)),
    grad: { a: (g, a, b) => pick(gt)(g, a, b), b: (g, a, b) => pick(gt)(g, b, a) },
    cases: { a: A, b: B, grad: true },
    doc: "Elementwise maximum; NaN propagates (torch.maximum).",
  },
  minimum: {
    dtype: "numeric",
    ref: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b)),
    grad: { a: (g, a, b) => pick(lt)(g, a, b), b: (g, a, b) => pick(lt)(g, b, a) },
    cases: { a: A, b: B, grad: true },
    doc: "Elementwise minimum; NaN propagates (torch.minimum).",
  },
} satisfies Record<string, BinarySpec>;

const C = [1, 2, 3, Number.NaN, -0, 5] as const;
const D = [1, 3, 2, Number.NaN, 0, 5] as const;

/** Elementwise comparisons: bool outputs, no gradient. */
export const COMPARE_SPECS = {
  eq: { dtype: "compare", ref: (a, b) => +(a === b), grad: null, cases: { a: C, b: D }, doc: "a == b." },
  ne: { dtype: "compare", ref: (a, b) => +(a !== b), grad: null, cases: { a: C, b: D }, doc: "a != b." },
  lt: { dtype: "compare", ref: (a, b) => +(a < b), grad: null, cases: { a: C, b: D }, doc: "a < b." },
  le: { dtype: "compare", ref: (a, b) => +(a <= b), grad: null, cases: { a: C, b: D }, doc: "a <= b." },
  gt: { dtype: "compare", ref: (a, b) => +(a > b), grad: null, cases: { a: C, b: D }, doc: "a > b." },
  ge: { dtype: "compare", ref: (a, b) => +(a >= b), grad: null, cases: { a: C, b: D }, doc: "a >= b." },
} satisfies Record<string, BinarySpec>;

export type BinaryOp = keyof typeof BINARY_SPECS;
export type CompareOp = keyof typeof COMPARE_SPECS;
export const BINARY_OPS = Object.keys(BINARY_SPECS) as BinaryOp[];
export const COMPARE_OPS = Object.keys(COMPARE_SPECS) as CompareOp[];
