import { Module } from "@minibatch/nn";
import { add, checkOptionKeys, full, noGrad, type Tensor, zeros } from "@minibatch/tensor";
import { blendRunning, finishTrain, fusedTrain, momentumFactors, normalizeWith } from "./functional";
import { checkChannels, checkEps, checkPositiveInt, checkRank } from "./util";

const BN_KEYS = ["eps", "momentum", "affine", "trackRunningStats", "convention"] as const;

export interface BatchNormModuleOptions {
  /** Added to the variance (default 1e-5; 1e-3 with the Keras convention). */
  eps?: number;
  /**
   * PyTorch: the weight of the new batch (default 0.1); null for a cumulative average.
   * Keras convention: the fraction of the old value kept (default 0.99).
   */
  momentum?: number | null;
  /** Learnable per-channel weight (gamma) and bias (beta) (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true). */
  trackRunningStats?: boolean;
  /**
   * 'pytorch' (default) or 'keras': Keras momentum (fraction kept), eps 1e-3 and a biased moving
   * variance, for models ported from Keras / TF.js.
   */
  convention?: "pytorch" | "keras";
}

/**
 * Batch normalization over channel axis 1 (PyTorch `_BatchNorm`). Training uses the fused
 * `batchNormTrain` kernel; running statistics are updated on the device under noGrad.
 */
export abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  eps: number;
  momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly convention: "pytorch" | "keras";
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked: Tensor | null;
  protected readonly ranks: readonly number[];
  protected readonly channelAxis: number = 1;

  constructor(
    numFeatures: number,
    opts: BatchNormModuleOptions,
    ranks: readonly number[],
    extraKeys: readonly string[] = [],
  ) {
    checkOptionKeys(new.target.name, opts, [...BN_KEYS, ...extraKeys]);
    super();
    checkPositiveInt(new.target.name, "numFeatures", numFeatures);
    this.numFeatures = numFeatures;
    this.ranks = ranks;
    this.convention = opts.convention ?? "pytorch";
    if (this.convention !== "pytorch" && this.convention !== "keras") {
      throw new Error(`${this.name}: convention must be 'pytorch' or 'keras', got ${this.convention}`);
    }
    const keras = this.convention === "keras";
    this.eps = opts.eps ?? (keras ? 1e-3 : 1e-5);
    checkEps(this.name, this.eps);
    this.momentum = opts.momentum === undefined ? (keras ? 0.99 : 0.1) : opts.momentum;
    if (this.momentum === null && keras) {
      throw new Error(`${this.name}: momentum null (cumulative average) is a PyTorch option, not Keras`);
    }
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) {
      throw new Error(`${this.name}: momentum must be in [0, 1] or null, got ${this.momentum}`);
    }
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
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

  protected get name(): string {
    return this.constructor.name;
  }

  forward(x: Tensor): Tensor {
    checkRank(this.name, x, this.ranks);
    checkChannels(this.name, x, this.channelAxis, this.numFeatures);
    if (!this.training && this.trackRunningStats) {
      return normalizeWith(
        x,
        this.runningMean!,
        this.runningVar!,
        this.weight,
        this.bias,
        this.eps,
        this.channelAxis,
      );
    }
    if (!this.training || !this.trackRunningStats) {
      return finishTrain(fusedTrain(x, this.weight, this.bias, this.eps, this.channelAxis, this.name));
    }
    return this.trainStep(x);
  }

  /** One training step with tracking on: normalize with batch statistics and update the running ones. */
  protected trainStep(x: Tensor): Tensor {
    const st = fusedTrain(x, this.weight, this.bias, this.eps, this.channelAxis, this.name);
    this.updateRunning(st.mean, st.varUnbiased, st.n);
    return finishTrain(st);
  }

  /** numBatchesTracked += 1, then blends the batch statistics into the running ones. */
  protected updateRunning(mean: Tensor, varUnbiased: Tensor, n: number): void {
    const batches = this.numBatchesTracked!;
    noGrad(() => {
      const next = add(batches, 1);
      batches.assign(next);
      next.dispose();
    });
    if (this.convention === "keras") {
      const m = this.momentum as number;
      blendRunning(this.runningMean, this.runningVar, mean, varUnbiased, m, 1 - m, (n - 1) / n);
      return;
    }
    const { keep, f } = momentumFactors(this.momentum, batches);
    blendRunning(this.runningMean, this.runningVar, mean, varUnbiased, keep, f);
    for (const t of [keep, f]) if (typeof t !== "number") t.dispose();
  }

  /** Running mean 0, running variance 1, no batches tracked (PyTorch `reset_running_stats`). */
  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    noGrad(() => {
      const fresh = [zeros([this.numFeatures]), full([this.numFeatures], 1), zeros([], { dtype: "int32" })];
      this.runningMean!.assign(fresh[0]);
      this.runningVar!.assign(fresh[1]);
      this.numBatchesTracked!.assign(fresh[2]);
      for (const t of fresh) t.dispose();
    });
  }

  override extraRepr(): string {
    const conv = this.convention === "keras" ? ", convention=keras" : "";
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}${conv}`;
  }
}

/** Batch normalization of (N, C) or (N, C, L) input (PyTorch `BatchNorm1d`). */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormModuleOptions = {}) {
    super(numFeatures, opts, [2, 3]);
  }
}

/** Batch normalization of (N, C, H, W) input (PyTorch `BatchNorm2d`). */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormModuleOptions = {}) {
    super(numFeatures, opts, [4]);
  }
}

/** Batch normalization of (N, C, D, H, W) input (PyTorch `BatchNorm3d`). */
export class BatchNorm3d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormModuleOptions = {}) {
    super(numFeatures, opts, [5]);
  }
}
