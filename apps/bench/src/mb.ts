// The minibatch implementations of the workloads, written with tensor ops only so that the
// bench does not depend on packages still in development (nn, norm, optim). The optional
// DataLoader (W4) and WebGPU backend are loaded dynamically and reported as not available when
// they cannot be.
import type { Tensor } from "@minibatch/tensor";
import * as mb from "@minibatch/tensor";
import {
  bnReference,
  type CaseResult,
  gatherBatch,
  initialParams,
  LAYERS,
  loadMnist,
  MATMUL_RUNS,
  type Mnist,
  maxRelErr,
  measure,
  permutation,
  randomArray,
  W3_CASES,
  w3CaseName,
} from "./common";
import { type Segment, segmentEnds, segmentRates } from "./headline";

export const EPS = 1e-5;

/**
 * One W3 training step from JavaScript arrays, the same for every minibatch row (raw ops or
 * modules, eager or compiled): tidy disposes the inputs and intermediates, then the loss goes too.
 */
export function stepFromArrays(
  run: (x: Tensor, y: Tensor) => Tensor,
  x: Float32Array,
  y: Int32Array,
  batch: number,
): void {
  mb.tidy(() => run(mb.fromArray(x, [batch, 784], "float32"), mb.fromArray(y, [batch], "int32"))).dispose();
}
export const LR = 0.5;
const MOMENTUM = 0.1;

export async function setup(impl: string): Promise<string> {
  await import("@minibatch/backend-cpu");
  if (impl === "minibatch-webgpu") {
    await import("@minibatch/backend-webgpu");
    await mb.setBackend("webgpu");
    return "webgpu";
  }
  await mb.setBackend("cpu");
  return "cpu";
}

async function read(t: Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

export async function w1(impl: string, sizes: number[]): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const n of sizes) {
    const a = mb.fromArray(randomArray(n * n, 1), [n, n], "float32");
    const b = mb.fromArray(randomArray(n * n, 2), [n, n], "float32");
    const slow = impl === "minibatch-ts" && n >= 512;
    const times = await measure(
      async () => {
        const c = mb.matmul(a, b);
        await read(c);
        c.dispose();
      },
      // The plain-JavaScript kernels take seconds per product at N >= 512: fewer runs there.
      slow ? { warmup: 0, reps: n >= 1024 ? 1 : 2, minReps: 1, budgetMs: 0 } : MATMUL_RUNS,
    );
    out.push({
      workload: "W1",
      case: `matmul N=${n}`,
      impl,
      metric: "GFLOP/s",
      values: times.map((t) => (2 * n ** 3) / t / 1e6),
    });
    a.dispose();
    b.dispose();
  }
  return out;
}

export const W2_CASES: { name: string; shape: number[]; outer: number; c: number; inner: number }[] = [
  { name: "BN [256,1024] features last", shape: [256, 1024], outer: 256, c: 1024, inner: 1 },
  { name: "BN NCHW [32,64,32,32]", shape: [32, 64, 32, 32], outer: 32, c: 64, inner: 1024 },
];

export async function w2(impl: string): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const cs of W2_CASES) {
    const size = cs.outer * cs.c * cs.inner;
    const xv = randomArray(size, 11, -2, 3);
    const gv = randomArray(cs.c, 12, 0.5, 1.5);
    const bv = randomArray(cs.c, 13, -0.5, 0.5);
    const dyv = randomArray(size, 14);
    const x = mb.fromArray(xv, cs.shape, "float32").requiresGrad_();
    const gamma = mb.fromArray(gv, [cs.c], "float32").requiresGrad_();
    const beta = mb.fromArray(bv, [cs.c], "float32").requiresGrad_();
    const dy = mb.fromArray(dyv, cs.shape, "float32");
    // As in tf.ts: dgamma and dbeta are read each step, y and dx once more after the timing.
    const step = async (check: boolean): Promise<Float32Array[]> => {
      const y = mb.tidy(() => {
        const r = mb.batchNormTrain(x, gamma, beta, { eps: EPS, channelAxis: cs.inner === 1 ? -1 : 1 });
        r.y.backward(dy);
        return r.y;
      });
      const small = [await read(gamma.grad!), await read(beta.grad!)];
      const all = check ? [await read(y), await read(x.grad!), ...small] : small;
      for (const p of [x, gamma, beta]) {
        p.grad?.dispose();
        p.grad = null;
      }
      y.dispose();
      return all;
    };
    const times = await measure(() => step(false), { warmup: 3, reps: 20, budgetMs: 2500 });
    const last = await step(true);
    const ref = bnReference(xv, gv, bv, dyv, cs.outer, cs.c, cs.inner, EPS);
    const err = Math.max(
      maxRelErr(last[0], ref.y),
      maxRelErr(last[1], ref.dx),
      maxRelErr(last[2], ref.dgamma),
      maxRelErr(last[3], ref.dbeta),
    );
    out.push({
      workload: "W2",
      case: cs.name,
      impl,
      metric: "GB/s",
      values: times.map((t) => (5 * size * 4) / t / 1e6),
      extra: { ms: times.reduce((a, b) => Math.min(a, b)), maxRelErr: err },
    });
    for (const t of [x, gamma, beta, dy]) t.dispose();
  }
  return out;
}

/** The paper's MNIST net on minibatch tensors: matmul, fused batch norm, sigmoid, SGD by assign. */
export class MbNet {
  readonly W: Tensor[];
  readonly b: Tensor[];
  readonly gamma: Tensor[] = [];
  readonly beta: Tensor[] = [];
  readonly runMean: Tensor[] = [];
  readonly runVar: Tensor[] = [];

  /** The training step, tensors in and the loss out: `trainStep`, or `compile(trainStep)`. */
  private readonly run: (x: Tensor, y: Tensor) => Tensor;

  /** `wrap`: compile() for the compiled rows; the step then replays after its first call. */
  constructor(
    readonly bn: boolean,
    seed: number,
    wrap?: (fn: (x: Tensor, y: Tensor) => Tensor) => (x: Tensor, y: Tensor) => Tensor,
  ) {
    const trainStep = (x: Tensor, y: Tensor) => this.trainStep(x, y);
    this.run = wrap ? wrap(trainStep) : trainStep;
    const p = initialParams(seed);
    const param = (v: Float32Array, shape: number[]) =>
      mb.keep(mb.fromArray(v, shape, "float32").requiresGrad_());
    this.W = p.W.map((w, l) => param(w, [LAYERS[l], LAYERS[l + 1]]));
    this.b = p.b.map((b, l) => param(b, [LAYERS[l + 1]]));
    if (bn) {
      for (let l = 0; l < 3; l++) {
        const c = LAYERS[l + 1];
        this.gamma.push(param(new Float32Array(c).fill(1), [c]));
        this.beta.push(param(new Float32Array(c), [c]));
        this.runMean.push(mb.keep(mb.fromArray(new Float32Array(c), [c], "float32")));
        this.runVar.push(mb.keep(mb.fromArray(new Float32Array(c).fill(1), [c], "float32")));
      }
    }
  }

  /** Trainable parameters; with BN the hidden layers' bias is beta (a bias before BN cancels). */
  params(): Tensor[] {
    return this.bn ? [...this.W, this.b[3], ...this.gamma, ...this.beta] : [...this.W, ...this.b];
  }

  forward(x: Tensor, train: boolean): Tensor {
    let h = x;
    for (let l = 0; l < 4; l++) {
      h = mb.matmul(h, this.W[l]);
      if (this.bn && l < 3) {
        if (train) {
          const r = mb.batchNormTrain(h, this.gamma[l], this.beta[l], { eps: EPS, channelAxis: -1 });
          mb.noGrad(() => {
            this.runMean[l].assign(this.runMean[l].mul(1 - MOMENTUM).add(r.mean.mul(MOMENTUM)));
            this.runVar[l].assign(this.runVar[l].mul(1 - MOMENTUM).add(r.varUnbiased.mul(MOMENTUM)));
          });
          h = r.y;
        } else {
          const scale = this.gamma[l].div(this.runVar[l].add(EPS).sqrt());
          h = h.sub(this.runMean[l]).mul(scale).add(this.beta[l]);
        }
      } else {
        h = h.add(this.b[l]);
      }
      if (l < 3) h = h.sigmoid();
    }
    return h;
  }

  /** Forward, backward and the SGD update on one batch (x [B, 784] float32, y [B] int32); returns the loss. */
  trainStep(xt: Tensor, yt: Tensor): Tensor {
    const batch = xt.shape[0];
    const onehot = mb.oneHot(yt, 10);
    const logits = this.forward(xt, true);
    const loss = logits.logSoftmax(1).mul(onehot).sum().neg().div(batch);
    loss.backward();
    mb.noGrad(() => {
      for (const p of this.params()) {
        p.assign(p.sub(p.grad!.mul(LR)));
        p.grad!.dispose();
        p.grad = null;
      }
    });
    return loss;
  }

  /**
   * One training step from JavaScript arrays. The same code for the eager and compiled rows: the
   * inputs and intermediates are disposed by tidy, the returned loss by the caller, every step.
   */
  step(x: Float32Array, y: Int32Array, batch: number): void {
    stepFromArrays(this.run, x, y, batch);
  }

  async accuracy(data: Mnist): Promise<number> {
    const n = data.testY.length;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const { x } = gatherBatch(data.testX, data.testY, idx, 0, n);
    const pred = mb.noGrad(() =>
      mb.tidy(() => this.forward(mb.fromArray(x, [n, 784], "float32"), false).argmax(1)),
    );
    const p = await pred.data();
    pred.dispose();
    let ok = 0;
    for (let i = 0; i < n; i++) if (p[i] === data.testY[i]) ok++;
    return (100 * ok) / n;
  }

  dispose(): void {
    for (const t of [...this.W, ...this.b, ...this.gamma, ...this.beta, ...this.runMean, ...this.runVar])
      t.dispose();
  }
}

/** Keeps async backends honest: a step is finished when its results can be read. */
async function settle(net: MbNet): Promise<void> {
  await net.W[0].data();
}

/** What w3Generic needs of a net (minibatch raw ops, modules, compiled, TF.js). */
export interface W3Net {
  step(x: Float32Array, y: Int32Array, b: number): void;
  accuracy(d: Mnist): Promise<number>;
  settle(): Promise<void>;
  dispose(): void;
  /** Live tensors of the library, for the leak check after the epoch (optional). */
  liveTensors?(): number;
}

/**
 * One epoch of one case from the shared initial weights and batch order, in a fresh process (main
 * runs each case in its own child), with no untimed warm-up: the clock starts before the first
 * step, so the epoch's time includes JIT compilation and everything else a first epoch costs.
 * The epoch is recorded as about 10 contiguous segments; main.ts computes the headline (whole
 * epoch, warm-up included) and the steady-state median from them. `budgetMs` stops slow
 * implementations early: the row is then marked partial and has no accuracy.
 */
export async function w3Generic(
  impl: string,
  data: Mnist,
  make: (bn: boolean) => W3Net,
  budgetMs: number,
  caseKey?: string,
): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  const order = permutation(60000, 42);
  const gpu = impl.includes("webgpu");
  for (const cs of W3_CASES) {
    if (caseKey && cs.key !== caseKey) continue;
    const steps = Math.floor(60000 / cs.batch);
    const net = make(cs.bn);
    const bx = new Float32Array(cs.batch * 784);
    const by = new Int32Array(cs.batch);
    // A GPU backend only queues work in step(): waiting at segment ends alone would let a software
    // GPU queue far more steps than the budget allows. GPU rows wait for every step instead (no
    // overlap of steps, the same for minibatch and TF.js) and use short segments.
    const ends = gpu ? segmentEnds(steps, Math.ceil(steps / 5)) : segmentEnds(steps, 10);
    const segments: Segment[] = [];
    let afterFirst = -1;
    const start = performance.now();
    let last = start;
    let done = 0;
    for (const end of ends) {
      if (performance.now() - start >= budgetMs) break;
      const first = done;
      // Checked every step too: on a software GPU one segment alone can take minutes.
      for (; done < end && (done === first || performance.now() - start < budgetMs); done++) {
        gatherBatch(data.trainX, data.trainY, order, done * cs.batch, cs.batch, bx, by);
        net.step(bx, by, cs.batch);
        if (gpu) await net.settle();
        if (done === 0) afterFirst = net.liveTensors?.() ?? -1;
      }
      await net.settle();
      const now = performance.now();
      segments.push({ samples: (done - first) * cs.batch, ms: now - last });
      last = now;
    }
    const complete = done === steps;
    const extra: Record<string, number | string> = { steps: done, of: steps };
    // Tensors made in every step and never disposed would grow by about one per step or more.
    const live = net.liveTensors?.() ?? -1;
    if (afterFirst >= 0 && live - afterFirst >= Math.max(2, done / 2))
      throw new Error(
        `${impl} leaks tensors: ${afterFirst} live after the first step, ${live} after ${done} steps`,
      );
    if (complete) extra.accuracy = await net.accuracy(data);
    else
      extra.note = `partial: ${done}/${steps} steps in the ${(budgetMs / 1000).toFixed(0)} s budget${gpu ? ", synced every step" : ""}`;
    out.push({
      workload: "W3",
      case: w3CaseName(cs),
      impl,
      metric: "samples/s",
      values: segmentRates(segments),
      segments,
      extra,
    });
    net.dispose();
  }
  return out;
}

/** compile() from @minibatch/tensor when this build has it; the reason why not otherwise. */
export function findCompile(
  lib: Record<string, unknown>,
): { compile: <F extends (...a: Tensor[]) => Tensor>(fn: F) => F } | { skip: string } {
  return typeof lib.compile === "function"
    ? { compile: lib.compile as <F extends (...a: Tensor[]) => Tensor>(fn: F) => F }
    : { skip: "compile() not available in this build" };
}

/** Thrown for a row that cannot run in this build: reported as skipped, with the reason. */
export class Skip extends Error {
  override name = "Skip";
}

export async function w3(impl: string, budgetMs: number, caseKey?: string): Promise<CaseResult[]> {
  const compiled = impl.endsWith("-compiled");
  let wrap: (<F extends (...a: Tensor[]) => Tensor>(fn: F) => F) | undefined;
  if (compiled) {
    const c = findCompile(mb as unknown as Record<string, unknown>);
    if ("skip" in c) throw new Skip(c.skip);
    wrap = c.compile;
  }
  const data = loadMnist();
  const { ModuleNet } = await import("./mb-modules");
  const live = () => mb.memory().tensors;
  return w3Generic(
    impl,
    data,
    (bn) => {
      if (impl.startsWith("minibatch-modules")) {
        const net = new ModuleNet(bn, 7, wrap);
        return {
          step: (x, y, b) => net.step(x, y, b),
          accuracy: (d) => net.accuracy(d),
          settle: () => net.settle(),
          dispose: () => net.dispose(),
          liveTensors: live,
        };
      }
      const net = new MbNet(bn, 7, wrap);
      return {
        step: (x, y, b) => net.step(x, y, b),
        accuracy: (d) => net.accuracy(d),
        settle: () => settle(net),
        dispose: () => net.dispose(),
        liveTensors: live,
      };
    },
    budgetMs,
    caseKey,
  );
}

/**
 * W4 with minibatch's DataLoader: openMnist over the IDX training files (preloaded), seeded
 * shuffle, float32 [B, 784] images in 0..1 and int32 labels, one epoch per run. Opening (reading)
 * the files is part of each run, as in the plain-loop and tf.data rows.
 */
export async function w4(impl: string, sizes: number[]): Promise<CaseResult[]> {
  const { DataLoader, timeEpoch } = await import("@minibatch/data");
  const { openMnist } = await import("@minibatch/data/node");
  const { mnistDir } = await import("./common");
  const out: CaseResult[] = [];
  for (const b of sizes) {
    let epoch = 0;
    let seen = 0;
    const times = await measure(
      async () => {
        const train = await openMnist(mnistDir(), { split: "train", flatten: true, preload: true });
        const loader = new DataLoader(train, { batchSize: b, shuffle: true, seed: 42 });
        loader.setEpoch(epoch++);
        seen = (await timeEpoch(loader)).samples;
      },
      { warmup: 1, reps: 7, minReps: 3, budgetMs: 4000 },
    );
    if (seen !== 60000) throw new Error(`W4: the DataLoader yielded ${seen} samples, not 60000`);
    out.push({
      workload: "W4",
      case: `pipeline B=${b}`,
      impl,
      metric: "samples/s",
      values: times.map((t) => 60000 / (t / 1000)),
    });
  }
  return out;
}
