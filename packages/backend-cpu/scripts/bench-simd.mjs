// Micro-benchmark of the float32 unary ops and sums through the public ops (not a test): prints
// nanoseconds per element. Runs on the built packages:
//
//   pnpm --filter @minibatch/backend-cpu... build
//   node scripts/bench-simd.mjs                   # the WebAssembly SIMD kernels
//   MINIBATCH_WASM=0 node scripts/bench-simd.mjs  # the TypeScript kernels alone
//
// Each figure is the best of 7 timed batches of calls (each about 60 ms) after a warm-up pass: on a
// shared machine the other processes only ever add time. Compare runs made back to back.
import * as mb from "@minibatch/tensor";
import "../dist/index.js";

await mb.setBackend("cpu");

/** ns per element of f(), which processes n elements. */
function time(n, f) {
  for (let i = 0; i < 5; i++) f();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    if (performance.now() - t0 > 60) break;
    reps *= 2;
  }
  const runs = [];
  for (let k = 0; k < 7; k++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    runs.push(((performance.now() - t0) * 1e6) / (reps * n));
  }
  return Math.min(...runs);
}

const ops = {
  sigmoid: (x) => mb.sigmoid(x),
  exp: (x) => mb.exp(x),
  tanh: (x) => mb.tanh(x),
  log: (x) => mb.log(x),
  gelu: (x) => mb.gelu(x),
  "sum (all)": (x) => mb.sum(x),
  "sum rows [n/100, 100] axis 1": (x) => mb.sum(mb.reshape(x, [x.size / 100, 100]), 1),
  "sum cols [n/100, 100] axis 0": (x) => mb.sum(mb.reshape(x, [x.size / 100, 100]), 0),
  "max rows [n/10, 10] axis 1": (x) => mb.max(mb.reshape(x, [x.size / 10, 10]), 1),
};

const mode = process.env.MINIBATCH_WASM === "0" ? "TypeScript" : "wasm SIMD";
console.log(`float32 ops on the cpu backend (${mode}), ns per element`);
for (const n of [6000, 1_000_000]) {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = 0.01 + ((i * 7919) % 1000) / 100; // positive, for log
  const x = mb.tensor(v);
  // one untimed pass first, so that the first op timed does not pay for the JIT warming up
  for (const f of Object.values(ops)) time(n, () => mb.tidy(() => void f(x)));
  for (const [name, f] of Object.entries(ops)) {
    const ns = time(n, () => mb.tidy(() => void f(x)));
    console.log(`${name.padEnd(30)} n=${String(n).padStart(7)}  ${ns.toFixed(3)} ns`);
  }
  x.dispose();
}
