import { type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { BatchNorm1d, GhostBatchNorm } from "./index";
import { randomValues, refBatchNorm } from "./test-helpers";

const read = async (t: Tensor | null) => Array.from(await t!.data());

describeBackends("GhostBatchNorm", (backend) => {
  const tol = tolerance(backend);

  it("normalizes every virtual batch with its own statistics; running stats update per virtual batch", async () => {
    const shape = [6, 2, 3];
    const xs = randomValues(36, 17, 3, 1);
    const gbn = new GhostBatchNorm(2, { virtualBatchSize: 2 });
    gbn.weight!.assign(tensor([2, 0.5]));
    gbn.bias!.assign(tensor([-1, 1]));
    const y = await read(gbn.call(tensor(xs, shape)));
    const want: number[] = [];
    let rm = [0, 0];
    let rv = [1, 1];
    for (let k = 0; k < 3; k++) {
      const part = xs.slice(k * 12, (k + 1) * 12);
      const ref = refBatchNorm(part, [2, 2, 3], 1e-5, [2, 0.5], [-1, 1]);
      want.push(...ref.y);
      rm = rm.map((m, c) => 0.9 * m + 0.1 * ref.mean[c]);
      rv = rv.map((v, c) => 0.9 * v + 0.1 * ref.varUnbiased[c]);
    }
    expectClose(y, want, tol, "y");
    expectClose(await read(gbn.runningMean), rm, tol, "runningMean");
    expectClose(await read(gbn.runningVar), rv, tol, "runningVar");
    expect(await read(gbn.numBatchesTracked)).toEqual([3]);
    gbn.eval();
    const ye = await read(gbn.call(tensor(xs.slice(0, 6), [1, 2, 3])));
    expectClose(
      ye,
      xs.slice(0, 6).map((v, i) => {
        const c = Math.floor(i / 3);
        return ((v - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * [2, 0.5][c] + [-1, 1][c];
      }),
      tol,
      "eval",
    );
    gbn.dispose();
  });

  it("a virtual batch as large as the batch equals BatchNorm", async () => {
    const xs = randomValues(20, 3);
    const g = new GhostBatchNorm(4, { virtualBatchSize: 5 });
    const b = new BatchNorm1d(4);
    expectClose(await read(g.call(tensor(xs, [5, 4]))), await read(b.call(tensor(xs, [5, 4]))), tol, "y");
    expectClose(await read(g.runningVar), await read(b.runningVar), tol, "runningVar");
  });

  it("errors unless the batch divides evenly", () => {
    const g = new GhostBatchNorm(2, { virtualBatchSize: 4 });
    expect(() => g.call(tensor(new Float32Array(20), [10, 2]))).toThrow(
      /batch size 10 is not a multiple of virtualBatchSize 4/,
    );
    expect(() => new GhostBatchNorm(2, { virtualBatchSize: 0 })).toThrow(/virtualBatchSize/);
  });

  it("gradients match finite differences (4D input)", async () => {
    const g = new GhostBatchNorm(2, { virtualBatchSize: 2, trackRunningStats: false });
    g.weight!.assign(tensor([1.5, -0.5]));
    await gradCheck((x: Tensor) => g.call(x), [{ values: randomValues(32, 4, 2), shape: [4, 2, 2, 2] }]);
  });
});
