import { memory, type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { clipGradNorm, clipGradValue } from "./clip";

const G1 = [3, -4];
const G2 = [1, 2, -2, 0.5];
const ALL = [...G1, ...G2];

function params(): Tensor[] {
  const a = tensor([0, 0], { requiresGrad: true });
  const b = tensor([0, 0, 0, 0], [2, 2], { requiresGrad: true });
  const none = tensor([5, 5], { requiresGrad: true }); // no gradient: ignored
  a.grad = tensor(G1);
  b.grad = tensor(G2, [2, 2]);
  return [a, b, none];
}

describeBackends("clipGradNorm", (backend) => {
  const tol = tolerance(backend);
  const norms: [string, number, number][] = [
    ["2", 2, Math.sqrt(ALL.reduce((s, g) => s + g * g, 0))],
    ["1", 1, ALL.reduce((s, g) => s + Math.abs(g), 0)],
    ["3", 3, ALL.reduce((s, g) => s + Math.abs(g) ** 3, 0) ** (1 / 3)],
    ["inf", Number.POSITIVE_INFINITY, 4],
  ];
  for (const [name, normType, total] of norms) {
    it(`returns the total ${name}-norm and scales the gradients by maxNorm/(total + 1e-6)`, async () => {
      const ps = params();
      const norm = clipGradNorm(ps, 1.5, normType);
      expect(norm.shape).toEqual([]);
      expectClose([await norm.item()], [total], tol, "total norm");
      const coef = 1.5 / (total + 1e-6);
      expectClose(
        await ps[0].grad!.data(),
        G1.map((g) => g * coef),
        tol,
        "first gradient",
      );
      expectClose(
        await ps[1].grad!.data(),
        G2.map((g) => g * coef),
        tol,
        "second gradient",
      );
      expect(ps[2].grad).toBeNull();
    });
  }

  it("leaves gradients below maxNorm unchanged", async () => {
    const ps = params();
    const norm = clipGradNorm(ps, 100);
    expectClose([await norm.item()], [Math.sqrt(34.25)], tol);
    expect(Array.from(await ps[0].grad!.data())).toEqual(G1);
    expect(Array.from(await ps[1].grad!.data())).toEqual(G2);
  });

  it("keeps the gradient tensors and leaks nothing but the returned norm", () => {
    const ps = params();
    const grad = ps[0].grad;
    const before = memory();
    const norm = clipGradNorm(ps, 1);
    expect(ps[0].grad).toBe(grad);
    expect(memory().tensors).toBe(before.tensors + 1);
    expect(memory().bytes).toBe(before.bytes + 4);
    norm.dispose();
  });

  it("returns 0 without gradients and validates its arguments", async () => {
    expect(await clipGradNorm([tensor([1], { requiresGrad: true })], 1).item()).toBe(0);
    expect(() => clipGradNorm(params(), -1)).toThrow(
      "clipGradNorm: invalid maxNorm = -1 (expected a number >= 0)",
    );
    expect(() => clipGradNorm(params(), 1, 0)).toThrow(/invalid normType = 0/);
    expect(() => clipGradNorm(params(), 1, 2, { error_if_nonfinite: true } as never)).toThrow(
      /unknown option 'error_if_nonfinite' in the options; did you mean 'errorIfNonfinite'\?/,
    );
  });

  it("does not overflow for gradients near 1e30 (scales before squaring)", async () => {
    for (const normType of [2, 1, 3]) {
      const p = tensor([0, 0, 0], { requiresGrad: true });
      p.grad = tensor([3e30, -4e30, 0]);
      const norm = clipGradNorm([p], 1, normType);
      const want = (3 ** normType + 4 ** normType) ** (1 / normType) * 1e30;
      expect(Math.abs((await norm.item()) - want) / want).toBeLessThan(1e-5);
      const g = Array.from(await p.grad!.data());
      expect(g[0]).toBeCloseTo((3e30 / want) * 1, 5);
      expect(g[1]).toBeCloseTo((-4e30 / want) * 1, 5);
      norm.dispose();
    }
  });

  it("errorIfNonfinite throws before changing any gradient", async () => {
    const p = tensor([0, 0], { requiresGrad: true });
    p.grad = tensor([Number.POSITIVE_INFINITY, 1]);
    const q = tensor([0], { requiresGrad: true });
    q.grad = tensor([5]);
    const before = memory().tensors;
    if (backend === "cpu") {
      expect(() => clipGradNorm([p, q], 1, 2, { errorIfNonfinite: true })).toThrow(
        /clipGradNorm: the total norm of order 2 of the gradients is (Infinity|NaN), so they cannot be clipped/,
      );
    } else {
      expect(() => clipGradNorm([p, q], 1, 2, { errorIfNonfinite: true })).toThrow(
        /needs a synchronous read/,
      );
    }
    expect(memory().tensors).toBe(before);
    expect(Array.from(await q.grad!.data())).toEqual([5]);
    const p2 = tensor([0], { requiresGrad: true });
    p2.grad = tensor([3e30]);
    if (backend === "cpu") clipGradNorm([p2], 1, 2, { errorIfNonfinite: true }).dispose();
  });
});

describeBackends("clipGradValue", () => {
  it("clamps every gradient to [-clipValue, clipValue]", async () => {
    const ps = params();
    clipGradValue(ps, 1.5);
    expect(Array.from(await ps[0].grad!.data())).toEqual([1.5, -1.5]);
    expect(Array.from(await ps[1].grad!.data())).toEqual([1, 1.5, -1.5, 0.5]);
    expect(() => clipGradValue(ps, -1)).toThrow(
      "clipGradValue: invalid clipValue = -1 (expected a number >= 0)",
    );
  });
});
