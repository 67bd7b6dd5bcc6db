import { DataLoader, Dataset, NDArray } from "@minibatch/data";
import { crossEntropy } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import {
  compile,
  fromArray,
  getBackend,
  memory,
  noGrad,
  resetPeakMemory,
  type Tensor,
  tidy,
} from "@minibatch/tensor";
import type { CurvePoint, RunConfig, RunResult } from "./config";
import type { MnistData, MnistSplit } from "./mnist";
import { buildModel, type ProbedModel } from "./model";
import { mean, percentiles, variance } from "./stats";

interface PassResult {
  hits: number;
  probe: Float32Array;
  pre: Float32Array;
}

const now = () => performance.now() / 1000;

/** Test images per forward pass in evaluation: bounds memory without many small kernels. */
const EVAL_CHUNK = 1000;

/**
 * The training split's rows, served as views of its host arrays: the loader copies each batch into
 * one tensor. (A TensorDataset would first copy the whole split into a tensor and then read it back
 * to the host, two passes over 188 MB of fresh memory, about a second before the first step.)
 */
class MnistRows extends Dataset<NDArray[]> {
  constructor(private readonly split: MnistSplit) {
    super();
  }
  get length(): number {
    return this.split.count;
  }
  get(i: number): NDArray[] {
    if (!Number.isInteger(i) || i < 0 || i >= this.split.count) {
      throw new RangeError(`MnistRows: index ${i} is out of range for ${this.split.count} images`);
    }
    return [
      new NDArray(this.split.images.subarray(i * 784, (i + 1) * 784), [784], "float32"),
      new NDArray(this.split.labels.subarray(i, i + 1), [], "int32"),
    ];
  }
}

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
  /** Most tensors alive at once during a step (the model's and the data set's included). */
  peakTensors = 0;
  diverged = false;
  readonly curve: CurvePoint[] = [];
  /** Every loss read, in step order (all of them on the CPU backend, which reads every step). */
  readonly stepLosses: number[] = [];
  private batches: AsyncIterator<[Tensor, Tensor]> | null = null;
  private lossSum = 0;
  private lossCount = 0;
  /** On a GPU every read waits for the queue to drain; reading the loss every few steps keeps it busy. */
  readonly readLossEvery: number;
  /**
   * Forward, backward and SGD update on one batch. Compiled (the default), it is traced on its
   * second and third calls and replayed from then on; the evaluation's switch to eval mode and
   * back makes it trace again. Either way it disposes what it makes and returns the loss.
   */
  private readonly trainStep: (x: Tensor, y: Tensor) => Tensor;

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
    this.loader = new DataLoader<unknown, [Tensor, Tensor]>(new MnistRows(train), {
      batchSize: config.batchSize,
      shuffle: true,
      seed: config.seed,
      // Every step gets a full batch: a short last batch would change the statistics BN sees.
      dropLast: true,
    });
    this.readLossEvery = config.backend === "webgpu" ? 10 : 1;
    const step = (x: Tensor, y: Tensor) => {
      this.optimizer.zeroGrad();
      const l = crossEntropy(this.model.call(x), y);
      l.backward();
      // The forward and backward temporaries are alive here (in the calls that run op by op).
      this.peakTensors = Math.max(this.peakTensors, memory().tensors);
      this.optimizer.step();
      return l;
    };
    this.trainStep = config.compiled === false ? (x, y) => tidy(() => step(x, y)) : compile(step);
  }

  /** The next mini-batch of the run's data order (a new epoch starts when one ends). */
  async nextBatch(): Promise<[Tensor, Tensor]> {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.batches ??= this.loader[Symbol.asyncIterator]();
      const r = await this.batches.next();
      if (!r.done) return r.value;
      this.batches = null; // the epoch ended; the next iteration is the next epoch, newly shuffled
    }
    throw new Error("the data loader yielded no batch");
  }

  /** One SGD step on the next mini-batch (or on `batch`, which the step disposes). */
  async step(batch?: [Tensor, Tensor]): Promise<StepInfo> {
    const [x, y] = batch ?? (await this.nextBatch());
    const t0 = now();
    resetPeakMemory();
    const loss = this.trainStep(x, y);
    this.peakTensorBytes = Math.max(this.peakTensorBytes, memory().peakBytes);
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
      this.stepLosses.push(value);
      this.lossSum += value;
      this.lossCount++;
      if (!Number.isFinite(value)) this.diverged = true;
    }
    loss.dispose();
    this.trainSeconds += now() - t0;
    return { step: this.stepCount, loss: value };
  }

  /**
   * Measures the test set twice. In eval mode (running statistics, as a deployed model) it gives
   * the test accuracy. In training mode (batch statistics, as the network sees its data while it
   * trains) it gives the accuracy with batch statistics and the probed unit's sigmoid input, which
   * is what the paper's Figure 1(b, c) follows. The training-mode pass must not move BN's running
   * statistics, so the buffers are saved before it and restored after.
   */
  async evaluate(): Promise<CurvePoint> {
    const { test } = this.data;
    const evalPass = await this.pass(false, EVAL_CHUNK);
    const chunk = this.config.trainModeChunk ?? EVAL_CHUNK;
    const saved = noGrad(() => this.model.buffers().map((b) => b.clone()));
    let trainPass: PassResult;
    try {
      trainPass = await this.pass(true, chunk);
    } finally {
      const buffers = this.model.buffers();
      noGrad(() => {
        for (let i = 0; i < buffers.length; i++) buffers[i].assign(saved[i]);
      });
      for (const t of saved) t.dispose();
    }
    const [p15, p50, p85] = percentiles(trainPass.probe, [15, 50, 85]);
    const norm = this.model.probeNorm as { weight?: Tensor | null; bias?: Tensor | null } | null;
    const unit = this.config.probeUnit;
    const readAt = async (t: Tensor | null | undefined) => (t ? (await t.data())[unit] : null);
    const point: CurvePoint = {
      step: this.stepCount,
      testAccuracy: evalPass.hits / test.count,
      trainModeAccuracy: trainPass.hits / test.count,
      loss: this.lossCount ? this.lossSum / this.lossCount : Number.NaN,
      p15,
      p50,
      p85,
      gamma: await readAt(norm?.weight),
      beta: await readAt(norm?.bias),
      preMean: mean(trainPass.pre),
      preStd: Math.sqrt(variance(trainPass.pre)),
      trainSeconds: this.trainSeconds,
    };
    this.lossSum = 0;
    this.lossCount = 0;
    this.curve.push(point);
    return point;
  }

  /** One pass over the test set in chunks: correct predictions and the probed unit's values. */
  private async pass(training: boolean, chunk: number): Promise<PassResult> {
    const { test } = this.data;
    const unit = this.config.probeUnit;
    this.model.train(training);
    let hits = 0;
    const probe = new Float32Array(test.count);
    const pre = new Float32Array(test.count);
    try {
      for (let start = 0; start < test.count; start += chunk) {
        // A last chunk of one sample cannot be normalized over the batch: fold it into the previous.
        let n = Math.min(chunk, test.count - start);
        if (training && test.count - start - n === 1) n++;
        const [pred, u, z] = noGrad(() =>
          tidy(() => {
            const x = fromArray(test.images.subarray(start * 784, (start + n) * 784), [n, 784], "float32");
            const out = this.model.forwardWithProbe(x);
            return [
              out.logits.argmax(1),
              out.probe.narrow(1, unit, 1),
              out.preNorm.narrow(1, unit, 1),
            ] as const;
          }),
        );
        const [p, uv, zv] = await Promise.all([pred.data(), u.data(), z.data()]);
        pred.dispose();
        u.dispose();
        z.dispose();
        for (let i = 0; i < n; i++) if (p[i] === test.labels[start + i]) hits++;
        probe.set(uv, start);
        pre.set(zv, start);
        if (n > chunk) start++;
      }
    } finally {
      this.model.train();
    }
    return { hits, probe, pre };
  }

  /**
   * What the last hidden normalization computes on batch `x` in training mode, for the page's
   * step-through: its input (pre-BN values), gamma, beta and running statistics. The buffers are
   * restored afterwards, so the running statistics move only in the real training step.
   */
  async inspect(x: Tensor): Promise<{
    pre: Float32Array;
    units: number;
    gamma: Float32Array | null;
    beta: Float32Array | null;
    runningMean: Float32Array | null;
    runningVar: Float32Array | null;
    momentum: number | null;
    eps: number;
  }> {
    const norm = this.model.probeNorm as {
      weight?: Tensor | null;
      bias?: Tensor | null;
      runningMean?: Tensor | null;
      runningVar?: Tensor | null;
      momentum?: number | null;
      eps?: number;
    } | null;
    const read = async (t: Tensor | null | undefined) => (t ? Float32Array.from(await t.data()) : null);
    const before = {
      gamma: await read(norm?.weight),
      beta: await read(norm?.bias),
      runningMean: await read(norm?.runningMean),
      runningVar: await read(norm?.runningVar),
    };
    const saved = noGrad(() => this.model.buffers().map((b) => b.clone()));
    let pre: Tensor;
    try {
      pre = noGrad(() => tidy(() => this.model.forwardWithProbe(x).preNorm));
    } finally {
      const buffers = this.model.buffers();
      noGrad(() => {
        for (let i = 0; i < buffers.length; i++) buffers[i].assign(saved[i]);
      });
      for (const t of saved) t.dispose();
    }
    const values = Float32Array.from(await pre.data());
    const units = pre.shape[1];
    pre.dispose();
    return { pre: values, units, ...before, momentum: norm?.momentum ?? null, eps: norm?.eps ?? 1e-5 };
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
      backend: getBackend().name,
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
      peakTensors: this.peakTensors,
      trainModeAccuracy: last?.trainModeAccuracy ?? Number.NaN,
      curve: this.curve,
    };
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.zeroGrad();
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
