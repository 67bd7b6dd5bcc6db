import { checkOptionKeys } from "@minibatch/tensor";
import { Optimizer } from "./optimizer";

/** Options every epoch-based scheduler takes. */
export interface SchedulerOptions {
  /**
   * The last epoch already done, to resume a schedule (PyTorch `last_epoch`); default -1, a fresh
   * start. Resuming needs each parameter group's `initialLr` (a loaded optimizer state dict has it).
   */
  lastEpoch?: number;
}

/** Fields that describe the call in progress, not the schedule: never saved. */
const TRANSIENT = new Set(["optimizer", "isInitial"]);

/**
 * The base of learning-rate schedules (PyTorch `torch.optim.lr_scheduler.LRScheduler`). The
 * constructor applies epoch 0's rate; call `step()` after each epoch (or batch, for per-step
 * schedules such as OneCycleLR). Rates are written into each parameter group's `lr`, and the
 * group's first rate is remembered as `initialLr`, as PyTorch's `initial_lr`.
 */
export abstract class LRScheduler {
  readonly optimizer: Optimizer<any>;
  /** Each group's `initialLr` when the scheduler was made. */
  baseLrs: number[];
  /** Number of `step()` calls so far; 0 right after construction. */
  lastEpoch = -1;
  protected stepCount = 0;
  protected lastLr: number[] = [];
  /** True during the constructor's own step, which keeps the groups' current rates (resuming). */
  protected isInitial = false;

  constructor(optimizer: Optimizer<any>, lastEpoch = -1) {
    if (!(optimizer instanceof Optimizer)) {
      throw new Error(`${this.constructor.name}: expected an Optimizer, got ${describe(optimizer)}`);
    }
    if (!(Number.isInteger(lastEpoch) && lastEpoch >= -1)) {
      throw new Error(
        `${this.constructor.name}: invalid lastEpoch = ${describe(lastEpoch)} (expected an integer >= -1)`,
      );
    }
    this.optimizer = optimizer;
    if (lastEpoch === -1) {
      for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    } else {
      optimizer.paramGroups.forEach((g, i) => {
        if (typeof g.initialLr !== "number") {
          throw new Error(
            `${this.constructor.name}: lastEpoch = ${lastEpoch} resumes a schedule, but parameter group ${i} has no initialLr; load the optimizer's state dict first, or leave lastEpoch at -1 for a fresh start`,
          );
        }
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** Rates for epoch `lastEpoch`; PyTorch's chainable forms, which read each group's current `lr`. */
  protected abstract getLr(): number[];

  /** Rates for epoch `lastEpoch` from the base rates alone, where the schedule has such a form. */
  protected closedFormLr?(): number[];

  /** Subclasses call this at the end of their constructor, once their own fields are set. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.isInitial = true;
    try {
      this.step();
    } finally {
      this.isInitial = false;
    }
  }

  /** Redoes the constructor's step (SequentialLR starts its first scheduler again with it). */
  restart(): void {
    this.initialStep();
  }

  /** Advances one epoch and writes the new rates into the parameter groups. */
  step(): void {
    this.stepCount++;
    this.updateLr();
  }

  /**
   * Moves to the next epoch, or jumps to `epoch` using the closed form (SequentialLR restarts a
   * scheduler this way at its milestone), and writes the rates.
   */
  updateLr(epoch?: number): void {
    let lrs: number[];
    if (epoch === undefined) {
      this.lastEpoch++;
      lrs = this.getLr();
    } else {
      this.lastEpoch = epoch;
      lrs = this.closedFormLr ? this.closedFormLr() : this.getLr();
    }
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = lrs[i];
    });
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The rates the last `step()` (or the constructor) computed, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Every field except the optimizer and functions (PyTorch saves the scheduler's `__dict__`). */
  stateDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) {
      if (TRANSIENT.has(k) || typeof v === "function") continue;
      if (Array.isArray(v) && v.some((x) => typeof x === "function" || x instanceof LRScheduler)) continue;
      out[k] = structuredClone(v);
    }
    return out;
  }

  loadStateDict(stateDict: Record<string, unknown>): void {
    if (stateDict === null || typeof stateDict !== "object") {
      throw new Error(
        `${this.constructor.name}.loadStateDict: expected an object, got ${describe(stateDict)}`,
      );
    }
    for (const [k, v] of Object.entries(stateDict)) {
      if (TRANSIENT.has(k) || !(k in this)) continue;
      (this as Record<string, unknown>)[k] = structuredClone(v);
    }
  }

  protected groupLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

/** Multiplies the rate by `gamma` every `stepSize` epochs: lr = base·gamma^floor(epoch/stepSize). */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer<any>, stepSize: number, gamma = 0.1, options: SchedulerOptions = {}) {
    super(optimizer, schedulerOptions("StepLR", options).lastEpoch);
    positiveInteger("StepLR", "stepSize", stepSize);
    finite("StepLR", "gamma", gamma);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Multiplies the rate by `gamma` every epoch: lr = base·gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;

  constructor(optimizer: Optimizer<any>, gamma: number, options: SchedulerOptions = {}) {
    super(optimizer, schedulerOptions("ExponentialLR", options).lastEpoch);
    finite("ExponentialLR", "gamma", gamma);
    this.gamma = gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    if (this.isInitial) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

/**
 * Cosine annealing from the base rate to `etaMin` over `tMax` epochs (SGDR without restarts):
 * lr = etaMin + (base - etaMin)·(1 + cos(π·epoch/tMax))/2, rising again after tMax as PyTorch's does.
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer<any>, tMax: number, etaMin = 0, options: SchedulerOptions = {}) {
    super(optimizer, schedulerOptions("CosineAnnealingLR", options).lastEpoch);
    positiveInteger("CosineAnnealingLR", "tMax", tMax);
    finite("CosineAnnealingLR", "etaMin", etaMin);
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.initialStep();
  }

  protected getLr(): number[] {
    const { lastEpoch: t, tMax: T, etaMin } = this;
    const lrs = this.groupLrs();
    if (this.isInitial) return lrs;
    if (this.stepCount === 1 && t > 0) {
      return this.baseLrs.map((base) => etaMin + ((base - etaMin) * (1 + Math.cos((t * Math.PI) / T))) / 2);
    }
    // At the bottom of a period the ratio form divides by zero; PyTorch steps up explicitly there.
    if ((t - 1 - T) % (2 * T) === 0) {
      return lrs.map((lr, i) => lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    const ratio = (1 + Math.cos((Math.PI * t) / T)) / (1 + Math.cos((Math.PI * (t - 1)) / T));
    return lrs.map((lr) => ratio * (lr - etaMin) + etaMin);
  }

  protected override closedFormLr(): number[] {
    const { lastEpoch: t, tMax: T, etaMin } = this;
    return this.baseLrs.map((base) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * t) / T))) / 2);
  }
}

export interface LinearLROptions extends SchedulerOptions {
  /** Factor of the base rate at epoch 0, in (0, 1]; default 1/3. */
  startFactor?: number;
  /** Factor reached after `totalIters` epochs, in [0, 1]; default 1. */
  endFactor?: number;
  /** Epochs to go from startFactor to endFactor; default 5. */
  totalIters?: number;
}

/**
 * Scales the rate by a factor moving linearly from `startFactor` to `endFactor` over `totalIters`
 * epochs, then holds it: the usual linear warm-up (PyTorch `LinearLR`).
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: Optimizer<any>, options: LinearLROptions = {}) {
    checkOptionKeys("LinearLR", options, ["startFactor", "endFactor", "totalIters", "lastEpoch"]);
    super(optimizer, options.lastEpoch);
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = options;
    if (!(typeof startFactor === "number" && startFactor > 0 && startFactor <= 1)) {
      throw new Error(`LinearLR: invalid startFactor = ${startFactor} (expected a number in (0, 1])`);
    }
    if (!(typeof endFactor === "number" && endFactor >= 0 && endFactor <= 1)) {
      throw new Error(`LinearLR: invalid endFactor = ${endFactor} (expected a number in [0, 1])`);
    }
    positiveInteger("LinearLR", "totalIters", totalIters);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.initialStep();
  }

  protected getLr(): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    const lrs = this.groupLrs();
    if (t === 0) return lrs.map((lr) => lr * s);
    if (this.isInitial || t > n) return lrs;
    return lrs.map((lr) => lr * (1 + (e - s) / (n * s + (t - 1) * (e - s))));
  }

  protected override closedFormLr(): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((e - s) * Math.min(n, t)) / n));
  }
}

/** Sets lr = base·lrLambda(epoch), with one function for all groups or one per group. */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: ((epoch: number) => number)[];

  constructor(
    optimizer: Optimizer<any>,
    lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[],
    options: SchedulerOptions = {},
  ) {
    super(optimizer, schedulerOptions("LambdaLR", options).lastEpoch);
    const n = optimizer.paramGroups.length;
    const fns = Array.isArray(lrLambda) ? [...lrLambda] : Array.from({ length: n }, () => lrLambda);
    if (fns.length !== n)
      throw new Error(`LambdaLR: expected ${n} lrLambda functions, one per group, got ${fns.length}`);
    fns.forEach((f, i) => {
      if (typeof f !== "function")
        throw new Error(`LambdaLR: lrLambda[${i}] is not a function, got ${describe(f)}`);
    });
    this.lrLambdas = fns;
    this.initialStep();
  }

  protected getLr(): number[] {
    return this.baseLrs.map((base, i) => base * this.lrLambdas[i](this.lastEpoch));
  }
}

export interface OneCycleLROptions extends SchedulerOptions {
  /** Fraction of the steps spent raising the rate; default 0.3. */
  pctStart?: number;
  /** "cos" (default) or "linear" annealing within each phase. */
  annealStrategy?: "cos" | "linear";
  /** Cycle the momentum (SGD `momentum`, or Adam's beta1) inversely to the rate; default true. */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** The initial rate is maxLr / divFactor; default 25. */
  divFactor?: number;
  /** The final rate is the initial rate / finalDivFactor; default 1e4. */
  finalDivFactor?: number;
  /** Three phases (up, down to the initial rate, then to the minimum) instead of two. */
  threePhase?: boolean;
}

interface Phase {
  endStep: number;
  startLr: string;
  endLr: string;
  startMomentum: string;
  endMomentum: string;
}

/**
 * The 1cycle policy (PyTorch `OneCycleLR`): the rate rises from maxLr/divFactor to maxLr over
 * pctStart of `totalSteps`, then falls to the initial rate / finalDivFactor, while the momentum
 * does the opposite. Step it after every batch, `totalSteps` times at most.
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly annealStrategy: "cos" | "linear";
  readonly cycleMomentum: boolean;
  readonly useBeta1: boolean;
  readonly phases: Phase[];

  constructor(
    optimizer: Optimizer<any>,
    maxLr: number | number[],
    totalSteps: number,
    options: OneCycleLROptions = {},
  ) {
    checkOptionKeys("OneCycleLR", options, [
      "pctStart",
      "annealStrategy",
      "cycleMomentum",
      "baseMomentum",
      "maxMomentum",
      "divFactor",
      "finalDivFactor",
      "threePhase",
      "lastEpoch",
    ]);
    super(optimizer, options.lastEpoch);
    const {
      pctStart = 0.3,
      annealStrategy = "cos",
      cycleMomentum = true,
      baseMomentum = 0.85,
      maxMomentum = 0.95,
      divFactor = 25,
      finalDivFactor = 1e4,
      threePhase = false,
    } = options;
    positiveInteger("OneCycleLR", "totalSteps", totalSteps);
    if (!(typeof pctStart === "number" && pctStart >= 0 && pctStart <= 1)) {
      throw new Error(`OneCycleLR: invalid pctStart = ${pctStart} (expected a number in [0, 1])`);
    }
    if (annealStrategy !== "cos" && annealStrategy !== "linear") {
      throw new Error(
        `OneCycleLR: invalid annealStrategy = ${String(annealStrategy)} (expected 'cos' or 'linear')`,
      );
    }
    finite("OneCycleLR", "divFactor", divFactor);
    finite("OneCycleLR", "finalDivFactor", finalDivFactor);
    const groups = optimizer.paramGroups;
    const maxLrs = perGroup("maxLr", maxLr, groups.length);
    // Resuming (lastEpoch >= 0) keeps the groups' saved initialLr, maxLr and momenta, as PyTorch does.
    const fresh = this.lastEpoch === -1;
    if (fresh) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = (g.initialLr as number) / finalDivFactor;
      });
    }
    // The base class read initialLr before it was set here.
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.totalSteps = totalSteps;
    this.annealStrategy = annealStrategy;
    const up = pctStart * totalSteps - 1;
    this.phases = threePhase
      ? [
          {
            endStep: up,
            startLr: "initialLr",
            endLr: "maxLr",
            startMomentum: "maxMomentum",
            endMomentum: "baseMomentum",
          },
          {
            endStep: 2 * pctStart * totalSteps - 2,
            startLr: "maxLr",
            endLr: "initialLr",
            startMomentum: "baseMomentum",
            endMomentum: "maxMomentum",
          },
          {
            endStep: totalSteps - 1,
            startLr: "initialLr",
            endLr: "minLr",
            startMomentum: "maxMomentum",
            endMomentum: "maxMomentum",
          },
        ]
      : [
          {
            endStep: up,
            startLr: "initialLr",
            endLr: "maxLr",
            startMomentum: "maxMomentum",
            endMomentum: "baseMomentum",
          },
          {
            endStep: totalSteps - 1,
            startLr: "maxLr",
            endLr: "minLr",
            startMomentum: "baseMomentum",
            endMomentum: "maxMomentum",
          },
        ];
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = "betas" in optimizer.defaults;
    if (cycleMomentum) {
      if (!("momentum" in optimizer.defaults) && !this.useBeta1) {
        throw new Error(
          `OneCycleLR: cycleMomentum needs an optimizer with 'momentum' or 'betas' (${optimizer.constructor.name} has neither); pass cycleMomentum: false`,
        );
      }
      const maxMs = perGroup("maxMomentum", maxMomentum, groups.length);
      const baseMs = perGroup("baseMomentum", baseMomentum, groups.length);
      if (fresh) {
        groups.forEach((g, i) => {
          this.setMomentum(g, maxMs[i]);
          g.maxMomentum = maxMs[i];
          g.baseMomentum = baseMs[i];
        });
      }
    }
    this.initialStep();
  }

  private setMomentum(group: Record<string, unknown>, m: number): void {
    if (this.useBeta1) group.betas = [m, (group.betas as number[])[1]];
    else group.momentum = m;
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === "linear") return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  protected getLr(): number[] {
    const t = this.lastEpoch;
    if (t > this.totalSteps) {
      throw new Error(`OneCycleLR: tried to step ${t} times; totalSteps is ${this.totalSteps}`);
    }
    return this.optimizer.paramGroups.map((g) => {
      let start = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const phase = this.phases[i];
        if (t <= phase.endStep || i === this.phases.length - 1) {
          const pct = (t - start) / (phase.endStep - start);
          if (this.cycleMomentum) {
            const m = this.anneal(g[phase.startMomentum] as number, g[phase.endMomentum] as number, pct);
            this.setMomentum(g, m);
          }
          return this.anneal(g[phase.startLr] as number, g[phase.endLr] as number, pct);
        }
        start = phase.endStep;
      }
      throw new Error("internal: OneCycleLR found no phase");
    });
  }
}

function perGroup(name: string, v: number | number[], n: number): number[] {
  if (Array.isArray(v)) {
    if (v.length !== n)
      throw new Error(`OneCycleLR: expected ${n} values of ${name}, one per group, got ${v.length}`);
    v.forEach((x, i) => {
      finite("OneCycleLR", `${name}[${i}]`, x);
    });
    return [...v];
  }
  finite("OneCycleLR", name, v);
  return Array.from({ length: n }, () => v);
}

/** Checks the options of a scheduler whose only option is `lastEpoch`. */
function schedulerOptions(owner: string, options: SchedulerOptions): SchedulerOptions {
  checkOptionKeys(owner, options, ["lastEpoch"]);
  return options;
}

export function positiveInteger(scheduler: string, name: string, v: unknown): void {
  if (!(typeof v === "number" && Number.isInteger(v) && v > 0)) {
    throw new Error(`${scheduler}: invalid ${name} = ${describe(v)} (expected a positive integer)`);
  }
}

export function finite(scheduler: string, name: string, v: unknown): void {
  if (!(typeof v === "number" && Number.isFinite(v))) {
    throw new Error(`${scheduler}: invalid ${name} = ${describe(v)} (expected a finite number)`);
  }
}

export function describe(v: unknown): string {
  if (v === null || typeof v !== "object") return String(v);
  return v.constructor?.name ?? "object";
}
