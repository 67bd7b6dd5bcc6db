import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import "../src/index";
import type { CpuBackend } from "../src/index";
import { wasmRuntime } from "../src/wasm/runtime";

// The CPU backend's large tensors live in a wasm heap that never shrinks: a training loop that
// disposes what it makes must reuse blocks rather than grow the heap step after step.
it("a training loop (matmul, conv, batch norm, SGD) reuses heap blocks: the heap stops growing", async () => {
  await mb.setBackend("cpu");
  const heap = wasmRuntime()?.heap;
  expect(heap).toBeDefined();
  const g = new mb.Generator(5);
  const conv = mb.keep(mb.randn([8, 1, 5, 5], { generator: g }).mul(0.2)).requiresGrad_();
  const w1 = mb.keep(mb.randn([8 * 12 * 12, 100], { generator: g }).mul(0.05)).requiresGrad_();
  const w2 = mb.keep(mb.randn([100, 10], { generator: g }).mul(0.1)).requiresGrad_();
  const gamma = mb.keep(mb.ones([100])).requiresGrad_();
  const beta = mb.keep(mb.zeros([100])).requiresGrad_();
  const params = [conv, w1, w2, gamma, beta];
  const live0 = heap?.stats().blocks ?? 0;
  const step = (i: number) =>
    mb.tidy(() => {
      // Batch sizes vary, as with a last partial batch, so blocks of several sizes come and go.
      const n = i % 5 === 4 ? 20 : 60;
      const x = mb.rand([n, 1, 28, 28], { generator: g });
      const labels = mb.randint(0, 10, [n], { generator: g });
      const h = mb.conv2d(x, conv, null, { stride: 2 }).sigmoid().reshape([n, -1]);
      const z = mb.batchNormTrain(h.matmul(w1), gamma, beta).y.sigmoid();
      const loss = z.matmul(w2).logSoftmax(1).mul(mb.oneHot(labels, 10)).sum().div(-n);
      loss.backward();
      mb.noGrad(() => {
        for (const p of params) {
          p.assign(p.sub(p.grad!.mul(0.1)));
          p.grad!.dispose();
          p.grad = null;
        }
      });
      return loss;
    });
  // A few cycles of the batch-size pattern reach the peak a step needs (blocks freed in a
  // different order can leave the free space split differently, so the first peak may come late).
  for (let i = 0; i < 30; i++) step(i).dispose();
  // Freed blocks kept for reuse by the backend count as live in the heap: give them back first.
  const cpu = mb.getBackend() as CpuBackend;
  cpu.emptyCache();
  const warm = heap?.stats();
  let last = 0;
  for (let i = 30; i < 230; i++) {
    const l = step(i);
    last = await l.item();
    l.dispose();
  }
  expect(Number.isFinite(last)).toBe(true);
  cpu.emptyCache();
  const after = heap?.stats();
  expect(after?.reserved).toBe(warm?.reserved);
  expect(after?.used).toBeLessThanOrEqual(warm?.reserved ?? 0);
  expect(after?.blocks).toBe(live0);
  expect(after?.live).toBe(warm?.live);
  for (const p of params) p.dispose();
});
