import type { Tensor } from "@minibatch/tensor";
import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance, gradCheck } from "../index";
import { fill } from "./reference";

/** An input spec: values in a range chosen away from the op's kinks. */
const inp = (shape: number[], seed: number, lo = -1, hi = 1) => ({
  values: fill(
    shape.reduce((a, b) => a * b, 1),
    seed,
    lo,
    hi,
  ),
  shape,
});

// Every differentiable op, checked against central finite differences. Inputs avoid points where
// the op is not differentiable (0 for abs/relu, ties for max/min).
const CASES: [string, (...xs: Tensor[]) => Tensor, ReturnType<typeof inp>[]][] = [
  ["neg", mb.neg, [inp([2, 3], 1)]],
  ["abs", mb.abs, [inp([2, 3], 2, 0.2, 1)]],
  ["exp", mb.exp, [inp([2, 3], 3)]],
  ["log", mb.log, [inp([2, 3], 4, 0.5, 2)]],
  ["log1p", mb.log1p, [inp([2, 3], 62, -0.5, 2)]],
  ["expm1", mb.expm1, [inp([2, 3], 63)]],
  ["sqrt", mb.sqrt, [inp([2, 3], 5, 0.5, 2)]],
  ["rsqrt", mb.rsqrt, [inp([2, 3], 6, 0.5, 2)]],
  ["relu", mb.relu, [inp([2, 3], 7, 0.2, 1)]],
  ["sigmoid", mb.sigmoid, [inp([2, 3], 8)]],
  ["tanh", mb.tanh, [inp([2, 3], 9)]],
  ["gelu", mb.gelu, [inp([2, 3], 10, -2, 2)]],
  ["clamp", (x) => mb.clamp(x, -0.5, 0.5), [{ values: [-0.9, -0.3, 0.1, 0.4, 0.8, -0.7], shape: [6] }]],
  ["add (broadcast)", mb.add, [inp([2, 3], 11), inp([3], 12)]],
  ["sub (broadcast)", mb.sub, [inp([2, 1], 13), inp([2, 3], 14)]],
  ["mul (broadcast)", mb.mul, [inp([2, 3], 15), inp([1, 3], 16)]],
  ["div (broadcast)", mb.div, [inp([2, 3], 17), inp([3], 18, 0.5, 2)]],
  ["pow", mb.pow, [inp([2, 3], 19, 0.5, 2), inp([3], 20, -1, 2)]],
  // explicit values keep every pair further apart than the finite-difference step
  [
    "maximum",
    mb.maximum,
    [
      { values: [-0.9, -0.3, 0.2, 0.6, 0.9, -0.5], shape: [2, 3] },
      { values: [0.1, -0.6, 0.5], shape: [3] },
    ],
  ],
  [
    "minimum",
    mb.minimum,
    [
      { values: [-0.9, -0.3, 0.2, 0.6, 0.9, -0.5], shape: [2, 3] },
      { values: [0.1, -0.6, 0.5], shape: [3] },
    ],
  ],
  ["where", (a, b) => mb.where(mb.gt(a, 0), a, b), [inp([2, 3], 25), inp([3], 26)]],
  ["sum over [0, 2]", (x) => mb.sum(x, [0, 2]), [inp([2, 3, 2], 27)]],
  ["mean over 1 keepDims", (x) => mb.mean(x, 1, true), [inp([2, 3, 2], 28)]],
  ["max over 1", (x) => mb.max(x, 1), [inp([2, 4], 29)]],
  ["min over all", (x) => mb.min(x), [inp([2, 4], 30)]],
  ["var (unbiased) over 0", (x) => mb.variance(x, 0), [inp([4, 3], 31)]],
  ["std over 1", (x) => mb.std(x, 1), [inp([3, 4], 32)]],
  ["softmax", (x) => mb.softmax(x, 1), [inp([2, 4], 33, -2, 2)]],
  ["logSoftmax", (x) => mb.logSoftmax(x, 0), [inp([3, 2], 34, -2, 2)]],
  ["logSumExp", (x) => mb.logSumExp(x, 1), [inp([2, 4], 35, -2, 2)]],
  ["matmul", mb.matmul, [inp([3, 4], 36), inp([4, 2], 37)]],
  ["matmul batched broadcast", mb.matmul, [inp([2, 2, 3], 38), inp([3, 2], 39)]],
  ["matmul vector", mb.matmul, [inp([3], 40), inp([3, 2], 41)]],
  ["permute", (x) => mb.permute(x, [2, 0, 1]), [inp([2, 3, 2], 42)]],
  ["transpose", (x) => mb.transpose(x), [inp([2, 3], 43)]],
  ["reshape", (x) => mb.reshape(x, [3, 2]), [inp([2, 3], 44)]],
  ["expand", (x) => mb.expand(x, [2, 3, 4]), [inp([3, 1], 45)]],
  ["slice", (x) => mb.slice(x, [1, 0], [2, 2]), [inp([3, 3], 46)]],
  ["concat", (a, b) => mb.concat([a, b], 1), [inp([2, 2], 47), inp([2, 3], 48)]],
  ["stack", (a, b) => mb.stack([a, b], 0), [inp([2, 2], 49), inp([2, 2], 50)]],
  ["split", (x) => mb.split(x, [1, 2], 1)[1], [inp([2, 3], 51)]],
  ["indexSelect (repeated indices)", (x) => mb.indexSelect(x, 0, [2, 0, 2]), [inp([3, 2], 52)]],
  [
    "conv2d",
    (x, w) => mb.conv2d(x, w, null, { stride: 2, padding: 1 }),
    [inp([1, 2, 5, 4], 53), inp([3, 2, 3, 3], 54)],
  ],
  [
    "conv2d groups + dilation",
    (x, w) => mb.conv2d(x, w, null, { dilation: 2, groups: 2, padding: 1 }),
    [inp([1, 4, 5, 5], 55), inp([2, 2, 2, 2], 56)],
  ],
  ["maxPool2d", (x) => mb.maxPool2d(x, 2), [inp([1, 2, 4, 4], 57)]],
  ["avgPool2d padded", (x) => mb.avgPool2d(x, 3, { stride: 2, padding: 1 }), [inp([1, 1, 5, 5], 58)]],
  [
    "batchNormTrain (fused)",
    (x, g, b) => mb.batchNormTrain(x, g, b).y,
    [inp([3, 2, 2], 59, -2, 3), inp([2], 60, 0.5, 1.5), inp([2], 61)],
  ],
];

describeConformance("conformance: gradients vs finite differences", (backend) => {
  // Finite differences in float32 need a larger step on the less exact GPU math.
  const opts = backend === "cpu" ? {} : { eps: 2e-2, rtol: 4e-2, atol: 4e-3 };
  for (const [name, f, inputs] of CASES) {
    it(name, async () => {
      expect(await gradCheck(f, inputs, opts)).toBeLessThanOrEqual(1);
    });
  }

  it("gradients accumulate across backward calls and through reused tensors", async () => {
    const x = mb.tensor([1, 2, 3], { requiresGrad: true });
    mb.mul(x, x).sum().backward(); // 2x
    mb.mul(x, 3).add(x).sum().backward(); // 4
    expect(await x.grad!.toArray()).toEqual([6, 8, 10]);
  });

  it("batch-norm dx sums to zero per channel", async () => {
    const x = mb.tensor(fill(24, 70, -3, 3), [4, 3, 2], { requiresGrad: true });
    const w = mb.tensor(fill(24, 71), [4, 3, 2]);
    mb.batchNormTrain(x, null, null).y.mul(w).sum().backward();
    const s = await mb.sum(x.grad!, [0, 2]).data();
    for (const v of s) expect(Math.abs(v)).toBeLessThan(1e-5);
  });

  it("detach and noGrad cut the graph", async () => {
    const x = mb.tensor([1, 2], { requiresGrad: true });
    const y = x.detach().mul(2);
    expect(y.requiresGrad).toBe(false);
    const z = mb.noGrad(() => x.mul(2));
    expect(z.requiresGrad).toBe(false);
    const u = x.mul(x.detach()).sum();
    u.backward();
    expect(await x.grad!.toArray()).toEqual([1, 2]);
  });

  it("customOp: a user op with its own backward", async () => {
    // y = x^3 with a hand-written gradient 3x^2
    const cube = mb.customOp("cube", (x: Tensor) => ({
      outputs: [x.mul(x).mul(x)],
      backward: ([dy]) => [dy ? dy.mul(x.mul(x).mul(3)) : null],
    }));
    const x = mb.tensor([1, -2, 0.5], { requiresGrad: true });
    const [y] = cube(x);
    y.sum().backward();
    expect(await x.grad!.toArray()).toEqual([3, 12, 0.75]);
  });
});
