import { zerosLike } from "../ops/create";
import { abs, add, cast, div, exp, gt, mul, neg, sigmoid, sign, sub } from "../ops/elementwise";
import type { Tensor } from "../tensor";
import type { UnarySpec } from "./types";

/**
 * Every elementwise unary op, one entry each: dtype policy, float64 reference, gradient, test cases
 * and doc. `UnaryOp` is the set of these keys, so the kernel tables of every backend
 * (`{ [K in UnaryOp]: ... }`), the front-end functions, the `Tensor` methods and the conformance
 * cases all follow from this table. Adding an op: see CONTRIBUTING.md, "Adding an elementwise op".
 */
export const UNARY_SPECS = {
  neg: {
    dtype: "numeric",
    ref: (x) => -x,
    grad: (g) => neg(g),
    cases: { values: [-2.5, -1, 0, 0.5, 3], grad: [-1.5, 0.25, 2] },
    doc: "Elementwise negation, -x.",
  },
  abs: {
    dtype: "numeric",
    ref: Math.abs,
    grad: (g, x) => mul(g, sign(x)),
    cases: { values: [-2.5, -1, 0, 0.5, 3], grad: [-1.5, 0.25, 2] },
    doc: "Elementwise absolute value, |x|.",
  },
  sign: {
    dtype: "numeric",
    ref: Math.sign,
    grad: (g) => zerosLike(g),
    cases: { values: [-2.5, -1, 0, 0.5, 3], grad: [-1.5, 0.25, 2] },
    doc: "Elementwise sign: -1, 0 or 1 (NaN stays NaN).",
  },
  exp: {
    dtype: "float",
    ref: Math.exp,
    grad: (g, _x, y) => mul(g, y),
    cases: { values: [-20, -1, 0, 0.5, 3, 10], grad: [-1.5, 0.25, 2] },
    doc: "Elementwise e^x.",
  },
  log: {
    dtype: "float",
    ref: Math.log,
    grad: (g, x) => div(g, x),
    cases: { values: [0, 1e-6, 0.1, 1, 3.5, 100], grad: [0.3, 1, 2.5] },
    doc: "Elementwise natural logarithm.",
  },
  log1p: {
    dtype: "float",
    ref: Math.log1p,
    grad: (g, x) => div(g, add(x, 1)),
    cases: { values: [1e-7, -1e-6, 3e-4, -0.5, 2, 100], grad: [-0.5, 0.25, 2] },
    doc: "Elementwise log(1 + x), exact for small x.",
  },
  expm1: {
    dtype: "float",
    ref: Math.expm1,
    grad: (g, _x, y) => mul(g, add(y, 1)),
    cases: { values: [1e-7, -1e-6, 3e-4, -0.5, 2, -20], grad: [-0.5, 0.25, 2] },
    doc: "Elementwise exp(x) - 1, exact for small x.",
  },
  sqrt: {
    dtype: "float",
    ref: Math.sqrt,
    grad: (g, _x, y) => div(mul(g, 0.5), y),
    cases: { values: [0, 0.1, 0.5, 1, 2, 10], grad: [0.3, 1, 2.5] },
    doc: "Elementwise square root.",
  },
  rsqrt: {
    dtype: "float",
    ref: (x) => 1 / Math.sqrt(x),
    grad: (g, _x, y) => mul(mul(g, -0.5), mul(y, mul(y, y))),
    cases: { values: [0.1, 0.5, 1, 2, 10], grad: [0.3, 1, 2.5] },
    doc: "Elementwise 1 / sqrt(x).",
  },
  relu: {
    dtype: "numeric",
    ref: (x) => Math.max(x, 0),
    grad: (g, x) => mul(g, cast(gt(x, 0), "float32")),
    cases: { values: [-2.5, -1, 0, 0.5, 3], grad: [-1.5, 0.25, 2] },
    doc: "Rectified linear unit, max(x, 0).",
  },
  sigmoid: {
    dtype: "float",
    ref: (x) => 1 / (1 + Math.exp(-x)),
    grad: (g, _x, y) => mul(g, mul(y, sub(1, y))),
    cases: { values: [-100, -3, -0.5, 0, 0.5, 3, 100], grad: [-1.5, 0.25, 2] },
    doc: "Logistic sigmoid, 1 / (1 + e^-x), computed without overflow.",
  },
  tanh: {
    dtype: "float",
    ref: Math.tanh,
    grad: (g, _x, y) => mul(g, sub(1, mul(y, y))),
    cases: { values: [-20, -3, -0.5, 0, 0.5, 3, 20], grad: [-1.5, 0.25, 2] },
    doc: "Hyperbolic tangent.",
  },
  gelu: {
    dtype: "float",
    ref: (x) => 0.5 * x * (1 + erf64(x / Math.SQRT2)),
    grad: (g, x) => {
      // d/dx x * Phi(x) = Phi(x) + x * phi(x)
      const phi = div(exp(mul(mul(x, x), -0.5)), Math.sqrt(2 * Math.PI));
      return mul(g, add(cdfNormal(x), mul(x, phi)));
    },
    cases: { values: [-6, -3, -0.5, 0, 0.5, 3, 6], grad: [-1.5, 0.25, 2] },
    doc: "GELU with the exact erf form (PyTorch's default `approximate='none'`).",
  },
  atan: {
    dtype: "float",
    ref: Math.atan,
    grad: (g, x) => div(g, add(mul(x, x), 1)),
    cases: { values: [-1e4, -10, -1, 0, 0.5, 1, 10, 1e4], grad: [-1.5, 0.25, 2] },
    doc: "Elementwise arctangent, in radians.",
  },
  softplus: {
    dtype: "float",
    // PyTorch's defaults (beta 1, threshold 20): linear above 20, where log1p(e^x) == x in float32.
    ref: (x) => (x > 20 ? x : Math.log1p(Math.exp(x))),
    grad: (g, x) => mul(g, sigmoid(x)),
    cases: { values: [-100, -20, -1, 0, 0.5, 1, 19.5, 25], grad: [-1.5, 0.25, 2] },
    doc: "Softplus, log(1 + e^x) (PyTorch's beta 1, threshold 20), a smooth ReLU.",
  },
  logicalNot: {
    dtype: "bool",
    ref: (x) => (x ? 0 : 1),
    grad: null,
    cases: { values: [0, 1, 2.5, -0] },
    doc: "Elementwise logical not; the input is read as bool (nonzero is true).",
  },
} satisfies Record<string, UnarySpec>;

export type UnaryOp = keyof typeof UNARY_SPECS;
export const UNARY_OPS = Object.keys(UNARY_SPECS) as UnaryOp[];

/** erf in float64 (Abramowitz-Stegun 7.1.26 is too coarse for a reference: this series is exact to 1e-15). */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    // Maclaurin series: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc at larger |x|.
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/** Standard normal CDF through erf, in tensor ops (Abramowitz-Stegun 7.1.26, |error| < 1.5e-7). */
function cdfNormal(x: Tensor): Tensor {
  const z = mul(abs(x), Math.SQRT1_2);
  const t = div(1, add(mul(z, 0.3275911), 1));
  const poly = mul(
    t,
    add(
      0.254829592,
      mul(t, add(-0.284496736, mul(t, add(1.421413741, mul(t, add(-1.453152027, mul(t, 1.061405429))))))),
    ),
  );
  const erfAbs = sub(1, mul(poly, exp(neg(mul(z, z)))));
  return mul(add(mul(sign(x), erfAbs), 1), 0.5);
}
