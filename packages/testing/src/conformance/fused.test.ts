import * as mb from "@minibatch/tensor";
import { FUSED_DEFAULTS, FUSED_OPS, getBackend, type OpAttrs, type Tensor } from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance, expectClose, tolerance } from "../index";
import { ReferenceBackend } from "../reference-backend/backend";

// The two-tier backend contract: fused kernels are optional, and the core composes a default from
// primitives for a backend that lacks one. A backend's override must agree with the default.

it("the reference backend implements the primitives only", () => {
  const ref = new ReferenceBackend();
  for (const op of FUSED_OPS) expect(ref.kernels[op], op).toBeUndefined();
});

function rand(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v[i] = (s / 2147483648) * 4 - 2;
  }
  return mb.tensor(v, shape);
}

type Case<K extends (typeof FUSED_OPS)[number]> = {
  op: K;
  inputs: () => Tensor[];
  attrs: OpAttrs[K];
  outputs: { shape: number[]; dtype: mb.DType }[];
};

const conv = {
  stride: [2, 1] as [number, number],
  padding: [1, 2] as [number, number],
  dilation: [1, 2] as [number, number],
  groups: 2,
};
const pool = {
  kernel: [3, 2] as [number, number],
  stride: [2, 2] as [number, number],
  padding: [1, 1] as [number, number],
};
const bn = { outer: 3, channels: 4, inner: 5, eps: 1e-5 };
// x [2, 4, 7, 6], w [6, 2, 3, 3]: output [2, 6, 4, 2]
const CASES: Case<(typeof FUSED_OPS)[number]>[] = [
  {
    op: "conv2dGradInput",
    inputs: () => [rand([2, 6, 4, 2], 1), rand([6, 2, 3, 3], 2)],
    attrs: conv,
    outputs: [{ shape: [2, 4, 7, 6], dtype: "float32" }],
  },
  {
    op: "conv2dGradFilter",
    inputs: () => [rand([2, 4, 7, 6], 3), rand([2, 6, 4, 2], 4)],
    attrs: conv,
    outputs: [{ shape: [6, 2, 3, 3], dtype: "float32" }],
  },
  // x [2, 3, 7, 6] pooled to [2, 3, 4, 4]
  {
    op: "maxPool2dGrad",
    inputs: () => [rand([2, 3, 7, 6], 5), rand([2, 3, 4, 4], 6)],
    attrs: pool,
    outputs: [{ shape: [2, 3, 7, 6], dtype: "float32" }],
  },
  {
    op: "avgPool2dGrad",
    inputs: () => [rand([2, 3, 4, 4], 7)],
    attrs: pool,
    outputs: [{ shape: [2, 3, 7, 6], dtype: "float32" }],
  },
  {
    op: "argsort",
    // ties and a NaN in the rows: the order must match exactly (stable, NaN largest)
    inputs: () => [
      mb
        .tensor([
          [2, 1, 2, Number.NaN, 1, 0.5, 2, -1],
          [3, 3, -1, 0, 7, 7, 7, 2],
        ])
        .reshape([2, 4, 2]),
    ],
    attrs: { outer: 2, n: 4, inner: 2, descending: false },
    outputs: [{ shape: [2, 4, 2], dtype: "int32" }],
  },
  {
    op: "argsort",
    inputs: () => [
      mb
        .tensor([
          [2, 1, 2, Number.NaN, 1, 0.5, 2, -1],
          [3, 3, -1, 0, 7, 7, 7, 2],
        ])
        .reshape([2, 8]),
    ],
    attrs: { outer: 2, n: 8, inner: 1, descending: true },
    outputs: [{ shape: [2, 8], dtype: "int32" }],
  },
  {
    op: "cumsum",
    inputs: () => [rand([3, 5, 2], 16)],
    attrs: { outer: 3, n: 5, inner: 2, reverse: true },
    outputs: [{ shape: [3, 5, 2], dtype: "float32" }],
  },
  {
    op: "batchNormTrain",
    inputs: () => [rand([3, 4, 5], 8), rand([4], 9), rand([4], 10)],
    attrs: bn,
    outputs: [
      { shape: [3, 4, 5], dtype: "float32" },
      ...[0, 1, 2].map(() => ({ shape: [4], dtype: "float32" as const })),
    ],
  },
];

describeConformance("conformance: fused kernels agree with their composed defaults", (backend) => {
  it("every fused op has a case here", () => {
    const covered = new Set<string>([...CASES.map((c) => c.op), "batchNormGrad"]);
    for (const op of FUSED_OPS) expect(covered.has(op), op).toBe(true);
  });
  for (const [i, c] of CASES.entries()) {
    it(`${c.op} #${i}`, async () => {
      await mb.tidy(async () => {
        const inputs = c.inputs();
        const viaCore = mb.noGrad(() => FUSED_DEFAULTS[c.op](inputs, c.attrs as never, c.outputs));
        const kernel = getBackend().kernels[c.op];
        if (!kernel) {
          expect(backend).toBe("reference");
          return;
        }
        const outs = mb.noGrad(() => mb.runOp(c.op, inputs, c.outputs, c.attrs as never));
        for (let i = 0; i < outs.length; i++) {
          expectClose(
            await outs[i].data(),
            await viaCore[i].data(),
            { ...tolerance(backend), atol: 1e-4 },
            `${c.op} output ${i}`,
          );
        }
      });
    });
  }
  it("batchNormGrad", async () => {
    await mb.tidy(async () => {
      const x = rand([3, 4, 5], 11);
      const [, mean, invstd] = FUSED_DEFAULTS.batchNormTrain(
        [x, rand([4], 12), rand([4], 13)],
        bn,
        CASES.find((c) => c.op === "batchNormTrain")?.outputs ?? [],
      );
      const inputs = [rand([3, 4, 5], 14), x, rand([4], 15), mean, invstd];
      const outputs = [
        { shape: [3, 4, 5], dtype: "float32" as const },
        { shape: [4], dtype: "float32" as const },
        { shape: [4], dtype: "float32" as const },
      ];
      const viaCore = FUSED_DEFAULTS.batchNormGrad(inputs, bn, outputs);
      if (!getBackend().kernels.batchNormGrad) return;
      const outs = mb.noGrad(() => mb.runOp("batchNormGrad", inputs, outputs, bn));
      for (let i = 0; i < 3; i++) {
        expectClose(
          await outs[i].data(),
          await viaCore[i].data(),
          { ...tolerance(backend), atol: 1e-4 },
          `batchNormGrad output ${i}`,
        );
      }
    });
  });
});
