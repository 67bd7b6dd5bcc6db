import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import "../src/index";
import type { CpuBackend, CpuData } from "../src/index";
import { wasmRuntime } from "../src/wasm/runtime";

// Freed wasm-resident buffers are cached by exact size and handed out again, so a training loop
// skips the heap's bookkeeping. The cache must be invisible: fresh contents, exact accounting.
it("a freed resident buffer is reused for the next allocation of its size, and emptyCache gives it back", async () => {
  await mb.setBackend("cpu");
  const cpu = mb.getBackend() as CpuBackend;
  cpu.emptyCache();
  const heap = wasmRuntime()?.heap;
  const blocks0 = heap?.stats().blocks ?? 0;
  const before = cpu.memory();
  const a = mb.full([1000], 3);
  const ptr = (a.dataId as CpuData).ptr;
  expect(ptr).toBeGreaterThanOrEqual(0);
  a.dispose();
  expect(cpu.memory()).toEqual(before); // cached blocks are not live buffers
  const b = mb.zeros([1000]);
  expect((b.dataId as CpuData).ptr).toBe(ptr);
  expect(Array.from(await b.data()).every((v) => v === 0)).toBe(true); // written, not stale
  const c = mb.ones([1000]); // the cached block is taken: a new one
  expect((c.dataId as CpuData).ptr).not.toBe(ptr);
  expect(Array.from(await c.data()).every((v) => v === 1)).toBe(true);
  expect(Array.from(await b.data()).every((v) => v === 0)).toBe(true);
  mb.dispose([b, c]);
  expect(heap?.stats().blocks).toBe(blocks0 + 2);
  cpu.emptyCache();
  expect(heap?.stats().blocks).toBe(blocks0);
  expect(cpu.memory()).toEqual(before);
});
