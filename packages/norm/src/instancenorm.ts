import { Module } from "@minibatch/nn";
import {
  add,
  checkOptionKeys,
  formatShape as fmt,
  full,
  mean,
  mul,
  noGrad,
  reshape,
  squeeze,
  type Tensor,
  unsqueeze,
  zeros,
} from "@minibatch/tensor";
import { blendRunning, normalizeWith } from "./functional";
import { releaseStats, standardizeRows } from "./rows";
import {
  channelShape,
  checkChannels,
  checkEps,
  checkPositiveInt,
  checkRank,
  recording,
  scoped,
} from "./util";

export interface InstanceNormOptions {
  eps?: number;
  /** Weight of the new statistics in the running ones (default 0.1; null means no update, as PyTorch). */
  momentum?: number | null;
  /** Learnable per-channel weight and bias (default false, as PyTorch). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default false, as PyTorch). */
  trackRunningStats?: boolean;
}

/**
 * Instance normalization (Ulyanov et al. 2016; PyTorch `InstanceNorm1d/2d/3d`): every sample's
 * channel is normalized over its spatial positions. Unbatched input (C, *) is accepted.
 * With trackRunningStats, the running statistics blend in the batch average of the per-instance
 * mean and unbiased variance, as PyTorch; like PyTorch, numBatchesTracked is never advanced and
 * momentum null means no update.
 */
export abstract class InstanceNormBase extends Module {
  readonly numFeatures: number;
  eps: number;
  momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked: Tensor | null;

  constructor(
    numFeatures: number,
    opts: InstanceNormOptions,
    private readonly batchedRank: number,
  ) {
    checkOptionKeys(new.target.name, opts, ["eps", "momentum", "affine", "trackRunningStats"]);
    super();
    checkPositiveInt(new.target.name, "numFeatures", numFeatures);
    this.numFeatures = numFeatures;
    this.eps = opts.eps ?? 1e-5;
    checkEps(new.target.name, this.eps);
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? false;
    this.trackRunningStats = opts.trackRunningStats ?? false;
    const c = numFeatures;
    this.weight = this.registerParameter("weight", this.affine ? full([c], 1) : null);
    this.bias = this.registerParameter("bias", this.affine ? zeros([c]) : null);
    const track = this.trackRunningStats;
    this.runningMean = this.registerBuffer("runningMean", track ? zeros([c]) : null);
    this.runningVar = this.registerBuffer("runningVar", track ? full([c], 1) : null);
    this.numBatchesTracked = this.registerBuffer(
      "numBatchesTracked",
      track ? zeros([], { dtype: "int32" }) : null,
    );
  }

  forward(x: Tensor): Tensor {
    const name = this.constructor.name;
    checkRank(name, x, [this.batchedRank - 1, this.batchedRank]);
    if (x.rank === this.batchedRank - 1) {
      return scoped(recording(x, this.weight, this.bias), () => squeeze(this.forward(unsqueeze(x, 0)), 0));
    }
    if (this.affine || this.trackRunningStats) checkChannels(name, x, 1, this.numFeatures);
    if (!this.training && this.trackRunningStats) {
      return normalizeWith(x, this.runningMean!, this.runningVar!, this.weight, this.bias, this.eps, 1);
    }
    const [n, c] = x.shape;
    const spatial = x.size / Math.max(1, n * c);
    if (spatial <= 1) {
      throw new Error(
        `${name}: expected more than 1 spatial element when training, got input of shape ${fmt(x.shape)}`,
      );
    }
    const rec = recording(x, this.weight, this.bias);
    return scoped(rec, () => {
      const { y, stats } = standardizeRows(x, n * c, spatial, this.eps, name);
      if (this.training && this.trackRunningStats && this.momentum !== null && stats) {
        const m = this.momentum;
        noGrad(() => {
          const bm = mean(reshape(stats.mean, [n, c]), 0);
          const bv = mean(reshape(stats.varUnbiased, [n, c]), 0);
          blendRunning(this.runningMean, this.runningVar, bm, bv, 1 - m, m);
          bm.dispose();
          bv.dispose();
        });
      }
      releaseStats(stats, rec);
      const bshape = channelShape(x.rank, 1, c);
      let out = y;
      if (this.weight) out = mul(out, reshape(this.weight, bshape));
      if (this.bias) out = add(out, reshape(this.bias, bshape));
      return out;
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/** (N, C, L) or unbatched (C, L). */
export class InstanceNorm1d extends InstanceNormBase {
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super(numFeatures, opts, 3);
  }
}

/** (N, C, H, W) or unbatched (C, H, W). */
export class InstanceNorm2d extends InstanceNormBase {
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super(numFeatures, opts, 4);
  }
}

/** (N, C, D, H, W) or unbatched (C, D, H, W). */
export class InstanceNorm3d extends InstanceNormBase {
  constructor(numFeatures: number, opts: InstanceNormOptions = {}) {
    super(numFeatures, opts, 5);
  }
}
