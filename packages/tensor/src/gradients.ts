import type { OpAttrs, OpName } from "./backend";
import {
  cast,
  div,
  eq,
  expand,
  ge,
  indexSelect,
  le,
  mm,
  mul,
  padBack,
  permute,
  reshape,
  scatterAdd,
  sum,
  sumTo,
  where,
} from "./ops";
import { runOp } from "./ops/run";
import { stridesOf } from "./shape";
import {
  BINARY_OPS,
  BINARY_SPECS,
  type BinaryOp,
  COMPARE_OPS,
  type CompareOp,
  UNARY_OPS,
  UNARY_SPECS,
  type UnaryOp,
} from "./specs";
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

/**
 * Movement ops share the `strided` kernel (or no kernel: reshape is a view), so their gradient
 * rules are keyed by the front-end op. Attributes are what the rule needs from the forward call.
 */
export interface MovementAttrs {
  reshape: { from: readonly number[] };
  permute: { inverse: readonly number[] };
  expand: { from: readonly number[] };
  slice: { from: readonly number[]; begin: readonly number[] };
  clone: Record<string, never>;
}
export type MovementOp = keyof MovementAttrs;

export const MOVEMENT_GRADS: { [M in MovementOp]: (g: Tensor, attrs: MovementAttrs[M]) => Tensor } = {
  reshape: (g, { from }) => reshape(g, from),
  permute: (g, { inverse }) => permute(g, inverse),
  expand: (g, { from }) => sumTo(g, from),
  slice: (g, { from, begin }) => padBack(g, from, begin),
  clone: (g) => g,
};

let table: { [K in OpName]: GradFn<K> | null } | undefined;

/**
 * The gradient rule of an op: from its spec for elementwise ops, else from OTHER_GRADS. Built on
 * first use, so the order in which the spec and op modules load does not matter.
 */
export function gradFn<K extends OpName>(op: K): GradFn<K> | null {
  table ??= { ...unaryGrads(), ...binaryGrads(), ...OTHER_GRADS };
  return table[op] as GradFn<K> | null;
}

/** The gradients of UNARY_SPECS, in the table's shape. */
function unaryGrads(): { [K in UnaryOp]: GradFn<K> | null } {
  const out = {} as Record<UnaryOp, GradFn<UnaryOp> | null>;
  for (const op of UNARY_OPS) {
    const f = UNARY_SPECS[op].grad as ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null;
    out[op] = f ? unaryGrad(f) : null;
  }
  return out;
}

/** The gradients of BINARY_SPECS (and null for the comparisons), in the table's shape. */
function binaryGrads(): { [K in BinaryOp | CompareOp]: GradFn<K> | null } {
  const out = {} as Record<BinaryOp | CompareOp, GradFn<BinaryOp | CompareOp> | null>;
  for (const op of BINARY_OPS) {
    const gr = BINARY_SPECS[op].grad;
    out[op] = binaryGrad(gr.a, gr.b);
  }
  for (const op of COMPARE_OPS) out[op] = null;
  return out;
}

type SpecOp = UnaryOp | BinaryOp | CompareOp;

/** Gradients of the ops that are not elementwise specs; exhaustive, so a new op needs an entry. */
const OTHER_GRADS: { [K in Exclude<OpName, SpecOp>]: GradFn<K> | null } = {
  clamp: ([g], [x], _y, attrs) => [
    g
      ? mul(g, cast(mul(cast(ge(x, attrs.min), "float32"), cast(le(x, attrs.max), "float32")), "float32"))
      : null,
  ],
  cast: ([g], [x]) => [g && x.dtype === "float32" ? g : null],
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
  // The movement ops built on `strided` record their rules from MOVEMENT_GRADS below.
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
  argsort: null,
  // d/dx of running sums is the running sum of the gradient taken from the other end.
  cumsum: ([g], [x], _y, attrs) => [
    g
      ? runOp("cumsum", [g], [{ shape: x.shape, dtype: g.dtype }], { ...attrs, reverse: !attrs.reverse })[0]
      : null,
  ],
};
