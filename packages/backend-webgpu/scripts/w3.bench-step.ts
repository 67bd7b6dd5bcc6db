// Times the W3 training step (MNIST MLP 784-100-100-100-10, batch 60, batch norm, SGD by assign)
// on the webgpu backend, then replays each of its dispatches alone to find the expensive ones.
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
//     npx vitest run --config scripts/vitest.config.ts
import "@minibatch/backend-cpu";
import type { Tensor } from "@minibatch/tensor";
import * as mb from "@minibatch/tensor";
import { it } from "vitest";
import type { GPUData, WebGPUBackend } from "../src/index";
import "../src/index";

const LAYERS = [784, 100, 100, 100, 10];
const BATCH = 60;

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return a;
}

it("w3 step", async () => {
  const b = (await mb.setBackend("webgpu")) as WebGPUBackend;
  const param = (v: Float32Array, shape: number[]) =>
    mb.keep(mb.fromArray(v, shape, "float32").requiresGrad_());
  const W = LAYERS.slice(0, -1).map((f, l) =>
    param(rand(f * LAYERS[l + 1], l + 1, -0.05, 0.05), [f, LAYERS[l + 1]]),
  );
  const b3 = param(new Float32Array(10), [10]);
  const gamma = [0, 1, 2].map(() => param(new Float32Array(100).fill(1), [100]));
  const beta = [0, 1, 2].map(() => param(new Float32Array(100), [100]));
  const params: Tensor[] = [...W, b3, ...gamma, ...beta];
  const xv = rand(BATCH * 784, 99, 0, 1);
  const yv = Int32Array.from({ length: BATCH }, (_, i) => i % 10);
  const step = () =>
    mb.tidy(() => {
      let h = mb.fromArray(xv, [BATCH, 784], "float32");
      const onehot = mb.oneHot(mb.fromArray(yv, [BATCH], "int32"), 10);
      for (let l = 0; l < 4; l++) {
        h = mb.matmul(h, W[l]);
        if (l < 3) h = mb.batchNormTrain(h, gamma[l], beta[l], { eps: 1e-5, channelAxis: -1 }).y.sigmoid();
        else h = h.add(b3);
      }
      const loss = h.logSoftmax(1).mul(onehot).sum().neg().div(BATCH);
      loss.backward();
      mb.noGrad(() => {
        for (const p of params) {
          p.assign(p.sub(p.grad!.mul(0.5)));
          p.grad!.dispose();
          p.grad = null;
        }
      });
      return loss;
    });
  // warm-up (pipeline compiles)
  for (let i = 0; i < 3; i++) {
    const l = step();
    await l.data();
    l.dispose();
  }
  // Segments of 5 steps, each ended by a read; the median and best segment (the machine is shared).
  const segMs: number[] = [];
  const d0 = b.stats.dispatches;
  const s0 = b.stats.submits;
  let loss = 0;
  for (let seg = 0; seg < 6; seg++) {
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) {
      const l = step();
      if (i === 4) loss = (await l.data())[0];
      l.dispose();
    }
    segMs.push((performance.now() - t0) / 5);
  }
  segMs.sort((a, c) => a - c);
  const dispatches = (b.stats.dispatches - d0) / 30;
  const submits = (b.stats.submits - s0) / 30;
  // JavaScript time to build and encode one step (the GPU runs behind it).
  let encMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const t1 = performance.now();
    const l = step();
    encMs = Math.min(encMs, performance.now() - t1);
    await l.data();
    l.dispose();
  }
  console.log(`encode (JS) per step: best ${encMs.toFixed(1)} ms`);
  const med = segMs[3];
  console.log(
    `W3 step: median ${med.toFixed(1)} ms/step = ${((BATCH * 1000) / med).toFixed(0)} samples/s, best ${segMs[0].toFixed(1)} ms = ${((BATCH * 1000) / segMs[0]).toFixed(0)} samples/s; ` +
      `${dispatches} dispatches, ${submits.toFixed(2)} submits per step; loss ${loss}`,
  );

  // Record one step's dispatches, then replay each alone (REPS times, one sync) for its cost.
  type Rec = { key: string; args: Parameters<WebGPUBackend["dispatch"]> };
  const recs: Rec[] = [];
  const orig = b.dispatch.bind(b);
  b.dispatch = (...args: Parameters<WebGPUBackend["dispatch"]>) => {
    recs.push({ key: args[0], args: [...args] as Parameters<WebGPUBackend["dispatch"]> });
    orig(...args);
  };
  const l = step();
  await l.data();
  l.dispose();
  b.dispatch = orig;
  const REPS = 5;
  await b.sync();
  let t = performance.now();
  for (let i = 0; i < REPS; i++) await b.sync();
  const syncMs = (performance.now() - t) / REPS;
  const rows: { key: string; shape: string; ms: number }[] = [];
  for (const r of recs) {
    const [, , inputs, , params, groups] = r.args;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < REPS; i++) {
      t = performance.now();
      orig(...r.args);
      await b.sync();
      best = Math.min(best, performance.now() - t - syncMs);
    }
    rows.push({
      key: r.key,
      shape: `in=${inputs.map((d: GPUData) => d.size).join(",")} p=${Array.from(params).slice(0, 4).join(",")} g=${groups.join("x")}`,
      ms: best,
    });
  }
  const byKey = new Map<string, { n: number; ms: number }>();
  for (const r of rows) {
    const e = byKey.get(r.key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += r.ms;
    byKey.set(r.key, e);
  }
  console.log(
    `sync alone ${syncMs.toFixed(2)} ms; replayed sum ${rows.reduce((a, r) => a + r.ms, 0).toFixed(1)} ms`,
  );
  console.log(
    [...byKey]
      .sort((a, c) => c[1].ms - a[1].ms)
      .map(([k, e]) => `${k.padEnd(34)} x${e.n}  ${e.ms.toFixed(2)} ms`)
      .join("\n"),
  );
  console.log("top dispatches:");
  console.log(
    rows
      .sort((a, c) => c.ms - a.ms)
      .slice(0, 15)
      .map((r) => `${r.ms.toFixed(2).padStart(7)} ms  ${r.key} ${r.shape}`)
      .join("\n"),
  );
});
