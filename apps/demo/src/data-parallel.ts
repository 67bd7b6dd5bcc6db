import { DataParallel, type HostTensor } from "@minibatch/distributed";
import { crossEntropy, type Module } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { fromArray, Generator, noGrad, tidy } from "@minibatch/tensor";
import { figure1Model } from "./dp-model";
import type { MnistData } from "./mnist";

export interface DataParallelRunOptions {
  workers: number;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  initStd: number;
}

export interface DataParallelRunResult {
  single: { testAccuracy: number; trainSeconds: number };
  parallel: { testAccuracy: number; trainSeconds: number; allReduceMs: number };
  speedup: number;
  /** Largest |difference| of any weight or running statistic between the two runs. */
  worstWeightDiff: number;
}

/** The batches of the run: a seeded shuffle per epoch, the same for both runs. */
function* batches(
  data: MnistData,
  o: DataParallelRunOptions,
): IterableIterator<{ x: HostTensor; y: HostTensor }> {
  const n = data.train.count;
  const g = new Generator(o.seed + 1);
  let order = g.permutation(n);
  let at = 0;
  for (let s = 0; s < o.steps; s++) {
    if (at + o.batchSize > n) {
      order = g.permutation(n);
      at = 0;
    }
    const x = new Float32Array(o.batchSize * 784);
    const y = new Int32Array(o.batchSize);
    for (let i = 0; i < o.batchSize; i++) {
      const k = order[at++];
      x.set(data.train.images.subarray(k * 784, (k + 1) * 784), i * 784);
      y[i] = data.train.labels[k];
    }
    yield { x: { data: x, shape: [o.batchSize, 784] }, y: { data: y, shape: [o.batchSize] } };
  }
}

function testAccuracy(model: Module, data: MnistData): number {
  model.eval();
  let correct = 0;
  const n = data.test.count;
  for (let at = 0; at < n; at += 1000) {
    const m = Math.min(1000, n - at);
    const pred = noGrad(() =>
      tidy(() =>
        model
          .call(fromArray(data.test.images.slice(at * 784, (at + m) * 784), [m, 784], "float32"))
          .argmax(1),
      ),
    );
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < m; i++) if (p[i] === data.test.labels[at + i]) correct++;
  }
  return correct / n;
}

/**
 * `--workers-train N`: trains the Figure 1 model with batch norm once in this thread and once
 * data-parallel on N worker threads (SyncBatchNorm over the global batch), from the same seed on
 * the same batches, and reports both test accuracies, the training times and the speedup.
 */
export async function dataParallelRun(
  data: MnistData,
  o: DataParallelRunOptions,
  note: (s: string) => void,
): Promise<DataParallelRunResult> {
  if (o.batchSize % o.workers !== 0) {
    throw new Error(
      `--workers-train ${o.workers}: --batch-size ${o.batchSize} must be divisible by the workers`,
    );
  }
  note(`single process: ${o.steps} steps at batch ${o.batchSize}`);
  const model = figure1Model(o.seed, o.initStd);
  const opt = new SGD(model.parameters(), { lr: o.lr });
  let t0 = performance.now();
  for (const { x, y } of batches(data, o)) {
    tidy(() => {
      const loss = crossEntropy(
        model.call(fromArray(x.data, x.shape, "float32")),
        fromArray(y.data, y.shape, "int32"),
      );
      loss.backward();
    });
    opt.step();
    opt.zeroGrad();
  }
  const singleSeconds = (performance.now() - t0) / 1000;
  const singleAcc = testAccuracy(model, data);

  note(`data-parallel: ${o.workers} worker threads, ${o.batchSize / o.workers} samples each per step`);
  const dp = await DataParallel.start({
    script: new URL("./dp-replica.js", import.meta.url),
    workers: o.workers,
    options: { seed: o.seed, initStd: o.initStd, lr: o.lr },
  });
  let allReduceMs = 0;
  let state: Record<string, HostTensor>;
  try {
    t0 = performance.now();
    for (const { x, y } of batches(data, o)) allReduceMs += (await dp.step(x, y)).ms[0].allReduce;
    state = await dp.stateDict();
  } finally {
    await dp.close();
  }
  const parallelSeconds = (performance.now() - t0) / 1000;
  let worst = 0;
  const own = model.stateDict();
  for (const [k, v] of Object.entries(state)) {
    const mine = own[k].dataSync();
    for (let i = 0; i < v.data.length; i++) worst = Math.max(worst, Math.abs(mine[i] - v.data[i]));
  }
  // Evaluate the replicas' weights with the same code as the single-process model.
  const replica = figure1Model(o.seed, o.initStd);
  const loaded = Object.fromEntries(
    Object.entries(state).map(([k, v]) => [
      k,
      fromArray(v.data, v.shape, v.data instanceof Int32Array ? "int32" : "float32"),
    ]),
  );
  replica.loadStateDict(loaded);
  for (const t of Object.values(loaded)) t.dispose();
  const parallelAcc = testAccuracy(replica, data);
  model.dispose();
  replica.dispose();
  opt.dispose();
  return {
    single: { testAccuracy: singleAcc, trainSeconds: singleSeconds },
    parallel: {
      testAccuracy: parallelAcc,
      trainSeconds: parallelSeconds,
      allReduceMs: allReduceMs / o.steps,
    },
    speedup: singleSeconds / parallelSeconds,
    worstWeightDiff: worst,
  };
}
