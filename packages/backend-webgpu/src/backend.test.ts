import "@minibatch/backend-cpu";
import * as mb from "@minibatch/tensor";
import { getBackend, memory, setBackend, tidy } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { bucketBytes, type GPUData, WebGPUBackend, webgpuInfo } from "./index";
import { adapterStatus } from "./test-util";

const status = await adapterStatus();
const skip = !status.available;
const why = skip ? ` (skipped: ${status.reason})` : "";

describe("registration", () => {
  it("registers 'webgpu' without displacing the synchronous cpu default", async () => {
    await setBackend("cpu");
    expect(getBackend().name).toBe("cpu");
  });

  it("buckets buffer sizes with at most 25% waste", () => {
    for (const n of [1, 4, 17, 255, 256, 257, 1000, 4096, 5000, 123457, 10_000_000]) {
      const b = bucketBytes(n);
      expect(b).toBeGreaterThanOrEqual(n);
      expect(b % 4).toBe(0);
      if (n > 256) expect(b / n).toBeLessThanOrEqual(1.25);
    }
  });
});

describe.skipIf(skip)(`webgpu adapter${why}`, () => {
  it("is a real adapter and says which", async () => {
    await setBackend("webgpu");
    const info = webgpuInfo()!;
    console.log(
      `webgpu adapter: vendor=${info.vendor} architecture=${info.architecture} description=${info.description}`,
    );
    expect(info.vendor).not.toBe("");
    expect(info.architecture).not.toBe("");
    if ((process.env.VK_ICD_FILENAMES ?? "").includes("swiftshader")) {
      expect(info.architecture.toLowerCase()).toContain("swiftshader");
    }
    expect(getBackend()).toBeInstanceOf(WebGPUBackend);
    await setBackend("cpu");
  });
});

describe.skipIf(skip)(`webgpu memory${why}`, () => {
  it("stays flat over 1000 training steps inside tidy", async () => {
    const backend = (await setBackend("webgpu")) as WebGPUBackend;
    try {
      const w = mb.randn([16, 4]).requiresGrad_();
      const x = mb.randn([32, 16]);
      let at10: { engine: number; bytes: number; live: { buffers: number; bytes: number } } | null = null;
      let first = 0;
      let last = 0;
      for (let step = 1; step <= 1000; step++) {
        const loss = tidy(() => {
          const l = mb.sum(mb.sigmoid(mb.matmul(x, w)));
          l.backward();
          w.assign(mb.sub(w, mb.mul(w.grad!, 0.01)));
          w.grad!.dispose();
          w.grad = null;
          return l;
        });
        if (step === 1) first = await loss.item();
        if (step % 100 === 0) last = await loss.item(); // yields to the event loop, as a real loop would
        loss.dispose();
        if (step === 10) at10 = { engine: memory().buffers, bytes: memory().bytes, live: backend.memory() };
      }
      await backend.sync();
      expect(at10).not.toBeNull();
      expect(memory().buffers).toBe(at10!.engine);
      expect(memory().bytes).toBe(at10!.bytes);
      expect(backend.memory()).toEqual(at10!.live);
      // descending sigmoid(xw) summed: the loss goes down
      expect(last).toBeLessThan(first);
      x.dispose();
      w.dispose();
      expect(backend.memory().buffers).toBe(at10!.live.buffers - 2);
    } finally {
      await setBackend("cpu");
    }
  });
});

// These tests use the one shared device: several SwiftShader devices created and destroyed in one
// process have crashed it now and then (std::system_error in a driver thread). Device loss, which
// must destroy a device, has a file (and so a process) of its own: device-loss.test.ts.
describe.skipIf(skip)(`webgpu errors${why}`, () => {
  it("surfaces a validation error on the next read, then recovers", async () => {
    const b = (await setBackend("webgpu")) as WebGPUBackend;
    try {
      const x = b.alloc(4, "float32");
      // A dispatch with a bad shader: the error belongs to its batch's error scope, and WebGPU
      // drops that whole batch, so the read must fail rather than return stale values.
      b.dispatch("broken", () => "this is not wgsl", [], [x], [4], [1]);
      await expect(b.read(x, 4, "float32")).rejects.toThrow(/minibatch webgpu: device error/);
      // reported once; the device keeps working
      b.write(x, new Float32Array([1, 2, 3, 4]));
      expect(Array.from((await b.read(x, 4, "float32")) as Float32Array)).toEqual([1, 2, 3, 4]);
      b.free(x);
    } finally {
      await setBackend("cpu");
    }
  });

  it("refuses tensors over the device's buffer limit with a clear message", async () => {
    const b = (await setBackend("webgpu")) as WebGPUBackend;
    await setBackend("cpu");
    expect(() => b.alloc(2 ** 40, "float32")).toThrow(/exceeds this device's buffer limit/);
  });
});

describe.skipIf(skip)(`webgpu batching and pooling${why}`, () => {
  it("pools freed buffers by size and reports only live ones", async () => {
    const b = (await setBackend("webgpu")) as WebGPUBackend;
    await setBackend("cpu");
    const live = b.memory();
    // an odd size that nothing else here allocates, so its bucket starts empty
    const a = b.alloc(1000 * 1009, "float32");
    expect(b.memory().buffers).toBe(live.buffers + 1);
    b.free(a);
    expect(b.memory()).toEqual(live);
    const pooled = b.poolInfo().buffers;
    const c = b.alloc(1000 * 1009 - 5, "int32"); // same bucket: reused
    expect(b.poolInfo().buffers).toBe(pooled - 1);
    expect((c as GPUData).buffer).toBe((a as GPUData).buffer);
    b.free(c);
    const z = b.alloc(0, "bool");
    b.write(z, new Uint8Array(0));
    expect((await b.read(z, 0, "bool")).length).toBe(0);
    b.free(z);
  });

  it("the 64x64 register-tiled matmul (used on hardware GPUs) matches the CPU", async () => {
    const b = (await setBackend("webgpu")) as WebGPUBackend;
    const tile = b.matmulTile;
    b.matmulTile = "large";
    try {
      const cpu = (await setBackend("cpu")) as mb.Backend;
      for (const [m, k, n, ta, tb, batchA, batchB] of [
        // one pipeline, A plain and B transposed (each compile takes seconds on SwiftShader);
        // partial tiles on every edge, batch broadcasting of B
        [70, 33, 130, false, true, 2, 1],
      ] as const) {
        const batch = Math.max(batchA, batchB);
        const av = Float32Array.from({ length: batchA * m * k }, (_, i) => Math.sin(i));
        const bv = Float32Array.from({ length: batchB * k * n }, (_, i) => Math.cos(i * 0.7));
        const run = (be: mb.Backend) => {
          const A = be.alloc(av.length, "float32");
          const B = be.alloc(bv.length, "float32");
          const Y = be.alloc(batch * m * n, "float32");
          be.write(A, av);
          be.write(B, bv);
          const info = (id: object, shape: number[]) => ({
            dataId: id,
            shape,
            dtype: "float32" as const,
            size: shape.reduce((p, c) => p * c),
          });
          be.kernels.matmul(
            be,
            [info(A, [batchA, ta ? k : m, ta ? m : k]), info(B, [batchB, tb ? n : k, tb ? k : n])],
            [info(Y, [batch, m, n])],
            { batch, m, n, k, transA: ta, transB: tb, batchA, batchB },
          );
          return be.read(Y, batch * m * n, "float32");
        };
        const [g, c] = await Promise.all([run(b), run(cpu)]);
        for (let i = 0; i < c.length; i++) expect(g[i]).toBeCloseTo(c[i], 3);
      }
    } finally {
      b.matmulTile = tile;
      await setBackend("cpu");
    }
  });
});
