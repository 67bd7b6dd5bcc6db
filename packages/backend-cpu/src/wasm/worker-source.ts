// The code of a gemm worker thread, as a string: it ships inside the package's one bundle, and
// runs as `new Worker(code, { eval: true })` in Node.js or from a Blob URL in a browser, with no
// file to locate next to the bundle. Plain JavaScript (it is not compiled), kept small.
//
// A worker instantiates the kernels over the shared memory, says it is ready in its slot of the
// control block, then loops: wait for its sequence number to change, take chunks of the product in
// the job block until none is left, write the sequence number into its "done" word and wake the
// main thread. See pool.ts.

/**
 * A worker's control block (an Int32Array over its own small SharedArrayBuffer), in int32s:
 * `seq` (the main thread bumps it to post a product), `done` (the worker copies `seq` there when
 * it has taken its last chunk and written it), `ready` (1 once instantiated, -1 if that failed),
 * `failed` (1 when a chunk threw), `index` (the worker's thread number for this product, for its
 * scratch block); `stride` int32s in all.
 */
export const SLOT = { seq: 0, done: 1, ready: 2, failed: 3, index: 4, stride: 32 } as const;

/**
 * The job block, shared by all workers (Int32Array): `next` (the next chunk to take), `chunks`,
 * the 11 gemm arguments from `args`, the scratch block of thread 0 and the `stride` between
 * threads' blocks, then 6 int32s per chunk (q0, q1, i0, i1, j0, j1) from `parts`.
 */
export const JOB = { next: 0, chunks: 1, args: 2, scratch: 13, stride: 14, parts: 16 } as const;

export const WORKER_SOURCE = `"use strict";
const SLOT = ${JSON.stringify(SLOT)};
const JOB = ${JSON.stringify(JOB)};
function start(init) {
  const c = new Int32Array(init.control);
  const job = new Int32Array(init.job);
  let gemmPart;
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    gemmPart = instance.exports.gemmPart;
  } catch (e) {
    Atomics.store(c, SLOT.ready, -1);
    Atomics.notify(c, SLOT.ready);
    return;
  }
  Atomics.store(c, SLOT.ready, 1);
  Atomics.notify(c, SLOT.ready);
  let seen = Atomics.load(c, SLOT.seq);
  for (;;) {
    Atomics.wait(c, SLOT.seq, seen);
    const seq = Atomics.load(c, SLOT.seq);
    if (seq === seen) continue;
    seen = seq;
    const a = JOB.args;
    const scratch = (job[JOB.scratch] >>> 0) + c[SLOT.index] * job[JOB.stride];
    const chunks = job[JOB.chunks];
    let failed = 0;
    try {
      for (let i = Atomics.add(job, JOB.next, 1); i < chunks; i = Atomics.add(job, JOB.next, 1)) {
        const p = JOB.parts + 6 * i;
        gemmPart(
          job[a], job[a + 1], job[a + 2], job[a + 3], job[a + 4], job[a + 5], job[a + 6], job[a + 7],
          job[a + 8], job[a + 9], job[a + 10], scratch, job[p], job[p + 1], job[p + 2], job[p + 3],
          job[p + 4], job[p + 5],
        );
      }
    } catch (e) {
      failed = 1;
    }
    Atomics.store(c, SLOT.failed, failed);
    Atomics.store(c, SLOT.done, seq);
    Atomics.notify(c, SLOT.done);
  }
}
if (typeof require === "function") {
  start(require("node:worker_threads").workerData);
} else {
  self.onmessage = (e) => start(e.data);
}
`;
