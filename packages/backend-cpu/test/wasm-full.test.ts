import "../src/index";
import * as mb from "@minibatch/tensor";
import { afterEach, describe, expect, it, vi } from "vitest";
import { initWasm, wasmRuntime } from "../src/wasm/runtime";

// Past wasm32's 4 GiB the heap cannot grow: new tensors are ordinary arrays and the wasm kernels
// cannot even copy them in. Simulated here by a heap that refuses every allocation; every op must
// then still give the right values (through the TypeScript kernels), not an error.
describe("tensors outside wasm memory (heap full)", () => {
  afterEach(() => vi.restoreAllMocks());
  it("add, mul, matmul, batchNorm and conv2d fall back to TypeScript with the same values", async () => {
    await mb.setBackend("cpu");
    await initWasm();
    const w = wasmRuntime();
    expect(w, "the wasm kernels should load on Node 20").not.toBeNull();
    if (!w) return;
    const n = 8192;
    const a = mb.arange(0, n).cast("float32");
    const b = mb.fullLike(a, 0.5);
    const m1 = mb.reshape(mb.arange(0, 64 * 64).cast("float32"), [64, 64]).div(4096);
    const x4 = mb.reshape(mb.arange(0, 2 * 3 * 8 * 8).cast("float32"), [2, 3, 8, 8]).div(100);
    const k = mb.reshape(mb.arange(0, 4 * 3 * 3 * 3).cast("float32"), [4, 3, 3, 3]).div(50);
    const run = () => [
      mb.add(a, b),
      mb.mul(a, b),
      mb.matmul(m1, m1),
      mb.conv2d(x4, k),
      mb.batchNormTrain(x4, null, null).y,
    ];
    const want = run().map((t) => Array.from(t.dataSync()));
    const spy = vi.spyOn(w.heap, "alloc").mockReturnValue(-1);
    // New tensors are now plain arrays; the kernels cannot copy them into wasm memory either.
    const a2 = mb.arange(0, n).cast("float32");
    const b2 = mb.fullLike(a2, 0.5);
    expect(Array.from(mb.add(a2, b2).dataSync())).toEqual(want[0]);
    const got = run().map((t) => Array.from(t.dataSync()));
    expect(spy).toHaveBeenCalled();
    // Elementwise ops agree exactly; reductions (matmul, conv, batch norm) to float32 rounding.
    expect(got[0]).toEqual(want[0]);
    expect(got[1]).toEqual(want[1]);
    for (let j = 2; j < want.length; j++) {
      const worst = Math.max(...got[j].map((v, i) => Math.abs(v - want[j][i]) / (1 + Math.abs(want[j][i]))));
      expect(worst, `output ${j}`).toBeLessThan(1e-5);
    }
  });
});
