import { DataLoader, TensorDataset } from "@minibatch/data";
import { crossEntropy } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { fromArray, memory, noGrad, type Tensor, tidy } from "@minibatch/tensor";
import type { CurvePoint, RunConfig, RunResult } from "./config";
import type { MnistData, MnistSplit } from "./mnist";
import { buildModel, type ProbedModel } from "./model";
import { percentiles } from "./stats";

const now = () => performance.now() / 1000;

/** Test images per forward pass in evaluation: bounds memory without many small kernels. */
const EVAL_CHUNK = 1000;

export interface StepInfo {
  step: number;
  /** This step's loss, when it was read (see `readLossEvery`). */
  loss: number | null;
}

/**
 * One model being trained: its own data order, optimizer and measurements. `step()` does one SGD
 * step; `evaluate()` measures the test set. The CLI calls them in a loop (`runExperiment`); the
 * web page interleaves two trainers and yields to the browser in between.
 */
export class Trainer {
  readonly model: ProbedModel;
  readonly optimizer: SGD;
  readonly loader: DataLoader<unknown, [Tensor, Tensor]>;
  stepCount = 0;
  trainSeconds = 0;
  peakTensorBytes = 0;
  diverged = false;
  readonly curve: CurvePoint[] = [];
  private batches: AsyncIterator<[Tensor, Tensor]> | null = null;
  private readonly trainX: Tensor;
  private readonly trainY: Tensor;
  private lossSum = 0;
  private lossCount = 0;
  /** On a GPU every read waits for the queue to drain; reading the loss every few steps keeps it busy. */
  readonly readLossEvery: number;

  constructor(
    readonly config: RunConfig,
    readonly data: MnistData,
  ) {
    this.model = buildModel({
      model: config.model,
      norm: config.norm,
      seed: config.seed,
      initStd: config.initStd,
      batchSize: config.batchSize,
    });
    this.model.train();
    this.optimizer = new SGD(this.model.parameters(), { lr: config.lr });
    // The data set lives in two tensors; the loader serves shuffled batches of their rows. Its
    // seed is the run's seed, so every run of an experiment sees the same batches in the same order.
    const { train } = data;
    if (train.count < config.batchSize) {
      throw new Error(`the batch size ${config.batchSize} exceeds the ${train.count} training images`);
    }
    this.trainX = fromArray(train.images, [train.count, 784], "float32");
    this.trainY = fromArray(train.labels, [train.count], "int32");
    this.loader = new DataLoader<unknown, [Tensor, Tensor]>(new TensorDataset(this.trainX, this.trainY), {
      batchSize: config.batchSize,
      shuffle: true,
      seed: config.seed,
      // Every step gets a full batch: a short last batch would change the statistics BN sees.
      dropLast: true,
    });
    this.readLossEvery = config.backend === "webgpu" ? 10 : 1;
  }

  private async nextBatch(): Promise<[Tensor, Tensor]> {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.batches ??= this.loader[Symbol.asyncIterator]();
      const r = await this.batches.next();
      if (!r.done) return r.value;
      this.batches = null; // the epoch ended; the next iteration is the next epoch, newly shuffled
    }
    throw new Error("the data loader yielded no batch");
  }

  /** One SGD step on the next mini-batch. */
  async step(): Promise<StepInfo> {
    const [x, y] = await this.nextBatch();
    const t0 = now();
    const loss = tidy(() => {
      this.optimizer.zeroGrad();
      const l = crossEntropy(this.model.call(x), y);
      l.backward();
      // The forward and backward temporaries are alive here, so this is the step's peak.
      this.peakTensorBytes = Math.max(this.peakTensorBytes, memory().bytes);
      this.optimizer.step();
      return l;
    });
    x.dispose();
    y.dispose();
    this.stepCount++;
    let value: number | null = null;
    // Read at least once per evaluation interval, so every curve point has a loss.
    const due =
      this.stepCount % this.readLossEvery === 0 ||
      this.stepCount % this.config.evalEvery === 0 ||
      this.stepCount === this.config.steps;
    if (due) {
      value = (await loss.data())[0];
      this.lossSum += value;
      this.lossCount++;
      if (!Number.isFinite(value)) this.diverged = true;
    }
    loss.dispose();
    this.trainSeconds += now() - t0;
    return { step: this.stepCount, loss: value };
  }

  /** Test accuracy and the probed unit's sigmoid-input percentiles, in eval mode (BN uses running statistics). */
  async evaluate(): Promise<CurvePoint> {
    const { test } = this.data;
    this.model.eval();
    let hits = 0;
    const probe = new Float32Array(test.count);
    try {
      for (let start = 0; start < test.count; start += EVAL_CHUNK) {
        const n = Math.min(EVAL_CHUNK, test.count - start);
        const [pred, unit] = noGrad(() =>
          tidy(() => {
            const x = fromArray(test.images.subarray(start * 784, (start + n) * 784), [n, 784], "float32");
            const out = this.model.forwardWithProbe(x);
            return [out.logits.argmax(1), out.probe.narrow(1, this.config.probeUnit, 1)];
          }),
        );
        const [p, u] = await Promise.all([pred.data(), unit.data()]);
        pred.dispose();
        unit.dispose();
        for (let i = 0; i < n; i++) if (p[i] === test.labels[start + i]) hits++;
        probe.set(u, start);
      }
    } finally {
      this.model.train();
    }
    const [p15, p50, p85] = percentiles(probe, [15, 50, 85]);
    const point: CurvePoint = {
      step: this.stepCount,
      testAccuracy: hits / test.count,
      loss: this.lossCount ? this.lossSum / this.lossCount : Number.NaN,
      p15,
      p50,
      p85,
      trainSeconds: this.trainSeconds,
    };
    this.lossSum = 0;
    this.lossCount = 0;
    this.curve.push(point);
    return point;
  }

  /** Class probabilities [n, 10] for images [n, 784] in [0, 1] (the web page's drawing box). */
  async predict(images: Float32Array): Promise<Float32Array> {
    const n = images.length / 784;
    this.model.eval();
    try {
      const probs = noGrad(() =>
        tidy(() => this.model.call(fromArray(images, [n, 784], "float32")).softmax(1)),
      );
      const out = (await probs.data()) as Float32Array;
      probs.dispose();
      return out;
    } finally {
      this.model.train();
    }
  }

  result(): RunResult {
    const c = this.config;
    const last = this.curve.at(-1);
    return {
      name: c.name,
      label: c.label,
      model: c.model,
      norm: c.norm,
      backend: this.trainX.backend.name,
      steps: this.stepCount,
      batchSize: c.batchSize,
      lr: c.lr,
      seed: c.seed,
      trainSamplesPerSec: this.trainSeconds > 0 ? (this.stepCount * c.batchSize) / this.trainSeconds : 0,
      trainSeconds: this.trainSeconds,
      testAccuracy: last?.testAccuracy ?? Number.NaN,
      testImages: this.data.test.count,
      diverged: this.diverged,
      peakTensorBytes: this.peakTensorBytes,
      curve: this.curve,
    };
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.zeroGrad();
    this.trainX.dispose();
    this.trainY.dispose();
  }
}

export interface RunHooks {
  onStep?(info: StepInfo, trainer: Trainer): void;
  onEval?(point: CurvePoint, trainer: Trainer): void;
  /** Return true to end the run after this evaluation (e.g. a target accuracy was reached). */
  stopAfterEval?(point: CurvePoint, trainer: Trainer): boolean;
  /** Training seconds after which the run ends (evaluating once more). */
  timeBudgetSeconds?: number;
  /** Called between steps; the browser passes a function that yields to the event loop. */
  yieldEvery?(): Promise<void> | void;
}

/** Trains one configuration for `config.steps` steps, evaluating at step 0, every `evalEvery` steps and at the end. */
export async function runExperiment(
  config: RunConfig,
  data: MnistData,
  hooks: RunHooks = {},
): Promise<RunResult> {
  const trainer = new Trainer(config, data);
  try {
    const evaluate = async (): Promise<boolean> => {
      const p = await trainer.evaluate();
      hooks.onEval?.(p, trainer);
      return hooks.stopAfterEval?.(p, trainer) ?? false;
    };
    if (await evaluate()) return trainer.result();
    while (trainer.stepCount < config.steps) {
      const info = await trainer.step();
      hooks.onStep?.(info, trainer);
      const diverged = trainer.diverged && config.stopOnDivergence;
      const outOfTime =
        hooks.timeBudgetSeconds !== undefined && trainer.trainSeconds >= hooks.timeBudgetSeconds;
      if (diverged || outOfTime) {
        await evaluate();
        break;
      }
      if (trainer.stepCount % config.evalEvery === 0 || trainer.stepCount === config.steps) {
        if (await evaluate()) break;
      }
      await hooks.yieldEvery?.();
    }
    return trainer.result();
  } finally {
    trainer.dispose();
  }
}

export type { MnistSplit };
