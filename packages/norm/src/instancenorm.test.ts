import { type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { InstanceNorm1d, InstanceNorm2d } from "./index";
import { randomValues, refRows } from "./test-helpers";

const read = async (t: Tensor | null) => Array.from(await t!.data());

describeBackends("InstanceNorm", (backend) => {
  const tol = tolerance(backend);

  it("normalizes every (sample, channel) over positions; PyTorch defaults: no affine, no tracking", async () => {
    const inorm = new InstanceNorm2d(3);
    expect(inorm.parameters()).toEqual([]);
    expect(inorm.buffers()).toEqual([]);
    const xs = randomValues(2 * 3 * 2 * 3, 8, 2, 1);
    const y = await read(inorm.call(tensor(xs, [2, 3, 2, 3])));
    expectClose(y, refRows(xs, 6, 1e-5), tol, "y");
    // Unbatched (C, H, W) input is one sample.
    expectClose(
      await read(inorm.call(tensor(xs.slice(0, 18), [3, 2, 3]))),
      refRows(xs.slice(0, 18), 6, 1e-5),
      tol,
      "unbatched",
    );
  });

  it("with tracking, running stats blend the batch average of per-instance statistics; eval uses them", async () => {
    const inorm = new InstanceNorm1d(2, { trackRunningStats: true, affine: true });
    // Hand-derived instances: [1, 3] (mean 2, unbiased var 2), [0, 4] (2, 8); [2, 2] (2, 0), [5, 9] (7, 8).
    const x = tensor([1, 3, 0, 4, 2, 2, 5, 9], [2, 2, 2]);
    inorm.call(x);
    expectClose(await read(inorm.runningMean), [0.1 * 2, 0.1 * 4.5], tol, "runningMean");
    expectClose(await read(inorm.runningVar), [0.9 + 0.1 * 1, 0.9 + 0.1 * 8], tol, "runningVar");
    inorm.eval();
    const ye = await read(
      inorm.call(
        tensor([
          [
            [0.2, 1.2],
            [0.45, 0.45],
          ],
        ]),
      ),
    );
    expectClose(ye, [0, 1 / Math.sqrt(1 + 1e-5), 0, 0], tol, "eval");
  });

  it("errors on one spatial element in training and on the wrong rank", () => {
    const inorm = new InstanceNorm1d(2);
    expect(() => inorm.call(tensor([1, 2, 3, 4], [2, 2, 1]))).toThrow(/more than 1 spatial element/);
    expect(() => inorm.call(tensor(new Float32Array(16), [2, 2, 2, 2]))).toThrow(
      "InstanceNorm1d: expected 2D or 3D input (got 4D input",
    );
  });

  it("gradients match finite differences", async () => {
    const inorm = new InstanceNorm1d(2, { affine: true });
    inorm.weight!.assign(tensor([2, -1]));
    await gradCheck((x: Tensor) => inorm.call(x), [{ values: randomValues(12, 6, 2), shape: [2, 2, 3] }]);
  });
});
