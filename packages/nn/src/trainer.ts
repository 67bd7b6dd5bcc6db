import { compile, noGrad, type Tensor, tidy } from "@minibatch/tensor";
import type { Module } from "./module";

/** What the trainer needs from an optimizer (every `@minibatch/optim` optimizer fits). */
export interface TrainerOptimizer {
  zeroGrad(): void;
  step(): unknown;
}
/** What the trainer needs from a learning-rate schedule (every `@minibatch/optim` scheduler fits). */
export interface TrainerScheduler {
  step(): unknown;
}
/** A metric over one batch: returns its mean over the batch (as `accuracy` does). */
export type BatchMetric = (output: Tensor, target: Tensor) => number | Promise<number>;

/** Numbers of one epoch: `loss` and each metric on the training data, `valLoss`, `val<Metric>` on the validation data. */
export type EpochLogs = Record<string, number>;

export interface Callback {
  onEpochEnd?(epoch: number, logs: EpochLogs, trainer: Trainer<any>): void | Promise<void>;
  onBatchEnd?(step: number, loss: number, trainer: Trainer<any>): void | Promise<void>;
}

export interface TrainerOptions<B> {
  optimizer: TrainerOptimizer;
  /** The loss of a batch, e.g. `crossEntropy` or `new MSELoss()`. */
  loss: ((output: Tensor, target: Tensor) => Tensor) | Module<[Tensor, Tensor], Tensor>;
  /** Stepped once per epoch (default) or once per batch (`schedulerInterval: "step"`, for OneCycleLR). */
  scheduler?: TrainerScheduler;
  schedulerInterval?: "epoch" | "step";
  /** Metrics reported per epoch, weighted by batch size, e.g. `{ accuracy }`. */
  metrics?: Record<string, BatchMetric>;
  callbacks?: Callback[];
  /** Splits a batch into the model's input and the target; default: `[input, target]` arrays. */
  split?: (batch: B) => [Tensor, Tensor];
  /** Dispose the batch tensors after each step (default true: DataLoader batches are fresh tensors). */
  disposeBatches?: boolean;
  /**
   * Replay each training step from a compiled program (`compile` from @minibatch/tensor; Keras'
   * `jit_compile`): the same results, less overhead per op. Default false. A per-step scheduler
   * changes the program's learning rate every step, so compile refuses it and says so.
   */
  compile?: boolean;
}

export interface FitOptions<B> {
  epochs: number;
  validation?: AsyncIterable<B> | Iterable<B>;
}

const KNOWN = new Set([
  "optimizer",
  "loss",
  "scheduler",
  "schedulerInterval",
  "metrics",
  "callbacks",
  "split",
  "disposeBatches",
  "compile",
]);

/**
 * The training loop people write by hand, once (Keras `fit`, Lightning's loop): epochs over a
 * loader, zeroGrad / forward / loss / backward / step inside `tidy`, the scheduler, metrics
 * weighted by batch size, evaluation in eval mode without gradients, and callbacks. It computes
 * exactly what the hand-written loop computes; nothing is left alive between steps.
 */
export class Trainer<B = Tensor[]> {
  readonly model: Module<[Tensor], Tensor>;
  readonly options: TrainerOptions<B>;
  /** Logs of every finished epoch. */
  readonly history: EpochLogs[] = [];
  /** Set by a callback (e.g. early stopping) to end `fit` after the current epoch. */
  stopTraining = false;
  private steps = 0;
  private readonly trainStep: (input: Tensor, target: Tensor) => { l: Tensor; output: Tensor };

  constructor(model: Module<[Tensor], Tensor>, options: TrainerOptions<B>) {
    for (const key of Object.keys(options ?? {})) {
      if (!KNOWN.has(key))
        throw new Error(`Trainer: unknown option '${key}' (known: ${[...KNOWN].join(", ")})`);
    }
    if (!options?.optimizer)
      throw new Error(
        "Trainer: options.optimizer is required (e.g. new SGD(model.parameters(), { lr: 0.1 }))",
      );
    if (!options.loss) throw new Error("Trainer: options.loss is required (e.g. crossEntropy)");
    if (options.schedulerInterval && !["epoch", "step"].includes(options.schedulerInterval)) {
      throw new Error(
        `Trainer: schedulerInterval must be "epoch" or "step", got ${String(options.schedulerInterval)}`,
      );
    }
    if (options.compile !== undefined && typeof options.compile !== "boolean") {
      throw new Error(`Trainer: compile must be a boolean, got ${String(options.compile)}`);
    }
    this.model = model;
    this.options = options;
    const step = (input: Tensor, target: Tensor) => {
      options.optimizer.zeroGrad();
      const output = this.model.call(input);
      const l = this.lossOf(output, target);
      l.backward();
      options.optimizer.step();
      return { l, output };
    };
    this.trainStep = options.compile ? compile(step) : (input, target) => tidy(() => step(input, target));
  }

  /** Trains for `epochs` epochs over `train`, evaluating on `validation` after each; returns the history. */
  async fit(
    train: AsyncIterable<B> | Iterable<B>,
    { epochs, validation }: FitOptions<B>,
  ): Promise<EpochLogs[]> {
    if (!Number.isInteger(epochs) || epochs < 1)
      throw new Error(`Trainer.fit: epochs must be an integer >= 1, got ${String(epochs)}`);
    const { scheduler, metrics = {}, callbacks = [] } = this.options;
    const perStep = this.options.schedulerInterval === "step";
    this.stopTraining = false;
    for (let epoch = 0; epoch < epochs && !this.stopTraining; epoch++) {
      this.model.train();
      const sums = new Sums();
      for await (const batch of train) {
        const [input, target] = this.split(batch);
        const n = input.shape[0] ?? 1;
        const loss = this.trainStep(input, target);
        const value = await loss.l.item();
        sums.add("loss", value, n);
        for (const [name, metric] of Object.entries(metrics))
          sums.add(name, await metric(loss.output, target), n);
        loss.l.dispose();
        loss.output.dispose();
        this.disposeBatch(batch, input, target);
        if (scheduler && perStep) scheduler.step();
        this.steps++;
        for (const c of callbacks) await c.onBatchEnd?.(this.steps, value, this);
      }
      if (scheduler && !perStep) scheduler.step();
      const logs = sums.means();
      if (validation) {
        for (const [k, v] of Object.entries(await this.evaluate(validation)))
          logs[`val${k[0].toUpperCase()}${k.slice(1)}`] = v;
      }
      this.history.push(logs);
      for (const c of callbacks) await c.onEpochEnd?.(epoch, logs, this);
    }
    return this.history;
  }

  /** Loss and metrics over a loader in eval mode without gradients (the model's mode is restored). */
  async evaluate(data: AsyncIterable<B> | Iterable<B>): Promise<EpochLogs> {
    const wasTraining = this.model.training;
    this.model.eval();
    const sums = new Sums();
    try {
      for await (const batch of data) {
        const [input, target] = this.split(batch);
        const n = input.shape[0] ?? 1;
        const { l, output } = noGrad(() =>
          tidy(() => {
            const output = this.model.call(input);
            return { l: this.lossOf(output, target), output };
          }),
        );
        sums.add("loss", await l.item(), n);
        for (const [name, metric] of Object.entries(this.options.metrics ?? {}))
          sums.add(name, await metric(output, target), n);
        l.dispose();
        output.dispose();
        this.disposeBatch(batch, input, target);
      }
    } finally {
      if (wasTraining) this.model.train();
    }
    return sums.means();
  }

  private lossOf(output: Tensor, target: Tensor): Tensor {
    const loss = this.options.loss;
    return typeof loss === "function" ? loss(output, target) : loss.call(output, target);
  }

  private split(batch: B): [Tensor, Tensor] {
    if (this.options.split) return this.options.split(batch);
    if (Array.isArray(batch) && batch.length === 2) return batch as unknown as [Tensor, Tensor];
    throw new Error(
      `Trainer: a batch is not an [input, target] pair (got ${Array.isArray(batch) ? `an array of ${batch.length}` : typeof batch}); pass options.split, e.g. split: (b) => [b.image, b.label]`,
    );
  }

  private disposeBatch(batch: B, input: Tensor, target: Tensor): void {
    if (this.options.disposeBatches === false) return;
    const seen = new Set<Tensor>([input, target]);
    const parts = Array.isArray(batch)
      ? batch
      : batch && typeof batch === "object"
        ? Object.values(batch)
        : [];
    for (const t of parts) if (isTensor(t)) seen.add(t);
    for (const t of seen) if (!t.isDisposed) t.dispose();
  }
}

/** Trains `model` (Keras `model.fit`); see {@link Trainer}. */
export async function fit<B = Tensor[]>(
  model: Module<[Tensor], Tensor>,
  train: AsyncIterable<B> | Iterable<B>,
  options: TrainerOptions<B> & FitOptions<B>,
): Promise<EpochLogs[]> {
  const { epochs, validation, ...rest } = options;
  return new Trainer<B>(model, rest).fit(train, { epochs, validation });
}

/** Stops training when `monitor` has not improved by `minDelta` for `patience` epochs (Keras EarlyStopping). */
export function earlyStopping({
  monitor = "valLoss",
  patience = 3,
  minDelta = 0,
  mode = "min",
}: {
  monitor?: string;
  patience?: number;
  minDelta?: number;
  mode?: "min" | "max";
} = {}): Callback {
  let best = mode === "min" ? Infinity : -Infinity;
  let wait = 0;
  return {
    onEpochEnd(_epoch, logs, trainer) {
      const v = logs[monitor];
      if (v === undefined)
        throw new Error(
          `earlyStopping: no '${monitor}' in the epoch logs (have: ${Object.keys(logs).join(", ")})`,
        );
      const better = mode === "min" ? v < best - minDelta : v > best + minDelta;
      if (better) {
        best = v;
        wait = 0;
      } else if (++wait >= patience) {
        trainer.stopTraining = true;
      }
    },
  };
}

/** Calls `save(epoch)` every `every` epochs (e.g. `saveCheckpoint(path, { model, optimizer })`). */
export function checkpointEvery(every: number, save: (epoch: number) => void | Promise<void>): Callback {
  if (!Number.isInteger(every) || every < 1)
    throw new Error(`checkpointEvery: every must be an integer >= 1, got ${String(every)}`);
  return {
    async onEpochEnd(epoch) {
      if ((epoch + 1) % every === 0) await save(epoch);
    },
  };
}

/** Prints one line per epoch with its logs. */
export function progress(print: (line: string) => void = console.log): Callback {
  return {
    onEpochEnd(epoch, logs) {
      print(
        `epoch ${epoch + 1}: ${Object.entries(logs)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(", ")}`,
      );
    },
  };
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && typeof (x as Tensor).dispose === "function" && "dtype" in x;
}

/** Sums weighted by batch size, in float64. */
class Sums {
  private readonly total = new Map<string, { sum: number; n: number }>();
  add(name: string, value: number, n: number): void {
    const s = this.total.get(name) ?? { sum: 0, n: 0 };
    s.sum += value * n;
    s.n += n;
    this.total.set(name, s);
  }
  means(): EpochLogs {
    const out: EpochLogs = {};
    for (const [k, { sum, n }] of this.total) out[k] = n ? sum / n : Number.NaN;
    return out;
  }
}
