// The code of a gemm worker thread, as a string: it ships inside the package's one bundle, and
// runs as `new Worker(code, { eval: true })` in Node.js or from a Blob URL in a browser, with no
// file to locate next to the bundle. Plain JavaScript (it is not compiled), kept small.
//
// A worker instantiates the kernels over the shared memory, says it is ready in its slot of the
// control block, then loops: wait for its slot's sequence number to change, run the gemm part
// described in the slot, write the sequence number into the slot's "done" word and wake the main
// thread. See pool.ts for the layout.

/**
 * A worker's control block (an Int32Array over its own small SharedArrayBuffer), in int32s:
 * `seq` (the main thread bumps it to post a part), `done` (the worker copies `seq` there when the
 * part is written), `ready` (1 once instantiated, -1 if that failed), `failed` (1 when the last
 * part threw) and the 18 arguments of `gemmPart` from `args` on; `stride` int32s in all.
 */
export const SLOT = { seq: 0, done: 1, ready: 2, failed: 3, args: 4, stride: 32 } as const;

export const WORKER_SOURCE = `"use strict";
const SLOT = ${JSON.stringify(SLOT)};
function start(init) {
  const c = new Int32Array(init.control);
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
    const a = SLOT.args;
    let failed = 0;
    try {
      gemmPart(
        c[a] >>> 0, c[a + 1] >>> 0, c[a + 2] >>> 0, c[a + 3], c[a + 4], c[a + 5], c[a + 6], c[a + 7],
        c[a + 8], c[a + 9], c[a + 10], c[a + 11] >>> 0, c[a + 12], c[a + 13], c[a + 14], c[a + 15],
        c[a + 16], c[a + 17],
      );
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
