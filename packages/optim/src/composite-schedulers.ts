import { checkOptionKeys } from "@minibatch/tensor";
import { bisectRight } from "./decay-schedulers";
import type { Optimizer } from "./optimizer";
import { ReduceLROnPlateau } from "./plateau";
import { describe, LRScheduler, type SchedulerOptions } from "./schedulers";

function checkChildren(owner: string, optimizer: Optimizer<any>, schedulers: readonly LRScheduler[]): void {
  if (!Array.isArray(schedulers) || schedulers.length === 0) {
    throw new Error(`${owner}: expected a non-empty array of schedulers, got ${describe(schedulers)}`);
  }
  schedulers.forEach((s, i) => {
    if (s instanceof ReduceLROnPlateau) {
      throw new Error(
        `${owner}: schedulers[${i}] is a ReduceLROnPlateau, whose step needs a metric; step it on its own`,
      );
    }
    if (!(s instanceof LRScheduler)) {
      throw new Error(`${owner}: schedulers[${i}] is not an LRScheduler, got ${describe(s)}`);
    }
    if (s.optimizer !== optimizer) {
      throw new Error(`${owner}: schedulers[${i}] (${s.constructor.name}) belongs to a different optimizer`);
    }
  });
}

/** Undoes the step every scheduler's constructor made, down through nested composites. */
function undoInitialSteps(s: LRScheduler): void {
  if (s instanceof SequentialLR || s instanceof ChainedScheduler) {
    for (const c of s.schedulers) undoInitialSteps(c);
  } else {
    s.lastEpoch -= 1;
  }
}

function saveChildren(self: LRScheduler, children: readonly LRScheduler[]): Record<string, unknown> {
  return { ...LRScheduler.prototype.stateDict.call(self), schedulers: children.map((c) => c.stateDict()) };
}

function loadChildren(
  self: LRScheduler,
  children: readonly LRScheduler[],
  stateDict: Record<string, unknown>,
): void {
  const name = `${self.constructor.name}.loadStateDict`;
  const saved = stateDict?.schedulers;
  if (!Array.isArray(saved) || saved.length !== children.length) {
    throw new Error(
      `${name}: expected 'schedulers' with ${children.length} state dicts, got ${describe(saved)}`,
    );
  }
  const { schedulers: _, ...own } = stateDict;
  LRScheduler.prototype.loadStateDict.call(self, own);
  children.forEach((c, i) => {
    c.loadStateDict(saved[i] as Record<string, unknown>);
  });
}

/**
 * Runs schedulers one after another (PyTorch `SequentialLR`): `schedulers[i]` drives epochs from
 * `milestones[i-1]` on, and restarts from its epoch 0 there. Make the schedulers on the same
 * optimizer first, then pass them here; the rates start again from the groups' `initialLr`.
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  readonly milestones: number[];

  constructor(
    optimizer: Optimizer<any>,
    schedulers: readonly LRScheduler[],
    milestones: readonly number[],
    options: SchedulerOptions = {},
  ) {
    checkOptionKeys("SequentialLR", options, ["lastEpoch"]);
    super(optimizer);
    checkChildren("SequentialLR", optimizer, schedulers);
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      throw new Error(
        `SequentialLR: expected ${schedulers.length - 1} milestones (one fewer than the ${schedulers.length} schedulers), got ${describe(milestones)}${Array.isArray(milestones) ? ` of length ${milestones.length}` : ""}`,
      );
    }
    milestones.forEach((m, i) => {
      if (!(Number.isInteger(m) && m > 0 && (i === 0 || m > milestones[i - 1]))) {
        throw new Error(
          `SequentialLR: invalid milestones[${i}] = ${describe(m)} (expected increasing positive integers)`,
        );
      }
    });
    const lastEpoch = options.lastEpoch ?? -1;
    if (!(Number.isInteger(lastEpoch) && lastEpoch >= -1)) {
      throw new Error(`SequentialLR: invalid lastEpoch = ${describe(lastEpoch)} (expected an integer >= -1)`);
    }
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = lastEpoch + 1;
    for (const g of optimizer.paramGroups) g.lr = g.initialLr as number;
    for (const s of this.schedulers) undoInitialSteps(s);
    const first = this.schedulers[bisectRight(this.milestones, 0)];
    first.restart();
    this.lastLr = first.getLastLr();
  }

  protected getLr(): number[] {
    return this.groupLrs();
  }

  override step(): void {
    this.lastEpoch++;
    const i = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[i];
    if (i > 0 && this.milestones[i - 1] === this.lastEpoch) s.updateLr(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }

  /** Own fields plus each scheduler's state dict under `schedulers`, as PyTorch's `_schedulers`. */
  override stateDict(): Record<string, unknown> {
    return saveChildren(this, this.schedulers);
  }

  override loadStateDict(stateDict: Record<string, unknown>): void {
    loadChildren(this, this.schedulers, stateDict);
  }
}

/**
 * Steps several schedulers together, each multiplying its change into the rate (PyTorch
 * `ChainedScheduler`), e.g. a ConstantLR warm-up with an ExponentialLR decay.
 */
export class ChainedScheduler extends LRScheduler {
  readonly schedulers: LRScheduler[];

  constructor(schedulers: readonly LRScheduler[], optimizer?: Optimizer<any>) {
    const opt = optimizer ?? (schedulers as LRScheduler[] | undefined)?.[0]?.optimizer;
    super(opt as Optimizer<any>);
    checkChildren("ChainedScheduler", this.optimizer, schedulers);
    this.schedulers = [...schedulers];
    this.lastLr = this.groupLrs();
  }

  protected getLr(): number[] {
    return this.groupLrs();
  }

  override step(): void {
    for (const s of this.schedulers) s.step();
    this.lastLr = this.groupLrs();
  }

  override stateDict(): Record<string, unknown> {
    return saveChildren(this, this.schedulers);
  }

  override loadStateDict(stateDict: Record<string, unknown>): void {
    loadChildren(this, this.schedulers, stateDict);
  }
}
