// The code of a gemm worker thread, as a string: it ships inside the package's one bundle, and
// runs as `new Worker(code, { eval: true })` in Node.js or from a Blob URL in a browser, with no
// file to locate next to the bundle. Plain JavaScript (it is not compiled), kept small.
//
// A worker instantiates the kernels over the shared memory, says it is ready in its control
// block, then loops: sleep until the product number in the job block changes, then take chunks of
// that product until none is left, counting each one written down in `remaining` (the last one
// wakes the calling thread). See pool.ts.

/**
 * A worker's control block (an Int32Array over its own small SharedArrayBuffer): `ready` (1 once
 * the worker has instantiated the kernels, -1 if that failed or it died) and `stop` (set before the
 * pool stops it: it then takes no more chunks).
 */
export const SLOT = { ready: 0, stop: 1, size: 4 } as const;

/**
 * The job block, shared by the pool's threads (Int32Array): `gen` (the product's number; workers
 * sleep on it), `ticket` (gen << 10 | the next chunk to take), `remaining` (chunks not yet
 * written; the calling thread sleeps on it), `chunks`, `failed`, the scratch block of thread 0 and
 * the `stride` between threads' blocks, the 11 gemm arguments from `args`, then 6 int32s per chunk
 * (q0, q1, i0, i1, j0, j1) from `parts`.
 */
export const JOB = {
  gen: 0,
  ticket: 1,
  remaining: 2,
  chunks: 3,
  failed: 4,
  scratch: 5,
  stride: 6,
  args: 8,
  parts: 20,
} as const;

/** How long a worker watches for the next product before it sleeps (milliseconds). */
export const SPIN_MS = 1;

/** Product numbers wrap at 21 bits, so that gen << 10 stays a positive int32. */
export const GEN_MASK = 0x1fffff;

export const WORKER_SOURCE = `"use strict";
const SLOT = ${JSON.stringify(SLOT)};
const JOB = ${JSON.stringify(JOB)};
const SPIN_MS = ${SPIN_MS};
function start(init) {
  const c = new Int32Array(init.control);
  const job = new Int32Array(init.job);
  let gemmPart;
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    gemmPart = instance.exports.gemmPart;
  } catch (e) {
    Atomics.store(c, SLOT.ready, -1);
    return;
  }
  Atomics.store(c, SLOT.ready, 1);
  let seen = Atomics.load(job, JOB.gen);
  for (;;) {
    // Products of a training step come every few tens of microseconds: watch for the next one
    // for a while before sleeping, as waking from Atomics.wait takes about as long as a small
    // product's share (the OS must schedule the thread again).
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(job, JOB.gen) === seen && performance.now() < until) {}
    Atomics.wait(job, JOB.gen, seen);
    seen = Atomics.load(job, JOB.gen);
    for (;;) {
      if (Atomics.load(c, SLOT.stop) !== 0) return;
      // Take the next chunk of product number seen, if any is left: the compare-exchange fails
      // when another thread took it, or when a newer product replaced the ticket.
      const t = Atomics.load(job, JOB.ticket);
      if (t >>> 10 !== seen) break;
      const i = t & 1023;
      if (i >= Atomics.load(job, JOB.chunks)) break;
      if (Atomics.compareExchange(job, JOB.ticket, t, t + 1) !== t) continue;
      // The job block holds this product until its last chunk is written: read it now.
      const a = JOB.args;
      const p = JOB.parts + 6 * i;
      try {
        gemmPart(
          job[a], job[a + 1], job[a + 2], job[a + 3], job[a + 4], job[a + 5], job[a + 6], job[a + 7],
          job[a + 8], job[a + 9], job[a + 10], (job[JOB.scratch] >>> 0) + init.index * job[JOB.stride],
          job[p], job[p + 1], job[p + 2], job[p + 3], job[p + 4], job[p + 5],
        );
      } catch (e) {
        Atomics.store(job, JOB.failed, 1);
      }
      if (Atomics.sub(job, JOB.remaining, 1) === 1) Atomics.notify(job, JOB.remaining);
    }
  }
}
if (typeof require === "function") {
  start(require("node:worker_threads").workerData);
} else {
  self.onmessage = (e) => start(e.data);
}
`;
