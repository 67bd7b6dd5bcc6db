import { type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { BatchNorm1d, BatchRenorm, batchNorm } from "./index";
import { randomValues, refBatchNorm } from "./test-helpers";

const read = async (t: Tensor | null) => Array.from(await t!.data());
const X = [1, 2, 3, 4, 5, 9]; // [3, 2]: channel 0 = [1, 3, 5], channel 1 = [2, 4, 9]

describeBackends("BatchRenorm", (backend) => {
  const tol = tolerance(backend);

  it("with rmax = 1 and dmax = 0 equals plain BatchNorm: outputs, running stats, gradients", async () => {
    const rn = new BatchRenorm(3, { rmax: 1, dmax: 0 });
    const bn = new BatchNorm1d(3);
    for (const m of [rn, bn]) {
      m.weight!.assign(tensor([1.5, -0.5, 2]));
      m.bias!.assign(tensor([0.1, 0.2, 0.3]));
    }
    for (let step = 0; step < 3; step++) {
      const xs = randomValues(4 * 3 * 2, 40 + step, 2, step);
      const dy = tensor(randomValues(24, 50 + step), [4, 3, 2]);
      const outs: number[][] = [];
      const grads: number[][] = [];
      for (const m of [rn, bn]) {
        const x = tensor(xs, [4, 3, 2], { requiresGrad: true });
        m.zeroGrad();
        const y = m.call(x);
        y.mul(dy).sum().backward();
        outs.push(await read(y));
        grads.push([...(await read(x.grad)), ...(await read(m.weight!.grad)), ...(await read(m.bias!.grad))]);
      }
      expectClose(outs[0], outs[1], tol, `step ${step} y`);
      expectClose(grads[0], grads[1], { rtol: 1e-4, atol: 1e-5 }, `step ${step} grads`);
      expectClose(await read(rn.runningMean), await read(bn.runningMean), tol, "runningMean");
      expectClose(await read(rn.runningVar), await read(bn.runningVar), tol, "runningVar");
    }
    rn.dispose();
    bn.dispose();
  });

  it("clips r and d against the running statistics before the update (hand-derived)", async () => {
    const rn = new BatchRenorm(2, { rmax: 3, dmax: 5 });
    rn.runningVar!.assign(tensor([100, 0.25]));
    rn.runningMean!.assign(tensor([0, 4]));
    const eps = 1e-5;
    const sb = [Math.sqrt(8 / 3 + eps), Math.sqrt(26 / 3 + eps)];
    const sigma = [Math.sqrt(100 + eps), Math.sqrt(0.25 + eps)];
    // channel 0: r = 0.163 -> 1/3, d = 0.3; channel 1: r = 5.89 -> 3, d = 2.
    const r = [1 / 3, 3];
    const d = [3 / sigma[0], 1 / sigma[1]];
    expect(sb[0] / sigma[0]).toBeLessThan(1 / 3);
    const ref = refBatchNorm(X, [3, 2], eps);
    const y = rn.call(tensor(X, [3, 2]));
    expectClose(
      await read(y),
      ref.y.map((v, i) => v * r[i % 2] + d[i % 2]),
      tol,
      "y",
    );
    // The update then proceeds as in BatchNorm.
    expectClose(await read(rn.runningMean), [0.3, 0.9 * 4 + 0.5], tol, "runningMean");
    rn.dmax = 0.1; // relaxing / tightening is an attribute assignment
    rn.runningMean!.assign(tensor([0, 4]));
    rn.runningVar!.assign(tensor([100, 0.25]));
    const y2 = await read(rn.call(tensor(X, [3, 2])));
    expectClose(
      y2,
      ref.y.map((v, i) => v * r[i % 2] + 0.1),
      tol,
      "d clipped to dmax",
    );
    rn.dispose();
  });

  it("r and d carry no gradient: dx is BatchNorm's with weight * r", async () => {
    const rn = new BatchRenorm(2, { rmax: 3, dmax: 5 });
    rn.runningVar!.assign(tensor([100, 0.25]));
    rn.weight!.assign(tensor([2, -1]));
    const x = tensor(X, [3, 2], { requiresGrad: true });
    const dy = tensor([0.5, -1, 2, 0.25, -0.75, 1.5], [3, 2]);
    rn.call(x).mul(dy).sum().backward();
    const x2 = tensor(X, [3, 2], { requiresGrad: true });
    batchNorm(x2, null, null, { training: true, weight: tensor([2 / 3, -3]) })
      .mul(dy)
      .sum()
      .backward();
    expectClose(await read(x.grad), await read(x2.grad), tol, "dx");
    rn.dispose();
  });

  it("eval uses the running statistics; wrong rank errors", async () => {
    const rn = new BatchRenorm(2);
    rn.call(tensor(X, [3, 2]));
    rn.eval();
    const y = await read(rn.call(tensor([[0.3, 0.5]])));
    expectClose(y, [0, 0], tol, "x = running mean gives 0");
    expect(() => rn.call(tensor([1, 2]))).toThrow(
      "BatchRenorm: expected 2D, 3D, 4D or 5D input (got 1D input",
    );
    rn.dispose();
  });
});
