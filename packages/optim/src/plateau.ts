import { checkOptionKeys } from "@minibatch/tensor";
import type { Optimizer } from "./optimizer";
import { describe, LRScheduler } from "./schedulers";

export interface ReduceLROnPlateauOptions {
  /** 'min' (default): lower metrics are better, as for a loss; 'max' for accuracy. */
  mode?: "min" | "max";
  /** The rate is multiplied by this when it plateaus; < 1, default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before reducing; default 10. */
  patience?: number;
  /** How much better counts as better; default 1e-4. */
  threshold?: number;
  /** 'rel' (default): better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold. */
  thresholdMode?: "rel" | "abs";
  /** Epochs to wait after a reduction before counting bad epochs again; default 0. */
  cooldown?: number;
  /** Lower bound of the rate, one for all groups or one per group; default 0. */
  minLr?: number | number[];
  /** Reductions smaller than this are skipped; default 1e-8. */
  eps?: number;
}

const KEYS = ["mode", "factor", "patience", "threshold", "thresholdMode", "cooldown", "minLr", "eps"];

/**
 * Reduces the rate when a metric stops improving (PyTorch `ReduceLROnPlateau`): call
 * `step(metric)` after each validation. After more than `patience` epochs without improvement
 * every group's rate becomes max(lr·factor, minLr).
 */
export class ReduceLROnPlateau extends LRScheduler {
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;

  constructor(optimizer: Optimizer<any>, options: ReduceLROnPlateauOptions = {}) {
    checkOptionKeys("ReduceLROnPlateau", options, KEYS);
    super(optimizer);
    const fail = (name: string, v: unknown, expected: string) => {
      throw new Error(`ReduceLROnPlateau: invalid ${name} = ${describe(v)} (expected ${expected})`);
    };
    const {
      mode = "min",
      factor = 0.1,
      patience = 10,
      threshold = 1e-4,
      thresholdMode = "rel",
      cooldown = 0,
      minLr = 0,
      eps = 1e-8,
    } = options;
    if (mode !== "min" && mode !== "max") fail("mode", mode, "'min' or 'max'");
    if (thresholdMode !== "rel" && thresholdMode !== "abs")
      fail("thresholdMode", thresholdMode, "'rel' or 'abs'");
    if (!(typeof factor === "number" && factor >= 0 && factor < 1))
      fail("factor", factor, "a number in [0, 1)");
    const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
    if (!count(patience)) fail("patience", patience, "an integer >= 0");
    if (!count(cooldown)) fail("cooldown", cooldown, "an integer >= 0");
    if (!(typeof threshold === "number" && threshold >= 0)) fail("threshold", threshold, "a number >= 0");
    if (!(typeof eps === "number" && eps >= 0)) fail("eps", eps, "a number >= 0");
    const n = optimizer.paramGroups.length;
    const mins = Array.isArray(minLr) ? [...minLr] : Array.from({ length: n }, () => minLr);
    if (mins.length !== n)
      fail("minLr", `an array of ${mins.length}`, `one value per parameter group (${n})`);
    mins.forEach((m, i) => {
      if (!(typeof m === "number" && m >= 0)) fail(`minLr[${i}]`, m, "a number >= 0");
    });
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.minLrs = mins;
    this.eps = eps;
    this.best = mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    this.lastEpoch = 0;
    this.lastLr = this.groupLrs();
  }

  protected getLr(): number[] {
    return this.groupLrs();
  }

  /** Records one epoch's metric and reduces the rates if it has plateaued. */
  override step(metric?: number): void {
    if (typeof metric !== "number" || Number.isNaN(metric)) {
      throw new Error(
        `ReduceLROnPlateau.step: expected the epoch's metric (a number), got ${describe(metric)}`,
      );
    }
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs during cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const next = Math.max(g.lr * this.factor, this.minLrs[i]);
        if (g.lr - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.groupLrs();
  }

  private isBetter(a: number): boolean {
    const { best, threshold: th } = this;
    if (this.mode === "min") return this.thresholdMode === "rel" ? a < best * (1 - th) : a < best - th;
    return this.thresholdMode === "rel" ? a > best * (1 + th) : a > best + th;
  }
}
