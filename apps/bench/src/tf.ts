// The TensorFlow.js side: the same workloads written the way a TF.js user would, on its cpu,
// wasm (one thread, as in the targets) and webgpu backends. Loaded through require: TF.js's
// CommonJS builds find their .wasm files next to themselves in Node.js.
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
  median,
  randomArray,
  require,
} from "./common";
import { EPS, LR, W2_CASES, w3Generic } from "./mb";

let tf: any;

export async function setup(impl: string): Promise<any> {
  const backend = impl.replace("tfjs-", "");
  // TF.js greets Node.js users on the console; keep the bench output clean.
  const warn = console.warn;
  console.warn = () => {};
  tf = require("@tensorflow/tfjs-core");
  // The umbrella @tensorflow/tfjs package registers the gradients; with tfjs-core alone, do it here.
  require("./tf-grads.cjs");
  if (backend === "cpu") require("@tensorflow/tfjs-backend-cpu");
  if (backend === "wasm") {
    const wasm = require("@tensorflow/tfjs-backend-wasm");
    wasm.setThreadsCount(1);
  }
  if (backend === "webgpu") {
    const gpu = require("webgpu");
    Object.assign(globalThis, gpu.globals);
    if (!(globalThis as any).navigator) (globalThis as any).navigator = {};
    (globalThis as any).navigator.gpu = gpu.create([]);
    require("@tensorflow/tfjs-backend-webgpu");
  }
  const ok = await tf.setBackend(backend);
  await tf.ready();
  console.warn = warn;
  if (!ok || tf.getBackend() !== backend) throw new Error(`TF.js backend '${backend}' failed to initialize`);
  return tf;
}

export async function w1(impl: string, sizes: number[]): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const n of sizes) {
    const a = tf.tensor2d(randomArray(n * n, 1), [n, n]);
    const b = tf.tensor2d(randomArray(n * n, 2), [n, n]);
    const slow = impl === "tfjs-cpu" && n >= 512;
    const times = await measure(
      async () => {
        const c = tf.matMul(a, b);
        await c.data();
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

/**
 * Batch norm forward and backward through TF.js autodiff, in each formulation a TF.js user could
 * write, so that the comparison is with TF.js at its best:
 * - `composed`: tf.moments, then (x - mean) * rsqrt(variance + eps) * gamma + beta in elementwise
 *   ops. Correct for both layouts, and the faster one on the cpu and wasm backends: the gradient
 *   of tf.batchNorm is itself composed of many more ops.
 * - `tf.batchNorm`: tf.moments + the fused tf.batchNorm. Measured for features last (its [C]
 *   statistics are correct everywhere); for NCHW, tf.batchNorm with [1, C, 1, 1] statistics gives
 *   wrong results on the cpu and wasm backends, so only its error is reported (`batchNormNchwErr`).
 * The row named after the backend (`tfjs-wasm`) is the faster of the correct formulations
 * (extra.formula says which), and is the one ratios use; each other one measured gets a row of its
 * own (`tfjs-wasm tf.batchNorm`) for reference.
 */
export async function w2(impl: string): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const cs of W2_CASES) {
    const size = cs.outer * cs.c * cs.inner;
    const xv = randomArray(size, 11, -2, 3);
    const gv = randomArray(cs.c, 12, 0.5, 1.5);
    const bv = randomArray(cs.c, 13, -0.5, 0.5);
    const dyv = randomArray(size, 14);
    const x = tf.tensor(xv, cs.shape);
    const dy = tf.tensor(dyv, cs.shape);
    const nchw = cs.inner !== 1;
    const statShape = nchw ? [1, cs.c, 1, 1] : [cs.c];
    const gamma = tf.tensor(gv, statShape);
    const beta = tf.tensor(bv, statShape);
    const axes = nchw ? [0, 2, 3] : [0];
    const composed = (xx: any, g: any, b: any) => {
      const { mean, variance } = tf.moments(xx, axes, true);
      return tf.add(tf.mul(tf.mul(tf.sub(xx, mean), tf.rsqrt(tf.add(variance, EPS))), g), b);
    };
    const fused = (xx: any, g: any, b: any) => {
      const { mean, variance } = tf.moments(xx, axes, nchw);
      return tf.batchNorm(xx, mean, variance, b, g, EPS);
    };
    const formulas: [string, (xx: any, g: any, b: any) => any][] = nchw
      ? [["composed", composed]]
      : [
          ["composed", composed],
          ["tf.batchNorm", fused],
        ];
    const ref = bnReference(xv, gv, bv, dyv, cs.outer, cs.c, cs.inner, EPS);
    const rows: CaseResult[] = [];
    for (const [formula, f] of formulas) {
      // One forward for both y and the gradients (tf.grads would run the forward a second time).
      const vg = tf.valueAndGrads(f);
      // A training step keeps y and dx as tensors; reading 2 x 16 MB back into JavaScript (page
      // faults of fresh arrays, the same cost for every library) is not part of it. The small
      // dgamma and dbeta are read each step (a sync point for any backend); one more step reads
      // everything, after the timing, for the error check.
      const step = async (check: boolean): Promise<Float32Array[]> => {
        const { value: y, grads } = vg([x, gamma, beta], dy);
        const [dx, dg, db] = grads;
        const small = [await dg.data(), await db.data()];
        const all = check ? [await y.data(), await dx.data(), ...small] : small;
        tf.dispose([y, dx, dg, db]);
        return all as Float32Array[];
      };
      const times = await measure(() => step(false), {
        warmup: 3,
        reps: 20,
        budgetMs: impl === "tfjs-cpu" ? 4000 : 2500,
      });
      const last = await step(true);
      const err = Math.max(
        maxRelErr(last[0], ref.y),
        maxRelErr(last[1], ref.dx),
        maxRelErr(last[2], ref.dgamma),
        maxRelErr(last[3], ref.dbeta),
      );
      rows.push({
        workload: "W2",
        case: cs.name,
        impl: `${impl} ${formula}`,
        metric: "GB/s",
        values: times.map((t) => (5 * size * 4) / t / 1e6),
        extra: { ms: Math.min(...times), maxRelErr: err, formula },
      });
    }
    // The faster of the correct formulations takes the backend's name; an incorrect one never does.
    const correct = rows.filter((r) => (r.extra?.maxRelErr as number) < 1e-3);
    const best = (correct.length ? correct : rows).reduce((a, b) =>
      median(b.values) > median(a.values) ? b : a,
    );
    best.impl = impl;
    if (rows.length > 1) best.extra!.note = `formula: ${best.extra!.formula} (the faster correct one)`;
    else best.extra!.note = `formula: ${best.extra!.formula}`;
    if (nchw) {
      const y = fused(x, gamma, beta);
      best.extra!.batchNormNchwErr = maxRelErr(await y.data(), ref.y);
      y.dispose();
    }
    out.push(best, ...rows.filter((r) => r !== best));
    tf.dispose([x, dy, gamma, beta]);
  }
  return out;
}

/** The MNIST net in TF.js: variables, tf.moments + tf.batchNorm, softmax cross-entropy, tf.train.sgd. */
export class TfNet {
  readonly vars: Record<string, any> = {};
  readonly running: { mean: any; variance: any }[] = [];
  readonly opt: any;

  constructor(
    readonly bn: boolean,
    seed: number,
  ) {
    const p = initialParams(seed);
    for (let l = 0; l < 4; l++) {
      this.vars[`W${l}`] = tf.variable(
        tf.tensor2d(p.W[l], [LAYERS[l], LAYERS[l + 1]]),
        true,
        `W${l}_${seed}_${Math.random()}`,
      );
      if (!bn || l === 3)
        this.vars[`b${l}`] = tf.variable(tf.tensor1d(p.b[l]), true, `b${l}_${Math.random()}`);
      if (bn && l < 3) {
        const c = LAYERS[l + 1];
        this.vars[`g${l}`] = tf.variable(tf.ones([c]), true, `g${l}_${Math.random()}`);
        this.vars[`be${l}`] = tf.variable(tf.zeros([c]), true, `be${l}_${Math.random()}`);
        this.running.push({
          mean: tf.variable(tf.zeros([c]), false),
          variance: tf.variable(tf.ones([c]), false),
        });
      }
    }
    this.opt = tf.train.sgd(LR);
  }

  forward(x: any, train: boolean, n: number): any {
    let h = x;
    for (let l = 0; l < 4; l++) {
      h = tf.matMul(h, this.vars[`W${l}`]);
      if (this.bn && l < 3) {
        const g = this.vars[`g${l}`];
        const b = this.vars[`be${l}`];
        const r = this.running[l];
        if (train) {
          const { mean, variance } = tf.moments(h, [0]);
          r.mean.assign(tf.add(tf.mul(r.mean, 0.9), tf.mul(mean, 0.1)));
          r.variance.assign(tf.add(tf.mul(r.variance, 0.9), tf.mul(variance, 0.1 * (n / (n - 1)))));
          h = tf.batchNorm(h, mean, variance, b, g, EPS);
        } else {
          h = tf.batchNorm(h, r.mean, r.variance, b, g, EPS);
        }
      } else {
        h = tf.add(h, this.vars[`b${l}`]);
      }
      if (l < 3) h = tf.sigmoid(h);
    }
    return h;
  }

  step(x: Float32Array, y: Int32Array, batch: number): void {
    tf.tidy(() => {
      const xt = tf.tensor2d(x, [batch, 784]);
      const onehot = tf.oneHot(tf.tensor1d(y, "int32"), 10);
      this.opt.minimize(
        () => tf.losses.softmaxCrossEntropy(onehot, this.forward(xt, true, batch)),
        false,
        Object.values(this.vars),
      );
    });
  }

  async accuracy(data: Mnist): Promise<number> {
    const n = data.testY.length;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const { x } = gatherBatch(data.testX, data.testY, idx, 0, n);
    const pred = tf.tidy(() => tf.argMax(this.forward(tf.tensor2d(x, [n, 784]), false, n), 1));
    const p = await pred.data();
    pred.dispose();
    let ok = 0;
    for (let i = 0; i < n; i++) if (p[i] === data.testY[i]) ok++;
    return (100 * ok) / n;
  }

  async settle(): Promise<void> {
    await this.vars.W0.data();
  }

  dispose(): void {
    tf.dispose(Object.values(this.vars));
    for (const r of this.running) tf.dispose([r.mean, r.variance]);
    this.opt.dispose();
  }
}

export async function w3(impl: string, budgetMs: number, caseKey?: string): Promise<CaseResult[]> {
  const data = loadMnist();
  return w3Generic(
    impl,
    data,
    (bn) => {
      const net = new TfNet(bn, 7);
      return {
        step: (x, y, b) => net.step(x, y, b),
        accuracy: (d) => net.accuracy(d),
        settle: () => net.settle(),
        dispose: () => net.dispose(),
        liveTensors: () => tf.memory().numTensors,
      };
    },
    budgetMs,
    caseKey,
  );
}

/** tf.data: a generator of scaled samples, seeded shuffle over the whole set, batch. */
export async function w4(impl: string, sizes: number[]): Promise<CaseResult[]> {
  const tfdata = require("@tensorflow/tfjs-data");
  const { mnistDir, readIdx } = await import("./common");
  const { join } = await import("node:path");
  const out: CaseResult[] = [];
  for (const b of sizes) {
    const times = await measure(
      async () => {
        // Reading the file is part of the pipeline (the same holds for the other rows).
        const images = readIdx(join(mnistDir(), "train-images-idx3-ubyte")).data;
        const labels = readIdx(join(mnistDir(), "train-labels-idx1-ubyte")).data;
        const ds = tfdata
          .generator(function* () {
            for (let i = 0; i < 60000; i++) {
              const xs = new Float32Array(784);
              for (let j = 0; j < 784; j++) xs[j] = images[i * 784 + j] / 255;
              yield { xs, ys: labels[i] };
            }
          })
          .shuffle(60000, "42")
          .batch(b);
        await ds.forEachAsync((batch: any) => tf.dispose(batch));
      },
      // One epoch takes tens of seconds here: one run, no warm-up (said in the table).
      { warmup: 0, reps: 1, minReps: 1, budgetMs: 0 },
    );
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
