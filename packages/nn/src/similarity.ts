import { checkOptionKeys, defineComposite, formatShape, type Tensor, where } from "@minibatch/tensor";
import { checkReduction, type Reduction, reduce, requireFloat } from "./losses";
import { Module } from "./module";

export interface CosineSimilarityOptions {
  /** The axis holding the vectors; default 1. */
  dim?: number;
  /** Each norm is at least eps, so a zero vector gives 0 instead of NaN; default 1e-8. */
  eps?: number;
}

/**
 * Cosine of the angle between x1 and x2 along `dim` (PyTorch `F.cosine_similarity`):
 * sum(x1·x2) / (max(‖x1‖, eps)·max(‖x2‖, eps)); the inputs broadcast against each other, and the
 * result has their broadcast shape without `dim`.
 */
export const cosineSimilarity = defineComposite(
  "nn.cosineSimilarity",
  function cosineSimilarity(x1: Tensor, x2: Tensor, opts: CosineSimilarityOptions = {}): Tensor {
    const op = "cosineSimilarity";
    checkOptionKeys(op, opts, ["dim", "eps"]);
    requireFloat(x1, "x1", op);
    requireFloat(x2, "x2", op);
    const rank = Math.max(x1.rank, x2.rank);
    const dim = opts.dim ?? 1;
    const eps = opts.eps ?? 1e-8;
    if (!(Number.isInteger(dim) && dim >= -rank && dim < rank)) {
      throw new Error(`${op}: dim ${dim} is out of range for inputs of rank ${rank}`);
    }
    if (!(typeof eps === "number" && eps >= 0)) throw new Error(`${op}: eps must be >= 0, got ${eps}`);
    const d = dim < 0 ? dim + rank : dim;
    const unit = (x: Tensor) => {
      // Broadcast rank first so `dim` names the same axis in both inputs.
      const full = x.rank < rank ? x.reshape([...new Array(rank - x.rank).fill(1), ...x.shape]) : x;
      return full.div(full.square().sum(d, true).sqrt().maximum(eps));
    };
    const u1 = unit(x1);
    const u2 = unit(x2);
    const shape1 = u1.shape;
    const shape2 = u2.shape;
    if (shape1.some((n, i) => n !== shape2[i] && n !== 1 && shape2[i] !== 1)) {
      throw new Error(
        `${op}: x1 ${formatShape(x1.shape)} and x2 ${formatShape(x2.shape)} do not broadcast against each other`,
      );
    }
    return u1.mul(u2).sum(d);
  },
);

/** Labels of a pair loss: float32 or int32, every entry 1 or -1. */
function checkLabels(y: Tensor, expected: readonly number[], op: string): Tensor {
  if (y.dtype !== "float32" && y.dtype !== "int32") {
    throw new Error(`${op}: target must be float32 or int32 labels (1 or -1), got ${y.dtype}`);
  }
  if (y.shape.length !== expected.length || y.shape.some((n, i) => n !== expected[i])) {
    throw new Error(`${op}: expected target of shape ${formatShape(expected)}, got ${formatShape(y.shape)}`);
  }
  if (y.backend.readSync) {
    const v = y.dataSync();
    for (let i = 0; i < v.length; i++) {
      if (v[i] !== 1 && v[i] !== -1) {
        throw new Error(`${op}: target must hold 1 or -1, got ${v[i]} at position ${i}`);
      }
    }
  }
  return y.dtype === "float32" ? y : y.float();
}

export interface MarginLossOptions {
  reduction?: Reduction;
  /** Default 0. */
  margin?: number;
}

/** The checks both margin losses make of their inputs and options. */
function marginArgs(
  op: string,
  x1: Tensor,
  x2: Tensor,
  opts: MarginLossOptions,
): { reduction: Reduction; margin: number } {
  checkOptionKeys(op, opts, ["reduction", "margin"]);
  requireFloat(x1, "x1", op);
  requireFloat(x2, "x2", op);
  const margin = opts.margin ?? 0;
  if (!Number.isFinite(margin)) throw new Error(`${op}: margin must be a finite number, got ${margin}`);
  return { reduction: checkReduction(opts.reduction ?? "mean", op), margin };
}

/**
 * Cosine embedding loss (PyTorch `F.cosine_embedding_loss`) of pairs x1, x2 [N, D] (or [D]) with
 * labels y [N] (or a scalar): 1 - cos where y = 1, max(0, cos - margin) where y = -1. The cosine is
 * sum(x1·x2) / sqrt((‖x1‖² + 1e-12)(‖x2‖² + 1e-12)), as PyTorch computes it.
 */
export const cosineEmbeddingLoss = defineComposite(
  "nn.cosineEmbeddingLoss",
  function cosineEmbeddingLoss(x1: Tensor, x2: Tensor, target: Tensor, opts: MarginLossOptions = {}): Tensor {
    const op = "cosineEmbeddingLoss";
    const { reduction, margin } = marginArgs(op, x1, x2, opts);
    if (
      (x1.rank !== 1 && x1.rank !== 2) ||
      x1.shape.length !== x2.shape.length ||
      x1.shape.some((n, i) => n !== x2.shape[i])
    ) {
      throw new Error(
        `${op}: expected x1 and x2 of the same shape [N, D] or [D], got ${formatShape(x1.shape)} and ${formatShape(x2.shape)}`,
      );
    }
    const y = checkLabels(target, x1.rank === 2 ? [x1.shape[0]] : [], op);
    const axis = x1.rank - 1;
    const dot = x1.mul(x2).sum(axis);
    const m1 = x1.square().sum(axis).add(1e-12);
    const m2 = x2.square().sum(axis).add(1e-12);
    const cos = dot.div(m1.mul(m2).sqrt());
    const loss = where(y.eq(1), cos.neg().add(1), cos.sub(margin).maximum(0));
    return reduce(loss, reduction);
  },
);

/**
 * Margin ranking loss (PyTorch `F.margin_ranking_loss`): max(0, -y·(x1 - x2) + margin) for
 * scores x1, x2 and labels y of the same shape (y = 1: x1 should rank higher).
 */
export const marginRankingLoss = defineComposite(
  "nn.marginRankingLoss",
  function marginRankingLoss(x1: Tensor, x2: Tensor, target: Tensor, opts: MarginLossOptions = {}): Tensor {
    const op = "marginRankingLoss";
    const { reduction, margin } = marginArgs(op, x1, x2, opts);
    if (x1.shape.length !== x2.shape.length || x1.shape.some((n, i) => n !== x2.shape[i])) {
      throw new Error(
        `${op}: x1 ${formatShape(x1.shape)} and x2 ${formatShape(x2.shape)} must have the same shape`,
      );
    }
    const y = checkLabels(target, x1.shape, op);
    return reduce(y.mul(x1.sub(x2)).neg().add(margin).maximum(0), reduction);
  },
);

/** Module form of `cosineSimilarity` (PyTorch `nn.CosineSimilarity`). */
export class CosineSimilarity extends Module {
  constructor(readonly opts: CosineSimilarityOptions = {}) {
    super();
    checkOptionKeys("CosineSimilarity", opts, ["dim", "eps"]);
  }
  forward(x1: Tensor, x2: Tensor): Tensor {
    return cosineSimilarity(x1, x2, this.opts);
  }
}

export class CosineEmbeddingLoss extends Module {
  constructor(readonly opts: MarginLossOptions = {}) {
    super();
    checkOptionKeys("CosineEmbeddingLoss", opts, ["reduction", "margin"]);
  }
  forward(x1: Tensor, x2: Tensor, target: Tensor): Tensor {
    return cosineEmbeddingLoss(x1, x2, target, this.opts);
  }
}

export class MarginRankingLoss extends Module {
  constructor(readonly opts: MarginLossOptions = {}) {
    super();
    checkOptionKeys("MarginRankingLoss", opts, ["reduction", "margin"]);
  }
  forward(x1: Tensor, x2: Tensor, target: Tensor): Tensor {
    return marginRankingLoss(x1, x2, target, this.opts);
  }
}
