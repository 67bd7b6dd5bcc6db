import * as mb from "@minibatch/tensor";
import {
  type BinaryOp,
  type CompareOp,
  type OpName,
  setBackend,
  type Tensor,
  type UnaryOp,
} from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance, expectClose, gradCheck, tolerance } from "../index";

// Every kernel op has a case here: the table is typed over every op that is not an elementwise
// spec (those are derived from the spec tables in specs.test.ts), so a new op does not compile
// until it has one. Each case runs on every backend, must actually dispatch its op (or, for a
// fused op the backend lacks, the core's default), and must agree with the same case on the
// float64 reference backend; differentiable ones also pass a finite-difference check.

type KernelOp = Exclude<OpName, UnaryOp | BinaryOp | CompareOp>;

interface OpCase {
  /** Input values and shapes (created on the backend under test). */
  inputs: { values: number[]; shape: number[]; dtype?: mb.DType }[];
  /** The front-end call; backward-only kernels run through backward() and return the gradients. */
  run: (...xs: Tensor[]) => Tensor | Tensor[];
  /** Check run(...) against finite differences in every float input. */
  grad?: boolean;
  /** Backward-only kernels run through backward(): their leak check is the training-loop memory test. */
  backwardOnly?: boolean;
}

const seq = (n: number, scale = 0.37, shift = 1.3) =>
  Array.from({ length: n }, (_, i) => Math.sin(i * scale + shift) * 2 + (i % 3) * 0.1);
const img = { values: seq(2 * 3 * 5 * 4), shape: [2, 3, 5, 4] };
const kern = { values: seq(4 * 3 * 2 * 2, 0.7), shape: [4, 3, 2, 2] };

/** Runs f with requiresGrad inputs, then backward with fixed weights; returns the input gradients. */
function gradsOf(f: (...xs: Tensor[]) => Tensor, xs: Tensor[]): Tensor[] {
  const ps = xs.map((x) => x.detach().requiresGrad_());
  const y = f(...ps);
  const w = mb.reshape(mb.linspace(0.5, 1.5, y.size), y.shape);
  mb.sum(mb.mul(y, w)).backward();
  return ps.map((p) => p.grad as Tensor);
}

const CASES: { [K in KernelOp]: OpCase } = {
  clamp: { inputs: [{ values: seq(12), shape: [3, 4] }], run: (x) => mb.clamp(x, -1, 0.5), grad: true },
  cast: { inputs: [{ values: seq(12), shape: [3, 4] }], run: (x) => mb.cast(mb.mul(x, 3), "int32") },
  where: {
    inputs: [
      { values: seq(12), shape: [3, 4] },
      { values: seq(4, 1.1), shape: [4] },
    ],
    run: (a, b) => mb.where(mb.gt(a, 0), a, b),
    grad: true,
  },
  sum: { inputs: [{ values: seq(24), shape: [2, 3, 4] }], run: (x) => mb.sum(x, [0, 2]), grad: true },
  max: { inputs: [{ values: seq(24), shape: [2, 3, 4] }], run: (x) => mb.max(x, 1), grad: true },
  min: { inputs: [{ values: seq(24), shape: [2, 3, 4] }], run: (x) => mb.min(x, 2), grad: true },
  argmax: { inputs: [{ values: seq(24), shape: [2, 3, 4] }], run: (x) => mb.argmax(x, 1) },
  argmin: { inputs: [{ values: seq(24), shape: [2, 3, 4] }], run: (x) => mb.argmin(x, 2) },
  matmul: {
    inputs: [
      { values: seq(24), shape: [2, 3, 4] },
      { values: seq(20, 0.5), shape: [4, 5] },
    ],
    run: (a, b) => mb.matmul(a, b),
    grad: true,
  },
  strided: {
    inputs: [{ values: seq(24), shape: [2, 3, 4] }],
    run: (x) => mb.permute(x, [2, 0, 1]),
    grad: true,
  },
  concat: {
    inputs: [
      { values: seq(6), shape: [2, 3] },
      { values: seq(4, 0.9), shape: [2, 2] },
    ],
    run: (a, b) => mb.concat([a, b], 1),
    grad: true,
  },
  gather: {
    inputs: [{ values: seq(12), shape: [4, 3] }],
    run: (x) => mb.indexSelect(x, 0, [3, 0, 0, -1]),
    grad: true,
  },
  scatterAdd: {
    inputs: [
      { values: seq(12), shape: [4, 3] },
      { values: [2, 0, 2, 1], shape: [4], dtype: "int32" },
    ],
    run: (src, idx) => mb.scatterAdd(src, 0, idx, 3),
  },
  argsort: {
    inputs: [{ values: [3, 1, 2, 1, Number.NaN, 0], shape: [2, 3] }],
    run: (x) => mb.argsort(x, { dim: 1 }),
  },
  cumsum: { inputs: [{ values: seq(12), shape: [3, 4] }], run: (x) => mb.cumsum(x, 0), grad: true },
  conv2d: {
    inputs: [img, kern],
    run: (x, w) => mb.conv2d(x, w, null, { stride: [2, 1], padding: 1 }),
    grad: true,
  },
  conv2dGradInput: {
    inputs: [img, kern],
    run: (x, w) => gradsOf((p) => mb.conv2d(p, w, null, { padding: 1 }), [x])[0],
    backwardOnly: true,
  },
  conv2dGradFilter: {
    inputs: [img, kern],
    run: (x, w) => gradsOf((q) => mb.conv2d(x, q, null, { stride: 2 }), [w])[0],
    backwardOnly: true,
  },
  maxPool2d: { inputs: [img], run: (x) => mb.maxPool2d(x, 2, { stride: 1, padding: 1 }), grad: true },
  maxPool2dGrad: {
    inputs: [img],
    run: (x) => gradsOf((p) => mb.maxPool2d(p, [3, 2], { stride: 2, padding: 1 }), [x])[0],
    backwardOnly: true,
  },
  avgPool2d: { inputs: [img], run: (x) => mb.avgPool2d(x, 2), grad: true },
  avgPool2dGrad: {
    inputs: [img],
    run: (x) => gradsOf((p) => mb.avgPool2d(p, 3, { stride: 2, padding: 1 }), [x])[0],
    backwardOnly: true,
  },
  batchNormTrain: {
    inputs: [img, { values: [1.5, 0.5, -1], shape: [3] }, { values: [0.1, 0.2, 0.3], shape: [3] }],
    run: (x, g, b) => mb.batchNormTrain(x, g, b).y,
    grad: true,
  },
  batchNormGrad: {
    inputs: [img, { values: [1.5, 0.5, -1], shape: [3] }, { values: [0.1, 0.2, 0.3], shape: [3] }],
    run: (x, g, b) => gradsOf((p, q, r) => mb.batchNormTrain(p, q, r).y, [x, g, b]),
    backwardOnly: true,
  },
};

async function evaluate(c: OpCase): Promise<{ outs: number[][]; ops: Set<string> }> {
  // Wraps every kernel of the active backend's table for the duration of the case, to see which ran.
  const ops = new Set<string>();
  const table = mb.getBackend().kernels as unknown as Record<string, (...a: unknown[]) => void>;
  const saved = { ...table };
  for (const [op, k] of Object.entries(saved)) {
    table[op] = (...a: unknown[]) => {
      ops.add(op);
      return k(...a);
    };
  }
  try {
    return await mb.tidy(async () => {
      const xs = c.inputs.map((i) => mb.tensor(i.values, i.shape, { dtype: i.dtype ?? "float32" }));
      const y = c.run(...xs);
      const outs = await Promise.all(
        (Array.isArray(y) ? y : [y]).map(async (t) => Array.from(await t.data())),
      );
      return { outs, ops };
    });
  } finally {
    Object.assign(table, saved);
  }
}

describeConformance(
  "conformance: every kernel op has a case, checked against the reference backend",
  (backend) => {
    for (const [op, c] of Object.entries(CASES) as [KernelOp, OpCase][]) {
      it(op, async () => {
        const { outs, ops } = await evaluate(c);
        const hasKernel = !!mb.getBackend().kernels[op];
        if (hasKernel) expect([...ops], `${op} dispatched`).toContain(op);
        else expect(mb.FUSED_OPS as readonly string[], `${op} is optional`).toContain(op);
        if (backend !== "reference") {
          await setBackend("reference");
          const expected = await evaluate(c).finally(() => setBackend(backend));
          for (const [i, o] of outs.entries()) {
            expectClose(
              o,
              expected.outs[i],
              { ...tolerance(backend), atol: 1e-4 },
              `${op} output ${i} vs reference`,
            );
          }
        }
        if (c.grad) {
          await gradCheck(
            (...xs) => c.run(...xs) as Tensor,
            c.inputs.map((i) => ({ values: i.values, shape: i.shape })),
            { eps: 1e-3 },
          );
        }
      });
    }
  },
);

it("every kernel in the CPU backend's table is a spec'd elementwise op or has a case above", async () => {
  const covered = new Set<string>([
    ...mb.UNARY_OPS,
    ...mb.BINARY_OPS,
    ...mb.COMPARE_OPS,
    ...Object.keys(CASES),
  ]);
  const cpu = await setBackend("cpu");
  for (const op of Object.keys(cpu.kernels)) expect(covered.has(op), `${op} has a case`).toBe(true);
});
