import {
  arange,
  checkIndices,
  checkOptionKeys,
  customOp,
  defineComposite,
  formatShape,
  type Tensor,
  where,
} from "@minibatch/tensor";
import { Module } from "./module";

/**
 * Loss functions with PyTorch's formulas and defaults (`torch.nn.functional`). `reduction` is
 * 'mean' (default), 'sum', or 'none' (one loss per element or sample).
 */
export type Reduction = "mean" | "sum" | "none";

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** Per-class rescaling weight, float32 [C]. */
  weight?: Tensor | null;
  /** Targets equal to this contribute nothing, neither to the loss nor to the mean's count. Default -100. */
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution: (1 - s) * target + s / C. Default 0. */
  labelSmoothing?: number;
}

export type NllLossOptions = Omit<CrossEntropyOptions, "labelSmoothing">;

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

export function checkReduction(r: Reduction, op: string): Reduction {
  if (r !== "mean" && r !== "sum" && r !== "none") {
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(r)}'`);
  }
  return r;
}

export function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === "none") return loss;
  return reduction === "sum" ? loss.sum() : loss.mean();
}

export function requireFloat(t: Tensor, what: string, op: string): void {
  if (t.dtype !== "float32") {
    throw new Error(`${op}: ${what} must be float32, got ${t.dtype} of shape ${formatShape(t.shape)}`);
  }
}

/** [N, C, d1, ...] with its class axis moved last and the rest flattened: [M, C]. */
function classesLast(x: Tensor): Tensor {
  if (x.rank === 2) return x;
  const perm = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2), 1];
  return x.permute(...perm).reshape([-1, x.shape[1]]);
}

function checkWeight(weight: Tensor | null | undefined, c: number, op: string): Tensor | null {
  if (!weight) return null;
  requireFloat(weight, "weight", op);
  if (weight.rank !== 1 || weight.shape[0] !== c) {
    throw new Error(`${op}: weight must have shape [${c}] (one per class), got ${formatShape(weight.shape)}`);
  }
  return weight;
}

/** The class-index path shared by crossEntropy (on logSoftmax output) and nllLoss. */
function nllCore(
  logp: Tensor,
  target: Tensor,
  opts: CrossEntropyOptions,
  op: string,
  labelSmoothing: number,
): Tensor {
  const reduction = checkReduction(opts.reduction ?? "mean", op);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  // A single sample [C] with a 0-d target, as PyTorch allows.
  const single = logp.rank === 1;
  const lp = single ? logp.unsqueeze(0) : logp;
  const tg = single ? target.reshape([1]) : target;
  if (lp.rank < 2)
    throw new Error(
      `${op}: expected input of shape [N, C] or [N, C, d1, ...], got ${formatShape(logp.shape)}`,
    );
  const c = lp.shape[1];
  const expected = lp.shape.filter((_, i) => i !== 1);
  if (!same(tg.shape, expected)) {
    throw new Error(
      `${op}: expected target of shape ${formatShape(single ? [] : expected)} (int32 class indices) for input ${formatShape(logp.shape)}, got ${formatShape(target.shape)}`,
    );
  }
  const weight = checkWeight(opts.weight, c, op);
  // On every backend (a GPU reports it on the next read or sync).
  checkIndices(tg, { op, what: "target", low: 0, high: c, ignore: ignoreIndex, range: `${c} classes` });

  const flat = classesLast(lp);
  const m = flat.shape[0];
  const t = tg.reshape([m]);
  const valid = t.ne(ignoreIndex);
  const safe = where(valid, t, 0);
  const rows = arange(0, m, 1, { dtype: "int32", backend: lp.backend.name });
  const picked = flat.reshape([m * c]).indexSelect(0, rows.mul(c).add(safe));
  const wPicked = weight ? weight.indexSelect(0, safe) : null;
  let loss = where(valid, wPicked ? picked.mul(wPicked).neg() : picked.neg(), 0);
  if (labelSmoothing > 0) {
    const smooth = where(valid, (weight ? flat.mul(weight) : flat).sum(1).neg(), 0);
    loss = loss.mul(1 - labelSmoothing).add(smooth.mul(labelSmoothing / c));
  }
  const outShape = single ? [] : expected;
  if (reduction === "none") return loss.reshape(outShape);
  if (reduction === "sum") return loss.sum();
  // PyTorch divides by the total weight of the counted targets (their number without `weight`).
  const denom = wPicked ? where(valid, wPicked, 0).sum() : valid.float().sum();
  return loss.sum().div(denom);
}

/**
 * Cross entropy between logits [N, C] (or [N, C, d1, ...], or [C]) and either int32 class indices
 * [N] ([N, d1, ...]) or float32 class probabilities of the input's shape (PyTorch
 * `F.cross_entropy`). With label smoothing s the loss is (1 - s) * nll + s / C * sum_c(-w_c log p_c),
 * each part normalized as PyTorch does.
 */
export const crossEntropy = defineComposite(
  "nn.crossEntropy",
  function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
    const op = "crossEntropy";
    checkOptionKeys(op, opts, ["reduction", "weight", "ignoreIndex", "labelSmoothing"]);
    requireFloat(input, "input (logits)", op);
    const ls = opts.labelSmoothing ?? 0;
    if (!(ls >= 0 && ls <= 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${ls}`);
    const classDim = input.rank === 1 ? 0 : 1;
    if (input.rank === 0) throw new Error(`${op}: expected input of shape [N, C], got a scalar`);
    const logp = input.logSoftmax(classDim);
    if (target.dtype === "int32") return nllCore(logp, target, opts, op, ls);
    if (target.dtype === "float32") {
      if (!same(target.shape, input.shape)) {
        throw new Error(
          `${op}: float32 targets are class probabilities and must have the input's shape ${formatShape(input.shape)}, got ${formatShape(target.shape)}; class indices must be int32`,
        );
      }
      return softTargetCrossEntropy(logp, target, opts, ls);
    }
    throw new Error(
      `${op}: target must be int32 class indices or float32 probabilities, got ${target.dtype} of shape ${formatShape(target.shape)}`,
    );
  },
);

function softTargetCrossEntropy(logp: Tensor, target: Tensor, opts: CrossEntropyOptions, ls: number): Tensor {
  const op = "crossEntropy";
  const reduction = checkReduction(opts.reduction ?? "mean", op);
  const single = logp.rank === 1;
  const lp = single ? logp.unsqueeze(0) : logp;
  const tg = single ? target.unsqueeze(0) : target;
  const c = lp.shape[1];
  const weight = checkWeight(opts.weight, c, op);
  const flatP = classesLast(lp);
  let flatT = classesLast(tg);
  if (ls > 0) flatT = flatT.mul(1 - ls).add(ls / c);
  let terms = flatP.mul(flatT);
  if (weight) terms = terms.mul(weight);
  const loss = terms.sum(1).neg();
  if (reduction === "none") return loss.reshape(single ? [] : lp.shape.filter((_, i) => i !== 1));
  // Mean is over samples (and positions), not over the weights, as PyTorch does for soft targets.
  return reduction === "sum" ? loss.sum() : loss.mean();
}

/** Negative log likelihood of log-probabilities [N, C] (or [N, C, d1, ...]) at int32 targets (PyTorch `F.nll_loss`). */
export const nllLoss = defineComposite(
  "nn.nllLoss",
  function nllLoss(input: Tensor, target: Tensor, opts: NllLossOptions = {}): Tensor {
    const op = "nllLoss";
    checkOptionKeys(op, opts, ["reduction", "weight", "ignoreIndex"]);
    requireFloat(input, "input (log-probabilities)", op);
    if (target.dtype !== "int32") {
      throw new Error(
        `${op}: target must be int32 class indices, got ${target.dtype} of shape ${formatShape(target.shape)}`,
      );
    }
    if (input.rank === 0) throw new Error(`${op}: expected input of shape [N, C], got a scalar`);
    return nllCore(input, target, opts, op, 0);
  },
);

export function checkPair(input: Tensor, target: Tensor, op: string): void {
  requireFloat(input, "input", op);
  requireFloat(target, "target", op);
  if (!same(input.shape, target.shape)) {
    throw new Error(
      `${op}: input ${formatShape(input.shape)} and target ${formatShape(target.shape)} must have the same shape (PyTorch would broadcast with a warning; that is usually a bug)`,
    );
  }
}

/** Mean squared error (PyTorch `F.mse_loss`). */
export const mseLoss = defineComposite(
  "nn.mseLoss",
  function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
    checkOptionKeys("mseLoss", opts, ["reduction"]);
    checkPair(input, target, "mseLoss");
    const d = input.sub(target);
    return reduce(d.mul(d), checkReduction(opts.reduction ?? "mean", "mseLoss"));
  },
);

/** Mean absolute error (PyTorch `F.l1_loss`). */
export const l1Loss = defineComposite(
  "nn.l1Loss",
  function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
    checkOptionKeys("l1Loss", opts, ["reduction"]);
    checkPair(input, target, "l1Loss");
    return reduce(input.sub(target).abs(), checkReduction(opts.reduction ?? "mean", "l1Loss"));
  },
);

/**
 * Huber loss with threshold delta (PyTorch `F.huber_loss`): 0.5 d^2 where |d| < delta, else
 * delta (|d| - 0.5 delta).
 */
export const huberLoss = defineComposite(
  "nn.huberLoss",
  function huberLoss(
    input: Tensor,
    target: Tensor,
    opts: { reduction?: Reduction; delta?: number } = {},
  ): Tensor {
    checkOptionKeys("huberLoss", opts, ["reduction", "delta"]);
    checkPair(input, target, "huberLoss");
    const delta = opts.delta ?? 1;
    if (!(delta > 0)) throw new Error(`huberLoss: delta must be positive, got ${delta}`);
    const d = input.sub(target);
    const a = d.abs();
    const loss = where(a.lt(delta), d.mul(d).mul(0.5), a.sub(0.5 * delta).mul(delta));
    return reduce(loss, checkReduction(opts.reduction ?? "mean", "huberLoss"));
  },
);

export interface SmoothL1Options {
  reduction?: Reduction;
  /** Where the loss turns from quadratic to linear; >= 0, default 1 (0 is the L1 loss). */
  beta?: number;
}

/**
 * Smooth L1 loss (PyTorch `F.smooth_l1_loss`): 0.5 d^2 / beta where |d| < beta, else
 * |d| - 0.5 beta. It equals huberLoss(delta = beta) / beta, so the two agree only at beta 1.
 */
export const smoothL1Loss = defineComposite(
  "nn.smoothL1Loss",
  function smoothL1Loss(input: Tensor, target: Tensor, opts: SmoothL1Options = {}): Tensor {
    const op = "smoothL1Loss";
    checkOptionKeys(op, opts, ["reduction", "beta"]);
    checkPair(input, target, op);
    const beta = opts.beta ?? 1;
    if (!(typeof beta === "number" && beta >= 0)) throw new Error(`${op}: beta must be >= 0, got ${beta}`);
    const reduction = checkReduction(opts.reduction ?? "mean", op);
    const d = input.sub(target);
    const a = d.abs();
    if (beta === 0) return reduce(a, reduction);
    const loss = where(a.lt(beta), d.mul(d).mul(0.5 / beta), a.sub(0.5 * beta));
    return reduce(loss, reduction);
  },
);

export interface KlDivOptions {
  /**
   * 'mean' (default, PyTorch's: divides by the number of elements), 'batchmean' (divides by the
   * batch size, the true KL divergence per sample), 'sum' or 'none'.
   */
  reduction?: Reduction | "batchmean";
  /** The target holds log-probabilities instead of probabilities. Default false. */
  logTarget?: boolean;
}

/**
 * Kullback-Leibler divergence of the target from the input (PyTorch `F.kl_div`); the input holds
 * log-probabilities. Per element: t (log t - x), 0 where t = 0; with logTarget, e^t (t - x).
 * PyTorch's gradient with respect to a zero target is NaN; here it is 0.
 */
export const klDivLoss = defineComposite(
  "nn.klDivLoss",
  function klDivLoss(input: Tensor, target: Tensor, opts: KlDivOptions = {}): Tensor {
    const op = "klDivLoss";
    checkOptionKeys(op, opts, ["reduction", "logTarget"]);
    checkPair(input, target, op);
    const r = opts.reduction ?? "mean";
    if (r !== "batchmean") checkReduction(r, op);
    const logTarget = opts.logTarget ?? false;
    if (typeof logTarget !== "boolean")
      throw new Error(`${op}: logTarget must be a boolean, got ${logTarget}`);
    let loss: Tensor;
    if (logTarget) {
      loss = target.exp().mul(target.sub(input));
    } else {
      const pos = target.gt(0);
      // log of 1 where t = 0, so neither the value nor the gradient meets log(0).
      const logT = where(pos, target, 1).log();
      loss = where(pos, target.mul(logT.sub(input)), target.mul(input).neg());
    }
    if (r !== "batchmean") return reduce(loss, r);
    const batch = input.rank === 0 ? 1 : input.shape[0];
    return loss.sum().div(batch);
  },
);

export interface BceOptions {
  reduction?: Reduction;
  /** Rescales each element's loss; broadcast against the input. */
  weight?: Tensor | null;
}

export interface BceWithLogitsOptions extends BceOptions {
  /** Weight of the positive term, broadcast against the input (usually [C]): negatives / positives. */
  posWeight?: Tensor | null;
}

function checkBroadcastable(w: Tensor, input: Tensor, what: string, op: string): void {
  requireFloat(w, what, op);
  const r = w.rank;
  const ok = r <= input.rank && w.shape.every((d, i) => d === 1 || d === input.shape[input.rank - r + i]);
  if (!ok) {
    throw new Error(
      `${op}: ${what} of shape ${formatShape(w.shape)} does not broadcast to the input's shape ${formatShape(input.shape)}`,
    );
  }
}

/**
 * Binary cross entropy on logits, in the stable form (PyTorch `F.binary_cross_entropy_with_logits`):
 * (1 - t) x - (1 + (pw - 1) t) log sigmoid(x), with log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)),
 * which never exponentiates a large positive number.
 */
export const binaryCrossEntropyWithLogits = defineComposite(
  "nn.binaryCrossEntropyWithLogits",
  function binaryCrossEntropyWithLogits(
    input: Tensor,
    target: Tensor,
    opts: BceWithLogitsOptions = {},
  ): Tensor {
    const op = "binaryCrossEntropyWithLogits";
    checkOptionKeys(op, opts, ["reduction", "weight", "posWeight"]);
    checkPair(input, target, op);
    const logSig = input.minimum(0).sub(input.abs().neg().exp().log1p());
    const oneMinusT = target.neg().add(1);
    let loss: Tensor;
    if (opts.posWeight) {
      checkBroadcastable(opts.posWeight, input, "posWeight", op);
      const lw = opts.posWeight.sub(1).mul(target).add(1);
      loss = oneMinusT.mul(input).sub(lw.mul(logSig));
    } else {
      loss = oneMinusT.mul(input).sub(logSig);
    }
    if (opts.weight) {
      checkBroadcastable(opts.weight, input, "weight", op);
      loss = loss.mul(opts.weight);
    }
    return reduce(loss, checkReduction(opts.reduction ?? "mean", op));
  },
);

/**
 * Binary cross entropy on probabilities (PyTorch `F.binary_cross_entropy`): each log is clamped to
 * >= -100 so p = 0 or 1 gives a finite loss, and the gradient's denominator p (1 - p) is kept
 * >= 1e-12 as PyTorch does. Prefer `binaryCrossEntropyWithLogits` for numerical stability.
 */
export const binaryCrossEntropy = defineComposite(
  "nn.binaryCrossEntropy",
  function binaryCrossEntropy(input: Tensor, target: Tensor, opts: BceOptions = {}): Tensor {
    const op = "binaryCrossEntropy";
    checkOptionKeys(op, opts, ["reduction", "weight"]);
    checkPair(input, target, op);
    if (input.backend.readSync) {
      const v = input.dataSync<Float32Array>();
      for (let i = 0; i < v.length; i++) {
        if (!(v[i] >= 0 && v[i] <= 1)) {
          throw new Error(
            `${op}: input must be probabilities in [0, 1], got ${v[i]} at position ${i}; for logits use binaryCrossEntropyWithLogits`,
          );
        }
      }
    }
    const [raw] = bceOp(input, target);
    let loss = raw;
    if (opts.weight) {
      checkBroadcastable(opts.weight, input, "weight", op);
      loss = loss.mul(opts.weight);
    }
    return reduce(loss, checkReduction(opts.reduction ?? "mean", op));
  },
);

const bceOp = customOp("binaryCrossEntropy", (p: Tensor, t: Tensor) => {
  const logP = p.log().maximum(-100);
  const log1mP = p.neg().add(1).log().maximum(-100);
  const y = t.mul(logP).add(t.neg().add(1).mul(log1mP)).neg();
  return {
    outputs: [y],
    backward: ([g]) => {
      if (!g) return [null, null];
      const denom = p.mul(p.neg().add(1)).maximum(1e-12);
      return [g.mul(p.sub(t)).div(denom), g.mul(log1mP.sub(logP))];
    },
  };
});

// ---- module wrappers (PyTorch `nn.CrossEntropyLoss` and friends) -------------------------------

export class CrossEntropyLoss extends Module {
  constructor(readonly opts: CrossEntropyOptions = {}) {
    super();
    checkOptionKeys("CrossEntropyLoss", opts, ["reduction", "weight", "ignoreIndex", "labelSmoothing"]);
    if (opts.weight) this.registerBuffer("weight", opts.weight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, { ...this.opts, weight: this.buffers(false)[0] ?? null });
  }
}

export class NLLLoss extends Module {
  constructor(readonly opts: NllLossOptions = {}) {
    super();
    checkOptionKeys("NLLLoss", opts, ["reduction", "weight", "ignoreIndex"]);
    if (opts.weight) this.registerBuffer("weight", opts.weight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, { ...this.opts, weight: this.buffers(false)[0] ?? null });
  }
}

export class MSELoss extends Module {
  constructor(readonly opts: { reduction?: Reduction } = {}) {
    super();
    checkOptionKeys("MSELoss", opts, ["reduction"]);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, this.opts);
  }
}

export class L1Loss extends Module {
  constructor(readonly opts: { reduction?: Reduction } = {}) {
    super();
    checkOptionKeys("L1Loss", opts, ["reduction"]);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, this.opts);
  }
}

export class HuberLoss extends Module {
  constructor(readonly opts: { reduction?: Reduction; delta?: number } = {}) {
    super();
    checkOptionKeys("HuberLoss", opts, ["reduction", "delta"]);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, this.opts);
  }
}

export class BCEWithLogitsLoss extends Module {
  constructor(readonly opts: BceWithLogitsOptions = {}) {
    super();
    checkOptionKeys("BCEWithLogitsLoss", opts, ["reduction", "weight", "posWeight"]);
    if (opts.weight) this.registerBuffer("weight", opts.weight);
    if (opts.posWeight) this.registerBuffer("posWeight", opts.posWeight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    const b = Object.fromEntries(this.namedBuffers("", false));
    return binaryCrossEntropyWithLogits(input, target, {
      reduction: this.opts.reduction,
      weight: b.weight ?? null,
      posWeight: b.posWeight ?? null,
    });
  }
}

export class BCELoss extends Module {
  constructor(readonly opts: BceOptions = {}) {
    super();
    checkOptionKeys("BCELoss", opts, ["reduction", "weight"]);
    if (opts.weight) this.registerBuffer("weight", opts.weight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, { ...this.opts, weight: this.buffers(false)[0] ?? null });
  }
}

export class SmoothL1Loss extends Module {
  constructor(readonly opts: SmoothL1Options = {}) {
    super();
    checkOptionKeys("SmoothL1Loss", opts, ["reduction", "beta"]);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, this.opts);
  }
}

export class KLDivLoss extends Module {
  constructor(readonly opts: KlDivOptions = {}) {
    super();
    checkOptionKeys("KLDivLoss", opts, ["reduction", "logTarget"]);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return klDivLoss(input, target, this.opts);
  }
}
