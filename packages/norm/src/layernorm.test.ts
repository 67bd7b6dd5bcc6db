import { memory, noGrad, type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { LayerNorm, RMSNorm } from "./index";
import { randomValues, refRows } from "./test-helpers";

const read = async (t: Tensor | null) => Array.from(await t!.data());

describeBackends("LayerNorm", (backend) => {
  const tol = tolerance(backend);

  it("normalizes the trailing normalizedShape axes with elementwise weight and bias", async () => {
    const xs = randomValues(2 * 3 * 2 * 4, 1, 3, 2);
    const w = randomValues(8, 2, 1, 1);
    const b = randomValues(8, 3);
    const ln = new LayerNorm([2, 4]);
    ln.weight!.assign(tensor(w, [2, 4]));
    ln.bias!.assign(tensor(b, [2, 4]));
    const y = await read(ln.call(tensor(xs, [2, 3, 2, 4])));
    expectClose(
      y,
      refRows(xs, 8, 1e-5).map((v, i) => v * w[i % 8] + b[i % 8]),
      tol,
      "y",
    );
    // Hand-derived: [1, 2, 3] -> mean 2, var 2/3.
    const h = await read(new LayerNorm(3).call(tensor([[1, 2, 3]])));
    const k = Math.sqrt(2 / 3 + 1e-5);
    expectClose(h, [-1 / k, 0, 1 / k], tol, "hand");
  });

  it("options: no affine, no bias; one element normalizes to the bias", async () => {
    expect(new LayerNorm(4, { elementwiseAffine: false }).parameters()).toEqual([]);
    expect(Object.keys(new LayerNorm(4, { bias: false }).stateDict())).toEqual(["weight"]);
    const ln = new LayerNorm(1);
    ln.bias!.assign(tensor([0.5]));
    expectClose(await read(ln.call(tensor([[3], [-7]]))), [0.5, 0.5], tol, "D = 1");
  });

  it("errors when the trailing shape does not match", () => {
    expect(() => new LayerNorm([2, 3]).call(tensor(new Float32Array(8), [2, 4]))).toThrow(
      "LayerNorm: given normalizedShape=[2, 3], expected input with shape [*, 2, 3], got [2, 4]",
    );
  });

  it("gradients match finite differences (input, weight, bias)", async () => {
    const ln = new LayerNorm(5);
    const x = tensor(randomValues(15, 4, 2), [3, 5], { requiresGrad: true });
    const dy = randomValues(15, 8);
    ln.call(x)
      .mul(tensor(dy, [3, 5]))
      .sum()
      .backward();
    const xhat = refRows(randomValues(15, 4, 2), 5, 1e-5);
    const dbeta = [0, 1, 2, 3, 4].map((j) => dy.filter((_, i) => i % 5 === j).reduce((a, c) => a + c, 0));
    const dgamma = [0, 1, 2, 3, 4].map((j) => dy.reduce((a, d, i) => a + (i % 5 === j ? d * xhat[i] : 0), 0));
    expectClose(await read(ln.bias!.grad), dbeta, tol, "dbeta");
    expectClose(await read(ln.weight!.grad), dgamma, { rtol: 1e-4, atol: 1e-5 }, "dgamma");
    await gradCheck((xx: Tensor) => ln.call(xx), [{ values: randomValues(15, 4, 2), shape: [3, 5] }]);
  });

  it("leaves nothing behind under noGrad", () => {
    const ln = new LayerNorm(4);
    const x = tensor(randomValues(8, 1), [2, 4]);
    const before = memory().tensors;
    noGrad(() => ln.call(x).dispose());
    tidy(() => {
      ln.call(x);
    });
    expect(memory().tensors).toBe(before);
  });
});

describeBackends("RMSNorm", (backend) => {
  const tol = tolerance(backend);

  it("divides by the root mean square; eps defaults to float32 machine epsilon", async () => {
    const rms = new RMSNorm(4);
    expect(rms.eps).toBeNull();
    rms.weight!.assign(tensor([1, 2, 3, 4]));
    const xs = randomValues(12, 9, 2);
    const y = await read(rms.call(tensor(xs, [3, 4])));
    const want = xs.map((v, i) => {
      const row = xs.slice(Math.floor(i / 4) * 4, Math.floor(i / 4) * 4 + 4);
      return (v / Math.sqrt(row.reduce((a, b) => a + b * b, 0) / 4 + 2 ** -23)) * (1 + (i % 4));
    });
    expectClose(y, want, tol, "y");
    // Hand-derived: [3, 4] -> rms sqrt(12.5).
    expectClose(
      await read(new RMSNorm(2, { eps: 0 }).call(tensor([[3, 4]]))),
      [3 / Math.sqrt(12.5), 4 / Math.sqrt(12.5)],
      tol,
      "hand",
    );
    expect(Object.keys(rms.stateDict())).toEqual(["weight"]);
  });

  it("gradients match finite differences", async () => {
    const rms = new RMSNorm([2, 3], { eps: 1e-6 });
    await gradCheck((x: Tensor) => rms.call(x), [{ values: randomValues(12, 3, 2, 0.5), shape: [2, 2, 3] }]);
    expect(() => rms.call(tensor(new Float32Array(6), [3, 2]))).toThrow(/normalizedShape=\[2, 3\]/);
  });
});
