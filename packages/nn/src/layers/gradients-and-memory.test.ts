import * as mb from "@minibatch/tensor";
import { convTranspose2d, pad, type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, gradCheck } from "@minibatch/testing";
import { describe, expect, it } from "vitest";
import { values } from "../../test/reference";
import { klDivLoss, smoothL1Loss } from "../losses";
import { cosineEmbeddingLoss, cosineSimilarity, marginRankingLoss } from "../similarity";
import { Conv1d, Conv2d } from "./conv";
import { AvgPool2d, adaptiveAvgPool2d, MaxPool2d } from "./pooling";
import { interpolate } from "./upsample";

const spec = (shape: number[], seed: number) => ({
  values: values(
    shape.reduce((a, b) => a * b, 1),
    seed,
  ),
  shape,
});

// Central finite differences in float64 against autograd, for every new differentiable op.
describe("finite-difference gradients of the new layers", () => {
  it("pad in every mode", async () => {
    for (const [mode, pads] of [
      ["constant", [1, -1, 2, 0]],
      ["reflect", [2, 1, 1, 2]],
      ["replicate", [0, 2, 3, 1]],
      ["circular", [3, 1, 2, 2]],
    ] as const) {
      await gradCheck((x) => pad(x, pads, mode, 0.25), [spec([1, 2, 3, 4], 3)]);
    }
  });

  it("convTranspose2d (input, weight and bias), with stride, padding, outputPadding, groups, dilation", async () => {
    await gradCheck(
      (x, w, b) => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }),
      [spec([1, 2, 3, 3], 1), spec([2, 3, 3, 3], 2), spec([3], 3)],
      { eps: 1e-3 },
    );
    await gradCheck(
      (x, w) => convTranspose2d(x, w, null, { stride: [1, 2], groups: 2, dilation: 2 }),
      [spec([1, 4, 3, 2], 4), spec([4, 1, 2, 2], 5)],
      { eps: 1e-3 },
    );
  });

  it("Conv1d and Conv2d with padding modes and asymmetric 'same'", async () => {
    const c1 = new Conv1d(2, 3, 4, { padding: "same", paddingMode: "reflect" });
    await gradCheck((x) => c1.call(x), [spec([2, 2, 6], 6)], { eps: 1e-3 });
    const c2 = new Conv2d(2, 2, [2, 3], { padding: "same", paddingMode: "circular" });
    await gradCheck((x) => c2.call(x), [spec([1, 2, 4, 5], 7)], { eps: 1e-3 });
    c1.dispose();
    c2.dispose();
  });

  it("pooling with ceilMode, dilation, countIncludePad false; adaptive average pooling", async () => {
    const mp = new MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true, dilation: [1, 2] });
    await gradCheck((x) => mp.call(x), [spec([1, 2, 6, 8], 8)], { eps: 1e-3 });
    const ap = new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false });
    await gradCheck((x) => ap.call(x), [spec([1, 2, 6, 7], 9)]);
    await gradCheck((x) => adaptiveAvgPool2d(x, [3, 2]), [spec([1, 2, 5, 7], 10)]);
  });

  it("interpolate: nearest, bilinear with and without alignCorners, linear", async () => {
    await gradCheck((x) => interpolate(x, { scaleFactor: 2 }), [spec([1, 1, 2, 3], 11)]);
    await gradCheck(
      (x) => interpolate(x, { size: [5, 4], mode: "bilinear", alignCorners: true }),
      [spec([1, 2, 3, 3], 12)],
    );
    await gradCheck((x) => interpolate(x, { scaleFactor: 1.5, mode: "bilinear" }), [spec([1, 1, 4, 3], 13)]);
    await gradCheck((x) => interpolate(x, { size: 7, mode: "linear" }), [spec([2, 1, 4], 14)]);
  });
});

// Used outside tidy(), a function must give back everything it made when its result is disposed.
describeBackends("new layers and losses leave no intermediates outside tidy", () => {
  type In = Record<string, Tensor>;
  const cases: [string, (t: In) => unknown][] = [
    ["pad reflect", ({ x }) => pad(x, [1, 1, 2, 0], "reflect")],
    ["convTranspose2d", ({ x, w, b }) => convTranspose2d(x, w, b, { stride: 2, padding: 1 })],
    ["maxPool with ceilMode", ({ x }) => new MaxPool2d(2, { ceilMode: true, stride: 3 }).call(x)],
    [
      "avgPool countIncludePad false",
      ({ x }) => new AvgPool2d(3, { padding: 1, countIncludePad: false }).call(x),
    ],
    ["adaptiveAvgPool2d", ({ x }) => adaptiveAvgPool2d(x, 3)],
    ["interpolate bilinear", ({ x }) => interpolate(x, { scaleFactor: 2, mode: "bilinear" })],
    ["smoothL1Loss and klDivLoss", ({ x, y, p }) => [smoothL1Loss(x, y, { beta: 0.5 }), klDivLoss(x, p)]],
    [
      "cosine losses",
      ({ x, y, x2, y2, lab, one }) => [
        cosineSimilarity(x, y),
        cosineEmbeddingLoss(x2, y2, lab),
        marginRankingLoss(x, y, one),
      ],
    ],
  ];
  for (const [name, fn] of cases) {
    it(name, async () => {
      const g = new mb.Generator(2);
      const x = mb.randn([1, 3, 6, 6], { generator: g });
      const y = mb.randn([1, 3, 6, 6], { generator: g });
      const inputs: In = {
        x,
        y,
        p: y.exp(),
        w: mb.ones([3, 2, 3, 3]),
        b: mb.ones([2]),
        x2: x.reshape([3, 36]),
        y2: y.reshape([3, 36]),
        lab: tensor([1, -1, 1]),
        one: mb.ones(x.shape),
      };
      const before = mb.memory();
      const result = fn(inputs);
      await Promise.all([result].flat(2).map((t) => (t as Tensor).data()));
      mb.dispose(result as Tensor[]);
      const after = mb.memory();
      expect({ tensors: after.tensors, buffers: after.buffers }).toEqual({
        tensors: before.tensors,
        buffers: before.buffers,
      });
      mb.dispose(Object.values(inputs));
    });
  }
});
