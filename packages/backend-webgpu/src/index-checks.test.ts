import "@minibatch/backend-cpu";
import * as mb from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
// Registers the webgpu backend (the type import below is erased).
import "./index";
import type { WebGPUBackend } from "./index";
import { decodeIndexError, IndexCheckLog, indexCheckParams } from "./index-checks";
import { adapterStatus } from "./test-util";

const status = await adapterStatus();
const skip = !status.available;
const why = skip ? ` (skipped: ${status.reason})` : "";

const check = { op: "oneHot", what: "index", low: 0, high: 3, range: "3 classes" } as const;

describe("index check bookkeeping", () => {
  it("passes the range and an ignore value only when an int32 can equal it", () => {
    expect(indexCheckParams(5, check, 7)).toEqual([5, 0, 3, 0, 0, 7]);
    expect(indexCheckParams(5, { ...check, ignore: -100 }, 1)).toEqual([5, 0, 3, 1, -100, 1]);
    expect(indexCheckParams(5, { ...check, ignore: 0.5 }, 1)[3]).toBe(0);
    expect(indexCheckParams(5, { ...check, ignore: 2 ** 40 }, 1)[3]).toBe(0);
    expect(indexCheckParams(5, { ...check, low: -(2 ** 40), high: 2 ** 40 }, 1).slice(1, 3)).toEqual([
      -(2 ** 31),
      2 ** 31 - 1,
    ]);
  });

  it("turns a device record into the shared message, and an empty record into no error", () => {
    const log = new IndexCheckLog();
    const id = log.add(check, [2, 2]);
    const taken = log.take();
    expect(log.size).toBe(0);
    expect(decodeIndexError(new Uint32Array([0, 0, 0, 0]), taken)).toBeNull();
    const e = decodeIndexError(new Uint32Array([id, 3, 0xffffffff, 0]), taken);
    expect(e).toBeInstanceOf(RangeError);
    expect(e!.message).toBe(mb.indexErrorMessage(check, -1, 3, [2, 2]));
    expect(e!.message).toBe(
      "oneHot: index -1 at position [1, 1] is out of range for 3 classes (expected 0..2)",
    );
    expect(decodeIndexError(new Uint32Array([id + 1, 0, 0, 0]), taken)!.message).toMatch(/unknown id/);
  });
});

describe.skipIf(skip)(`webgpu index checks${why}`, () => {
  const int = (v: number[]) => mb.tensor(Int32Array.from(v));
  const msg = (v: number, p: number) => mb.indexErrorMessage(check, v, p, [2]);

  it("one dispatch per check, nothing thrown before the read, the record cleared after it", async () => {
    const b = (await mb.setBackend("webgpu")) as WebGPUBackend;
    const idx = int([1, 2]);
    const before = b.stats.dispatches;
    mb.checkIndices(idx, check);
    expect(b.stats.dispatches - before).toBe(1);
    await b.sync();
    const bad = int([1, 3]);
    mb.checkIndices(bad, check); // queued: no throw here
    await expect(idx.data()).rejects.toThrow(msg(3, 1));
    expect(Array.from(await idx.data())).toEqual([1, 2]);
    await b.sync();
    idx.dispose();
    bad.dispose();
    await mb.setBackend("cpu");
  });

  it("a check queued while a read is in flight is reported by the next read, not lost", async () => {
    const b = (await mb.setBackend("webgpu")) as WebGPUBackend;
    const x = int([0, 1]);
    const a = int([5, 0]);
    const c = int([0, -2]);
    mb.checkIndices(a, check);
    const first = x.data();
    mb.checkIndices(c, check);
    const second = x.data();
    await expect(first).rejects.toThrow(msg(5, 0));
    await expect(second).rejects.toThrow(msg(-2, 1));
    await b.sync();
    for (const t of [x, a, c]) t.dispose();
    await mb.setBackend("cpu");
  });

  it("ignore values pass; empty index tensors are not dispatched", async () => {
    const b = (await mb.setBackend("webgpu")) as WebGPUBackend;
    const t = int([-100, 2, -100]);
    mb.checkIndices(t, { ...check, ignore: -100 });
    const before = b.stats.dispatches;
    const empty = mb.tensor(new Int32Array(0));
    mb.checkIndices(empty, check);
    expect(b.stats.dispatches).toBe(before);
    await b.sync();
    t.dispose();
    empty.dispose();
    await mb.setBackend("cpu");
  });

  it("a disposed backend drops its pending checks", async () => {
    const { createWebGPUBackend } = await import("./index");
    const b = await createWebGPUBackend();
    const id = b.alloc(2, "int32");
    b.write(id, Int32Array.from([7, 7]));
    b.checkIndices({ dataId: id, shape: [2], dtype: "int32", size: 2 }, check);
    b.free(id);
    b.dispose();
    expect(() => b.checkIndices({ dataId: id, shape: [2], dtype: "int32", size: 2 }, check)).toThrow(
      /disposed backend/,
    );
  });
});
