import "@minibatch/backend-cpu";
import { BatchNorm1d, BatchNorm2d } from "@minibatch/norm";
import { concat, memory, type Tensor, tensor, tidy } from "@minibatch/tensor";
import { gradCheck } from "@minibatch/testing";
import { describe, expect, it } from "vitest";
import { type Collective, type CollectiveArray, type ReduceOp, SingleCollective } from "./collective";
import { SyncBatchNorm, setSyncGroup } from "./sync-batchnorm";

/** A group of two whose other rank holds exactly this rank's data (its sums double). */
class MirrorCollective implements Collective {
  readonly rank = 0;
  readonly worldSize = 2;
  calls = 0;
  allReduce(data: CollectiveArray, op: ReduceOp = "sum"): void {
    this.calls++;
    if (op === "sum") for (let i = 0; i < data.length; i++) data[i] *= 2;
  }
  broadcast(): void {}
  barrier(): void {}
}

const x2d = [
  [1, 2, -3],
  [4, 0.5, 6],
  [7, 8, 10],
  [-2, 3, 1],
];

async function values(t: Tensor | null): Promise<number[]> {
  return [...((await t!.data()) as Float32Array)];
}

describe("SyncBatchNorm", () => {
  it("over a mirrored rank equals BatchNorm1d on the doubled batch: output, input gradient, running stats", async () => {
    const group = new MirrorCollective();
    const sync = new SyncBatchNorm(3, { group, momentum: 0.3 });
    const bn = new BatchNorm1d(3, { momentum: 0.3 });
    const dyv = [
      [0.3, -1, 2],
      [1, 0.2, -0.5],
      [0.7, 0.1, 0.4],
      [-0.6, 2, 1],
    ];
    const xs = tensor(x2d, undefined, { requiresGrad: true });
    const xb = tensor(x2d, undefined, { requiresGrad: true });
    const dy = tensor(dyv);
    const ys = sync.call(xs);
    tidy(() => ys.mul(dy).sum().backward());
    const yb = bn.call(concat([xb, xb], 0));
    tidy(() =>
      yb
        .mul(concat([dy, dy], 0))
        .sum()
        .backward(),
    );
    const yRef = (await values(yb)).slice(0, 12);
    (await values(ys)).forEach((v, i) => {
      expect(v).toBeCloseTo(yRef[i], 5);
    });
    // Each copy of x in the doubled batch gets the local gradient; the rank holds one of them.
    const gRef = await values(xb.grad);
    (await values(xs.grad)).forEach((v, i) => {
      expect(v).toBeCloseTo(gRef[i] / 2, 5);
    });
    // Weight and bias gradients stay local: half of the doubled batch's.
    const wRef = await values(bn.weight!.grad);
    (await values(sync.weight!.grad)).forEach((v, i) => {
      expect(v).toBeCloseTo(wRef[i] / 2, 5);
    });
    const bRef = await values(bn.bias!.grad);
    (await values(sync.bias!.grad)).forEach((v, i) => {
      expect(v).toBeCloseTo(bRef[i] / 2, 5);
    });
    // Running variance is the unbiased variance of all 8 values, as in PyTorch.
    (await values(sync.runningMean)).forEach(async (v, i) =>
      expect(v).toBeCloseTo((await values(bn.runningMean))[i], 5),
    );
    const rvRef = await values(bn.runningVar);
    (await values(sync.runningVar)).forEach((v, i) => {
      expect(v).toBeCloseTo(rvRef[i], 5);
    });
    expect(group.calls).toBe(2); // statistics in forward, gradient sums in backward
    expect((await sync.numBatchesTracked!.data())[0]).toBe(1);
  });

  it("(N, C, H, W) input with momentum null matches BatchNorm2d", async () => {
    const vals = Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 3));
    const x = tensor(Float32Array.from(vals), [2, 3, 2, 2]);
    const sync = new SyncBatchNorm(3, { group: new SingleCollective(), momentum: null });
    const bn = new BatchNorm2d(3, { momentum: null });
    const a = await values(sync.call(x));
    const b = await values(bn.call(x));
    a.forEach((v, i) => {
      expect(v).toBeCloseTo(b[i], 5);
    });
    const ra = await values(sync.runningVar);
    (await values(bn.runningVar)).forEach((v, i) => {
      expect(ra[i]).toBeCloseTo(v, 5);
    });
  });

  it("passes a finite-difference gradient check of input, weight and bias", async () => {
    const sync = new SyncBatchNorm(3, { group: new SingleCollective(), trackRunningStats: false });
    const err = await gradCheck(
      (x: Tensor, w: Tensor, b: Tensor) => {
        // The layer reads its parameters when called: hand it the checked tensors themselves.
        sync.weight = w;
        sync.bias = b;
        return sync.call(x);
      },
      [x2d.flat().map((v) => v * 0.7), [1.5, 0.5, -1], [0.1, -0.2, 0.3]].map((v, i) => ({
        values: v,
        shape: i === 0 ? [4, 3] : [3],
      })),
    );
    expect(err).toBeLessThan(2e-2);
  });

  it("eval mode normalizes with the running statistics and does not communicate", async () => {
    const group = new MirrorCollective();
    const sync = new SyncBatchNorm(3, { group });
    sync.eval();
    const y = await values(sync.call(tensor(x2d)));
    // Fresh running stats (mean 0, var 1): y = x / sqrt(1 + eps).
    y.forEach((v, i) => {
      expect(v).toBeCloseTo(x2d.flat()[i] / Math.sqrt(1 + 1e-5), 5);
    });
    expect(group.calls).toBe(0);
  });

  it("leaves no tensors behind outside tidy", () => {
    const sync = new SyncBatchNorm(3, { group: new SingleCollective() });
    const x = tensor(x2d);
    const before = memory().tensors;
    tidy(() => sync.call(x)).dispose();
    expect(memory().tensors).toBe(before);
    // With autograd recording, backward inside tidy leaves only the parameters' gradients.
    const xg = tensor(x2d, undefined, { requiresGrad: true });
    const before2 = memory().tensors;
    tidy(() => sync.call(xg).square().sum().backward());
    expect(memory().tensors).toBe(before2 + 3); // x.grad, weight.grad, bias.grad
  });

  it("setSyncGroup finds every SyncBatchNorm; errors name what was expected", () => {
    const a = new SyncBatchNorm(3);
    expect(setSyncGroup(a, new SingleCollective())).toBe(1);
    expect(a.group).not.toBeNull();
    expect(() => new SyncBatchNorm(3, { grup: null } as never)).toThrow(/unknown option 'grup'/);
    expect(() => new SyncBatchNorm(3, { convention: "keras" })).toThrow(/only the PyTorch convention/);
    expect(() => a.call(tensor([[1, 2]]))).toThrow(
      /expected 3 channels on axis 1, got input of shape \[1, 2\]/,
    );
    expect(() => a.call(tensor([[1, 2, 3]]))).toThrow(/more than 1 value per channel/);
  });
});
