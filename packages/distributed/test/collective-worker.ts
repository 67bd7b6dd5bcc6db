import { parentPort, workerData } from "node:worker_threads";
import { SharedMemoryCollective } from "../src/shared-memory";

// One rank of the collective tests: runs the script it is given and posts what it saw.
const { group, rank, script } = workerData as {
  group: import("../src/shared-memory").SharedGroupDescriptor;
  rank: number;
  script: "ops" | "mismatch" | "hang";
};
const c = new SharedMemoryCollective(group, rank, { timeoutMs: 5000 });
const out: Record<string, number[] | string> = {};
try {
  if (script === "ops") {
    for (const n of [0, 1, 7, 16]) {
      for (const op of ["sum", "mean", "max", "min"] as const) {
        const a = Float64Array.from({ length: n }, (_, i) => (rank + 1) * (i - 3) + (rank === 1 ? 0.5 : 0));
        c.allReduce(a, op);
        out[`${op}${n}`] = [...a];
      }
    }
    const f = Float32Array.from({ length: 11 }, (_, i) => i * 10 + rank);
    c.broadcast(f, 2);
    out.broadcast = [...f];
    c.barrier();
  } else if (script === "mismatch") {
    c.allReduce(new Float64Array(rank === 1 ? 4 : 3));
  } else {
    // Rank 0 never arrives: the others must time out or see the abort, not hang.
    if (rank !== 0) c.barrier();
  }
} catch (e) {
  out.error = (e as Error).message;
}
parentPort!.postMessage(out);
