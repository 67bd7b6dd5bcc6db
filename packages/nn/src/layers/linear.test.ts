import { Generator, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { f32, matmul, stats, transpose, values } from "../../test/reference";
import { Linear } from "./linear";

describeBackends("Linear", (backend) => {
  const tol = tolerance(backend);

  it("computes x W^T + b and its gradients against a float64 reference", async () => {
    const [n, i, o] = [3, 4, 5];
    const lin = new Linear(i, o, { generator: new Generator(7) });
    const W = Array.from(await lin.weight.data());
    const b = Array.from(await lin.bias!.data());
    const xv = f32(values(n * i, 3));
    const gv = f32(values(n * o, 9));
    const x = tensor(xv, [n, i], { requiresGrad: true });
    await tidy(async () => {
      const y = lin.call(x);
      expect(y.shape).toEqual([n, o]);
      const ref = matmul(xv, transpose(W, o, i), n, i, o).map((v, k) => v + b[k % o]);
      expectClose(await y.data(), ref, tol, "y");
      y.backward(tensor(gv, [n, o]));
      // dW = g^T x, db = sum over rows of g, dx = g W.
      expectClose(await lin.weight.grad!.data(), matmul(transpose(gv, n, o), xv, o, n, i), tol, "dW");
      const db = new Array(o).fill(0);
      for (let k = 0; k < gv.length; k++) db[k % o] += gv[k];
      expectClose(await lin.bias!.grad!.data(), db, tol, "db");
      expectClose(await x.grad!.data(), matmul(gv, W, n, o, i), tol, "dx");
    });
    x.grad?.dispose();
    x.dispose();
    lin.dispose();
  });

  it("broadcasts over leading dims and works without bias", async () => {
    const lin = new Linear(3, 2, { bias: false, generator: new Generator(1) });
    expect(lin.bias).toBeNull();
    expect(Object.keys(lin.stateDict())).toEqual(["weight"]);
    const W = Array.from(await lin.weight.data());
    const xv = f32(values(2 * 4 * 3, 5));
    const y = lin.forward(tensor(xv, [2, 4, 3]));
    expect(y.shape).toEqual([2, 4, 2]);
    expectClose(await y.data(), matmul(xv, transpose(W, 2, 3), 8, 3, 2), tol);
    lin.dispose();
  });

  it("passes a finite-difference gradient check", async () => {
    const lin = new Linear(3, 2, { generator: new Generator(2) });
    const w = { values: Array.from(await lin.weight.data()), shape: [2, 3] };
    const b = { values: Array.from(await lin.bias!.data()), shape: [2] };
    await gradCheck(
      (x, wt, bias) => x.matmul(wt.T).add(bias).tanh(),
      [{ values: values(6, 4), shape: [2, 3] }, w, b],
    );
    lin.dispose();
  });

  it("uses PyTorch's default init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias", async () => {
    const lin = new Linear(64, 200, { generator: new Generator(3) });
    const bound = 1 / 8;
    const w = stats(await lin.weight.data());
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    // U(-a, a) has std a / sqrt(3).
    expect(w.std).toBeCloseTo(bound / Math.sqrt(3), 2);
    expect(Math.abs(w.mean)).toBeLessThan(0.005);
    const b = stats(await lin.bias!.data());
    expect(b.min).toBeGreaterThanOrEqual(-bound);
    expect(b.max).toBeLessThanOrEqual(bound);
    // The same generator seed gives the same weights.
    const again = new Linear(64, 200, { generator: new Generator(3) });
    expect(Array.from(await again.weight.data())).toEqual(Array.from(await lin.weight.data()));
    lin.dispose();
    again.dispose();
  });

  it("rejects a wrong input width with the expected shape", () => {
    const lin = new Linear(3, 2);
    expect(() => lin.forward(tensor([[1, 2]]))).toThrow(/last dimension 3/);
    expect(() => new Linear(0, 2)).toThrow(/inFeatures must be a positive integer/);
    expect(lin.toString()).toBe("Linear(inFeatures=3, outFeatures=2, bias=true)");
    lin.dispose();
  });
});
