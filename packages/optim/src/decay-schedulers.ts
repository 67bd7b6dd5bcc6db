import { checkOptionKeys } from "@minibatch/tensor";
import type { Optimizer } from "./optimizer";
import { describe, finite, LRScheduler, positiveInteger, type SchedulerOptions } from "./schedulers";

/** The number of sorted milestones m with m <= t (Python's bisect_right). */
export function bisectRight(sorted: readonly number[], t: number): number {
  let n = 0;
  while (n < sorted.length && sorted[n] <= t) n++;
  return n;
}

export interface MultiStepLROptions extends SchedulerOptions {
  /** Multiplier at each milestone; default 0.1. */
  gamma?: number;
}

/**
 * Multiplies the rate by `gamma` at each milestone epoch (PyTorch `MultiStepLR`):
 * lr = base·gamma^(milestones passed). A milestone listed twice applies gamma twice.
 */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  readonly gamma: number;

  constructor(optimizer: Optimizer<any>, milestones: readonly number[], options: MultiStepLROptions = {}) {
    checkOptionKeys("MultiStepLR", options, ["gamma", "lastEpoch"]);
    super(optimizer, options.lastEpoch);
    if (!Array.isArray(milestones)) {
      throw new Error(`MultiStepLR: milestones must be an array of epochs, got ${describe(milestones)}`);
    }
    milestones.forEach((m, i) => {
      if (!(Number.isInteger(m) && m >= 0)) {
        throw new Error(`MultiStepLR: invalid milestones[${i}] = ${describe(m)} (expected an integer >= 0)`);
      }
    });
    const gamma = options.gamma ?? 0.1;
    finite("MultiStepLR", "gamma", gamma);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.gamma = gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (hits === 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma ** hits);
  }

  protected override closedFormLr(): number[] {
    const n = bisectRight(this.milestones, this.lastEpoch);
    return this.baseLrs.map((b) => b * this.gamma ** n);
  }
}

export interface ConstantLROptions extends SchedulerOptions {
  /** Factor applied until `totalIters`, in [0, 1]; default 1/3. */
  factor?: number;
  /** Epochs the factor lasts; default 5. */
  totalIters?: number;
}

/** Scales the rate by `factor` for the first `totalIters` epochs, then restores it (PyTorch `ConstantLR`). */
export class ConstantLR extends LRScheduler {
  readonly factor: number;
  readonly totalIters: number;

  constructor(optimizer: Optimizer<any>, options: ConstantLROptions = {}) {
    checkOptionKeys("ConstantLR", options, ["factor", "totalIters", "lastEpoch"]);
    super(optimizer, options.lastEpoch);
    const { factor = 1 / 3, totalIters = 5 } = options;
    if (!(typeof factor === "number" && factor >= 0 && factor <= 1)) {
      throw new Error(`ConstantLR: invalid factor = ${describe(factor)} (expected a number in [0, 1])`);
    }
    positiveInteger("ConstantLR", "totalIters", totalIters);
    this.factor = factor;
    this.totalIters = totalIters;
    this.initialStep();
  }

  protected getLr(): number[] {
    const lrs = this.groupLrs();
    if (this.lastEpoch === 0) return lrs.map((lr) => lr * this.factor);
    if (this.lastEpoch !== this.totalIters) return lrs;
    return lrs.map((lr) => lr / this.factor);
  }

  protected override closedFormLr(): number[] {
    const f = this.lastEpoch >= this.totalIters ? 1 : this.factor;
    return this.baseLrs.map((b) => b * f);
  }
}

export interface PolynomialLROptions extends SchedulerOptions {
  /** Epochs to decay over; default 5. */
  totalIters?: number;
  /** Power of the polynomial; default 1 (linear decay to 0). */
  power?: number;
}

/** Decays the rate to 0 over `totalIters` epochs: lr = base·(1 - t/totalIters)^power (PyTorch `PolynomialLR`). */
export class PolynomialLR extends LRScheduler {
  readonly totalIters: number;
  readonly power: number;

  constructor(optimizer: Optimizer<any>, options: PolynomialLROptions = {}) {
    checkOptionKeys("PolynomialLR", options, ["totalIters", "power", "lastEpoch"]);
    super(optimizer, options.lastEpoch);
    const { totalIters = 5, power = 1 } = options;
    positiveInteger("PolynomialLR", "totalIters", totalIters);
    finite("PolynomialLR", "power", power);
    this.totalIters = totalIters;
    this.power = power;
    this.initialStep();
  }

  protected getLr(): number[] {
    const { lastEpoch: t, totalIters: n } = this;
    const lrs = this.groupLrs();
    if (this.isInitial || t > n) return lrs;
    const f = ((1 - t / n) / (1 - (t - 1) / n)) ** this.power;
    return lrs.map((lr) => lr * f);
  }

  protected override closedFormLr(): number[] {
    const f = (1 - Math.min(this.totalIters, this.lastEpoch) / this.totalIters) ** this.power;
    return this.baseLrs.map((b) => b * f);
  }
}

export interface CosineAnnealingWarmRestartsOptions extends SchedulerOptions {
  /** Each period is tMult times the previous one; an integer >= 1, default 1. */
  tMult?: number;
  /** The lowest rate; default 0. */
  etaMin?: number;
}

/**
 * SGDR, cosine annealing with warm restarts (PyTorch `CosineAnnealingWarmRestarts`):
 * lr = etaMin + (base - etaMin)(1 + cos(π·tCur/tI))/2, where tCur counts epochs since the last
 * restart and the period tI starts at t0 and is multiplied by tMult at every restart.
 * `step(epoch)` accepts fractional epochs, to step after every batch.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  readonly t0: number;
  readonly tMult: number;
  readonly etaMin: number;
  tI: number;
  tCur: number;

  constructor(optimizer: Optimizer<any>, t0: number, options: CosineAnnealingWarmRestartsOptions = {}) {
    checkOptionKeys("CosineAnnealingWarmRestarts", options, ["tMult", "etaMin", "lastEpoch"]);
    super(optimizer, options.lastEpoch);
    const { tMult = 1, etaMin = 0 } = options;
    positiveInteger("CosineAnnealingWarmRestarts", "t0", t0);
    positiveInteger("CosineAnnealingWarmRestarts", "tMult", tMult);
    finite("CosineAnnealingWarmRestarts", "etaMin", etaMin);
    this.t0 = t0;
    this.tI = t0;
    this.tMult = tMult;
    this.etaMin = etaMin;
    this.tCur = this.lastEpoch;
    this.initialStep();
  }

  protected getLr(): number[] {
    const c = (1 + Math.cos((Math.PI * this.tCur) / this.tI)) / 2;
    return this.baseLrs.map((b) => this.etaMin + (b - this.etaMin) * c);
  }

  /** Next epoch, or jumps to `epoch` (may be fractional: epoch + batch / batches). */
  override step(epoch?: number): void {
    let e = epoch;
    if (e === undefined && this.lastEpoch < 0) e = 0;
    if (e === undefined) {
      e = this.lastEpoch + 1;
      this.tCur += 1;
      if (this.tCur >= this.tI) {
        this.tCur %= this.tI;
        this.tI *= this.tMult;
      }
    } else {
      if (!(typeof e === "number" && Number.isFinite(e) && e >= 0)) {
        throw new Error(
          `CosineAnnealingWarmRestarts.step: invalid epoch = ${describe(e)} (expected a number >= 0)`,
        );
      }
      if (e >= this.t0) {
        if (this.tMult === 1) {
          this.tCur = e % this.t0;
        } else {
          const n = Math.floor(Math.log((e / this.t0) * (this.tMult - 1) + 1) / Math.log(this.tMult));
          this.tCur = e - (this.t0 * (this.tMult ** n - 1)) / (this.tMult - 1);
          this.tI = this.t0 * this.tMult ** n;
        }
      } else {
        this.tI = this.t0;
        this.tCur = e;
      }
    }
    this.lastEpoch = Math.floor(e);
    const lrs = this.getLr();
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = lrs[i];
    });
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
}
