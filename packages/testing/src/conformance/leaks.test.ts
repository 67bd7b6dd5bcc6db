import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance } from "../index";

// Ops used outside tidy() (inference, data preparation, hand-written updates) must not leave
// intermediate tensors behind: disposing the result has to give back everything the op made.
// Composite ops build their results from casts, scalar operands, views and partial results.
describeConformance("conformance: ops leave no intermediates outside tidy", (backend) => {
  const cases: [string, (t: Record<string, mb.Tensor>) => unknown][] = [
    ["add with a number", ({ x }) => mb.add(x, 2)],
    ["mul broadcast", ({ x, row }) => mb.mul(x, row)],
    ["div of int32 (casts)", ({ xi }) => mb.div(xi, 2)],
    ["pow", ({ x }) => mb.pow(x, 2)],
    ["gt", ({ x }) => mb.gt(x, 0)],
    ["where with a number", ({ x, cond }) => mb.where(cond, x, 0)],
    ["clamp of int32 with fractions", ({ xi }) => mb.clamp(xi, 0.5, 2.5)],
    ["maximum with a number", ({ x }) => mb.maximum(x, 0)],
    ["square", ({ x }) => mb.square(x)],
    ["sum of int32", ({ xi }) => mb.sum(xi, 1)],
    ["mean", ({ x }) => mb.mean(x)],
    ["variance", ({ x }) => mb.variance(x, 0)],
    ["std", ({ x }) => mb.std(x, 1)],
    ["max and argmax", ({ x }) => [mb.max(x, 1), mb.argmax(x, 1)]],
    ["logSumExp", ({ x }) => mb.logSumExp(x, 1)],
    ["softmax", ({ x }) => mb.softmax(x, 1)],
    ["logSoftmax", ({ x }) => mb.logSoftmax(x, 1)],
    ["matmul 2-d", ({ x, w }) => mb.matmul(x, w)],
    ["matmul 1-d @ 2-d", ({ row, w }) => mb.matmul(row, w)],
    ["matmul batched @ 2-d", ({ x3, w }) => mb.matmul(x3, w)],
    [
      "conv2d with bias and stride",
      ({ img, kern, cb }) => mb.conv2d(img, kern, cb, { stride: 2, padding: 1 }),
    ],
    ["maxPool2d and avgPool2d", ({ img }) => [mb.maxPool2d(img, 2), mb.avgPool2d(img, 2)]],
    ["batchNormTrain", ({ x, g, b }) => mb.batchNormTrain(x, g, b)],
    ["batchNormTrain NCHW", ({ img }) => mb.batchNormTrain(img, null, null)],
    ["concat and stack", ({ x }) => [mb.concat([x, x], 0), mb.stack([x, x], 1)]],
    ["split", ({ x }) => mb.split(x, 2, 1)],
    ["indexSelect with an array", ({ x }) => mb.indexSelect(x, 0, [2, 0])],
    ["oneHot", ({ labels }) => mb.oneHot(labels, 5)],
    [
      "slice, transpose, permute",
      ({ x, x3 }) => [mb.slice(x, [1, 1], [2, 2]), mb.transpose(x), mb.permute(x3, [2, 0, 1])],
    ],
    [
      "expand, squeeze, unsqueeze, flatten",
      ({ row, x3, one }) => [mb.expand(row, [3, 4]), mb.unsqueeze(row, 0), mb.squeeze(one), mb.flatten(x3)],
    ],
    ["sumTo", ({ x }) => mb.sumTo(x, [1, 4])],
    [
      "creation",
      () => [
        mb.randn([3, 3]),
        mb.rand([2]),
        mb.randint(0, 5, [4]),
        mb.arange(0, 5),
        mb.linspace(0, 1, 5),
        mb.eye(3),
        mb.full([2], 7),
        mb.zeros([2]),
      ],
    ],
    ["tensor methods", ({ x }) => [x.sub(1), x.mean(0), x.matmul(x)]],
  ];

  for (const [name, fn] of cases) {
    it(name, async () => {
      const g = new mb.Generator(1);
      const inputs = {
        x: mb.randn([4, 4], { generator: g }),
        xi: mb.randint(-3, 4, [4, 4], { generator: g }),
        row: mb.randn([4], { generator: g }),
        x3: mb.randn([2, 4, 4], { generator: g }),
        w: mb.randn([4, 3], { generator: g }),
        g: mb.ones([4]),
        b: mb.zeros([4]),
        img: mb.randn([2, 3, 8, 8], { generator: g }),
        kern: mb.randn([5, 3, 3, 3], { generator: g }),
        cb: mb.randn([5], { generator: g }),
        labels: mb.tensor([0, 3, 1], { dtype: "int32" }),
        cond: mb.tensor([true, false, true, false], { dtype: "bool" }),
        one: mb.zeros([1, 4]),
      };
      const before = mb.memory();
      const result = fn(inputs);
      await Promise.all(
        [result]
          .flat(3)
          .flatMap((r) => (r instanceof mb.Tensor ? [r] : Object.values(r as object)))
          .map((t) => (t as mb.Tensor).data()),
      );
      mb.dispose(result);
      const after = mb.memory();
      expect({ tensors: after.tensors, buffers: after.buffers }).toEqual({
        tensors: before.tensors,
        buffers: before.buffers,
      });
      mb.dispose(inputs);
      void backend;
    });
  }
});
