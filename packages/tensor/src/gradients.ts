import type { OpAttrs, OpName } from "./backend";
import {
  abs,
  add,
  cast,
  div,
  eq,
  exp,
  expand,
  ge,
  gt,
  indexSelect,
  le,
  log,
  lt,
  mm,
  mul,
  neg,
  pow,
  reshape,
  scatterAdd,
  sign,
  sub,
  sum,
  sumTo,
  where,
  zerosLike,
} from "./ops";
import { runOp } from "./ops/run";
import { stridesOf } from "./shape";
import type { Tensor } from "./tensor";

/** Inputs' gradients from the outputs' gradients. The table is exhaustive: null marks an op with no gradient. */
export type GradFn<K extends OpName> = (
  dys: readonly (Tensor | null)[],
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  attrs: OpAttrs[K],
) => (Tensor | null)[];

const unaryGrad =
  <K extends OpName>(f: (g: Tensor, x: Tensor, y: Tensor) => Tensor): GradFn<K> =>
  ([g], [x], [y]) => [g ? f(g, x, y) : null];

/** Gradients of a broadcasting binary op, each summed back to its input's shape. */
const binaryGrad =
  <K extends OpName>(
    fa: ((g: Tensor, a: Tensor, b: Tensor, y: Tensor) => Tensor) | null,
    fb: ((g: Tensor, a: Tensor, b: Tensor, y: Tensor) => Tensor) | null,
  ): GradFn<K> =>
  ([g], [a, b], [y]) => {
    if (!g) return [null, null];
    return [
      fa && a.requiresGrad ? sumTo(fa(g, a, b, y), a.shape) : null,
      fb && b.requiresGrad ? sumTo(fb(g, a, b, y), b.shape) : null,
    ];
  };

const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** Gradient of the elementwise max/min: to the chosen input, split evenly on ties (as PyTorch). */
const pickGrad = (pickA: (a: Tensor, b: Tensor) => Tensor) =>
  binaryGrad(
    (g, a, b) => mul(g, add(cast(pickA(a, b), "float32"), mul(cast(eq(a, b), "float32"), 0.5))),
    (g, a, b) => mul(g, add(cast(pickA(b, a), "float32"), mul(cast(eq(a, b), "float32"), 0.5))),
  );

/** max/min reductions: the gradient goes to the extreme elements, shared evenly among ties. */
const extremeGrad =
  <K extends "max" | "min">(): GradFn<K> =>
  ([g], [x], [y], attrs) => {
    if (!g) return [null];
    const keep = keptShape(x, attrs);
    const yk = reshape(y, keep);
    const mask = cast(eq(xView(x, attrs), yk), "float32");
    const count = sum(mask, 1, true);
    const gx = div(mul(mask, reshape(g, keep)), count);
    return [reshapeBack(gx, x, attrs)];
  };

// A reduction sees x as [outer, reduce, inner] (after a permute for scattered axes, which the
// permute's own gradient undoes); these helpers view it that way.
function xView(x: Tensor, a: OpAttrs["sum"]): Tensor {
  return reshape(x, [a.outer, a.reduce, a.inner]);
}
function keptShape(_x: Tensor, a: OpAttrs["sum"]): number[] {
  return [a.outer, 1, a.inner];
}
function reshapeBack(gx: Tensor, x: Tensor, _a: OpAttrs["sum"]): Tensor {
  return reshape(gx, x.shape);
}

export const GRADS: { [K in OpName]: GradFn<K> | null } = {
  neg: unaryGrad((g) => neg(g)),
  abs: unaryGrad((g, x) => mul(g, sign(x))),
  sign: unaryGrad((g) => zerosLike(g)),
  exp: unaryGrad((g, _x, y) => mul(g, y)),
  log: unaryGrad((g, x) => div(g, x)),
  log1p: unaryGrad((g, x) => div(g, add(x, 1))),
  expm1: unaryGrad((g, _x, y) => mul(g, add(y, 1))),
  sqrt: unaryGrad((g, _x, y) => div(mul(g, 0.5), y)),
  rsqrt: unaryGrad((g, _x, y) => mul(mul(g, -0.5), mul(y, mul(y, y)))),
  relu: unaryGrad((g, x) => mul(g, cast(gt(x, 0), "float32"))),
  sigmoid: unaryGrad((g, _x, y) => mul(g, mul(y, sub(1, y)))),
  tanh: unaryGrad((g, _x, y) => mul(g, sub(1, mul(y, y)))),
  gelu: unaryGrad((g, x) => {
    // d/dx x * Phi(x) = Phi(x) + x * phi(x), with Phi(x) = gelu(x) / x recomputed stably below.
    const phi = div(exp(mul(mul(x, x), -0.5)), SQRT_2PI);
    const cdf = cdfNormal(x);
    return mul(g, add(cdf, mul(x, phi)));
  }),
  logicalNot: null,
  clamp: ([g], [x], _y, attrs) => [
    g
      ? mul(g, cast(mul(cast(ge(x, attrs.min), "float32"), cast(le(x, attrs.max), "float32")), "float32"))
      : null,
  ],
  cast: ([g], [x]) => [g && x.dtype === "float32" ? g : null],
  add: binaryGrad(
    (g) => g,
    (g) => g,
  ),
  sub: binaryGrad(
    (g) => g,
    (g) => neg(g),
  ),
  mul: binaryGrad(
    (g, _a, b) => mul(g, b),
    (g, a) => mul(g, a),
  ),
  div: binaryGrad(
    (g, _a, b) => div(g, b),
    (g, _a, b, y) => neg(div(mul(g, y), b)),
  ),
  pow: binaryGrad(
    (g, a, b) => mul(g, mul(b, pow(a, sub(b, 1)))),
    // d/db a^b = a^b log a; where a == 0 PyTorch defines it as 0 (for b > 0).
    (g, a, _b, y) => mul(g, where(eq(a, 0), 0, mul(y, log(abs(a))))),
  ),
  maximum: pickGrad((a, b) => gt(a, b)),
  minimum: pickGrad((a, b) => lt(a, b)),
  eq: null,
  ne: null,
  lt: null,
  le: null,
  gt: null,
  ge: null,
  where: ([g], [cond, a, b]) => {
    if (!g) return [null, null, null];
    return [
      null,
      a.requiresGrad ? sumTo(where(cond, g, 0), a.shape) : null,
      b.requiresGrad ? sumTo(where(cond, 0, g), b.shape) : null,
    ];
  },
  sum: ([g], [x], _y, attrs) => {
    if (!g) return [null];
    const gk = reshape(g, [attrs.outer, 1, attrs.inner]);
    return [reshapeBack(expand(gk, [attrs.outer, attrs.reduce, attrs.inner]), x, attrs)];
  },
  max: extremeGrad(),
  min: extremeGrad(),
  argmax: null,
  argmin: null,
  matmul: ([g], [a, b], _y, at) => {
    if (!g) return [null, null];
    // y = op(a) @ op(b); for the untransposed case da = g @ b^T and db = a^T @ g.
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      da = at.transA ? mm(b, g, at.transB, true) : mm(g, b, false, !at.transB);
      if (at.batchA === 1 && at.batch > 1) da = sum(da, 0, true);
    }
    if (b.requiresGrad) {
      db = at.transB ? mm(g, a, true, at.transA) : mm(a, g, !at.transA, false);
      if (at.batchB === 1 && at.batch > 1) db = sum(db, 0, true);
    }
    return [da, db];
  },
  // The front-end ops built on `strided` (permute, expand, slice, clone) record their own gradients.
  strided: null,
  concat: ([g], xs, _y, attrs) => {
    if (!g) return xs.map(() => null);
    const g3 = reshape(g, [attrs.outer, attrs.sizes.reduce((p, c) => p + c, 0) * attrs.inner]);
    let start = 0;
    return xs.map((x, i) => {
      const len = attrs.sizes[i] * attrs.inner;
      const piece = x.requiresGrad
        ? reshape(
            runOp("strided", [g3], [{ shape: [attrs.outer, len], dtype: g.dtype }], {
              strides: stridesOf(g3.shape),
              offset: start,
            })[0],
            x.shape,
          )
        : null;
      start += len;
      return piece;
    });
  },
  gather: ([g], [x, idx], _y, attrs) => [
    g
      ? reshape(scatterAdd(reshape(g, [attrs.outer, attrs.n, attrs.inner]), 1, idx, attrs.dim), x.shape)
      : null,
    null,
  ],
  scatterAdd: ([g], [src, idx], _y, attrs) => [
    g ? reshape(indexSelect(reshape(g, [attrs.outer, attrs.dim, attrs.inner]), 1, idx), src.shape) : null,
    null,
  ],
  conv2d: ([g], [x, w], _y, attrs) => {
    if (!g) return [null, null];
    return [
      x.requiresGrad
        ? runOp("conv2dGradInput", [g, w], [{ shape: x.shape, dtype: "float32" }], attrs)[0]
        : null,
      w.requiresGrad
        ? runOp("conv2dGradFilter", [x, g], [{ shape: w.shape, dtype: "float32" }], attrs)[0]
        : null,
    ];
  },
  conv2dGradInput: null,
  conv2dGradFilter: null,
  maxPool2d: ([g], [x], _y, attrs) => [
    g ? runOp("maxPool2dGrad", [x, g], [{ shape: x.shape, dtype: "float32" }], attrs)[0] : null,
  ],
  maxPool2dGrad: null,
  avgPool2d: ([g], [x], _y, attrs) => [
    g ? runOp("avgPool2dGrad", [g], [{ shape: x.shape, dtype: "float32" }], attrs)[0] : null,
  ],
  avgPool2dGrad: null,
  batchNormTrain: (dys, [x, gamma, beta], [_y, mean, invstd], attrs) => {
    if (dys.slice(1).some((d) => d)) {
      throw new Error(
        "batchNormTrain: gradients through the returned statistics (mean, invstd, var) are not supported; detach them",
      );
    }
    const dy = dys[0];
    if (!dy) return [null, null, null];
    const c = attrs.channels;
    const [dx, dgamma, dbeta] = runOp(
      "batchNormGrad",
      [dy, x, gamma, mean, invstd],
      [
        { shape: x.shape, dtype: "float32" },
        { shape: [c], dtype: "float32" },
        { shape: [c], dtype: "float32" },
      ],
      attrs,
    );
    const wanted = (t: Tensor, input: Tensor): Tensor | null => {
      if (input.requiresGrad) return t;
      t.dispose();
      return null;
    };
    return [wanted(dx, x), wanted(dgamma, gamma), wanted(dbeta, beta)];
  },
  batchNormGrad: null,
};

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
  const erf = mul(sign(x), erfAbs);
  return mul(add(erf, 1), 0.5);
}
