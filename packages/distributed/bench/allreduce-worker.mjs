import { parentPort, workerData } from "node:worker_threads";
import { SharedMemoryCollective } from "@minibatch/distributed";

// Times `reps` all-reduces of `n` floats on one rank; rank 0 posts the mean per call.
const { group, rank, sizes, reps } = workerData;
const c = new SharedMemoryCollective(group, rank);
const out = {};
for (const n of sizes) {
  const a = new Float32Array(n).fill(rank + 1);
  for (let i = 0; i < 20; i++) c.allReduce(a, "mean");
  c.barrier();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) c.allReduce(a, "mean");
  out[n] = ((performance.now() - t0) / reps) * 1000;
}
parentPort.postMessage(out);
