import { describe, expect, inject, it } from "vitest";
import { DataParallel } from "../src/data-parallel";

const opts = { kind: "mlp", seed: 1, lr: 0.1 };
const batch = (n: number) => ({
  x: { data: new Float32Array(n * 12).map((_, i) => Math.sin(i)), shape: [n, 12] },
  y: { data: new Int32Array(n).map((_, i) => i % 4), shape: [n] },
});

describe("DataParallel errors", () => {
  it("rejects unknown options, bad worker counts and a batch that does not split evenly", async () => {
    await expect(
      DataParallel.start({ script: inject("replicaScript"), workers: 2, sync: true } as never),
    ).rejects.toThrow(/unknown option 'sync' \(did you mean 'syncBatchNorm'\?\)/);
    await expect(DataParallel.start({ script: inject("replicaScript"), workers: 0 })).rejects.toThrow(
      /workers must be an integer >= 1, got 0/,
    );
    const dp = await DataParallel.start({ script: inject("replicaScript"), workers: 2, options: opts });
    try {
      const b = batch(7);
      await expect(dp.step(b.x, b.y)).rejects.toThrow(/batch size must be divisible by the 2 workers, got 7/);
      const c = batch(8);
      await expect(dp.step(c.x, { data: c.y.data.slice(0, 6), shape: [6] })).rejects.toThrow(
        /same batch size, got 8 and 6/,
      );
      await expect(dp.step({ data: c.x.data, shape: [8, 13] }, c.y)).rejects.toThrow(
        /cannot fill shape \[8, 13\]/,
      );
      expect((await dp.step(c.x, c.y)).loss).toBeGreaterThan(0);
    } finally {
      await dp.close();
    }
  });

  it("a replica that fails in setup makes start() reject with its message", async () => {
    await expect(
      DataParallel.start({
        script: inject("replicaScript"),
        workers: 2,
        options: { ...opts, failSetup: true },
      }),
    ).rejects.toThrow(/replica \d: .*setup failed on purpose/);
  });

  it("a replica that fails mid-step fails the step instead of hanging the others in the all-reduce", async () => {
    const dp = await DataParallel.start({
      script: inject("replicaScript"),
      workers: 2,
      options: { ...opts, failStep: { rank: 1, step: 1 } },
    });
    try {
      const b = batch(8);
      await dp.step(b.x, b.y);
      await expect(dp.step(b.x, b.y)).rejects.toThrow(/replica 1: .*loss failed on purpose at step 1/);
      await expect(dp.step(b.x, b.y)).rejects.toThrow(/loss failed on purpose/);
    } finally {
      await dp.close();
    }
  });
});
