// Data-parallel speedup and all-reduce cost (a measurement, not a test): `pnpm --filter
// @minibatch/distributed build && node bench/bench.mjs [--steps 60] [--batch 60]`.

import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import { createSharedGroup, DataParallel } from "@minibatch/distributed";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const steps = arg("steps", 60);
const batch = arg("batch", 60);
const script = new URL("./replica.mjs", import.meta.url);

// A fixed synthetic batch stream of MNIST's shape (the timing does not depend on the values).
let s = 12345;
const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
const xs = Array.from({ length: steps }, () => Float32Array.from({ length: batch * 784 }, rnd));
const ys = Array.from({ length: steps }, () =>
  Int32Array.from({ length: batch }, () => Math.floor(rnd() * 10)),
);

async function run(workers) {
  const dp = await DataParallel.start({ script, workers, options: { seed: 1, lr: 0.5 } });
  // Warm-up steps (JIT, wasm heap growth) are not timed.
  for (let i = 0; i < 5; i++)
    await dp.step({ data: xs[i], shape: [batch, 784] }, { data: ys[i], shape: [batch] });
  const t0 = performance.now();
  let ar = 0;
  let compute = 0;
  let loss = 0;
  for (let i = 0; i < steps; i++) {
    const r = await dp.step({ data: xs[i], shape: [batch, 784] }, { data: ys[i], shape: [batch] });
    ar += r.ms[0].allReduce;
    compute += Math.max(...r.ms.map((m) => m.compute));
    loss = r.loss;
  }
  const ms = (performance.now() - t0) / steps;
  await dp.close();
  return { ms, allReduceMs: ar / steps, computeMs: compute / steps, loss, params: dp.numParameters };
}

const one = await run(1);
const two = await run(2);
console.log(
  `cpus: ${cpus().length} (${cpus()[0]?.model}); model 784-100-100-100-10 with SyncBatchNorm, batch ${batch}, ${steps} timed steps`,
);
// compute: forward + backward + optimizer of the slowest replica; all-reduce: rank 0's time in the
// gradient all-reduce, which includes waiting for the slower replica.
const line = (r) =>
  `${r.ms.toFixed(2)} ms/step (compute ${r.computeMs.toFixed(2)} ms, gradient all-reduce ${r.allReduceMs.toFixed(3)} ms)`;
console.log(`1 worker : ${line(one)}`);
console.log(`2 workers: ${line(two)}, ${two.params} parameters`);
console.log(`speedup 2 vs 1 worker: ${(one.ms / two.ms).toFixed(2)}x`);

// The all-reduce alone, between 2 threads: a BN layer's statistics (201 values) and the model's gradients.
const sizes = [201, 1 << 14, two.params];
const group = createSharedGroup(2);
const res = await Promise.all(
  [0, 1].map(
    (rank) =>
      new Promise((resolve, reject) => {
        const w = new Worker(new URL("./allreduce-worker.mjs", import.meta.url), {
          workerData: { group, rank, sizes, reps: 200 },
        });
        w.once("message", (m) => {
          resolve(m);
          w.terminate();
        });
        w.once("error", reject);
      }),
  ),
);
for (const n of sizes)
  console.log(`allReduce of ${n} float32 over 2 threads: ${res[0][n].toFixed(1)} us per call`);
