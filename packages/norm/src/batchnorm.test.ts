import { memory, noGrad, type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { describe, expect, it } from "vitest";
import { BatchNorm1d, BatchNorm2d, BatchNorm3d, batchNorm, KerasBatchNormalization } from "./index";
import { randomValues, refBatchNorm } from "./test-helpers";

const read = async (t: Tensor | null) => Array.from(await t!.data());
/** Hand-derived: channel 0 = [1, 3, 5] (mean 3, sum of squares 8), channel 1 = [2, 4, 9] (mean 5, 26). */
const X = [
  [1, 2],
  [3, 4],
  [5, 9],
];

describeBackends("BatchNorm", (backend) => {
  const tol = tolerance(backend);

  it("normalizes with the biased variance and stores the unbiased one (hand-derived)", async () => {
    const bn = new BatchNorm1d(2);
    const y = bn.call(tensor(X));
    const e = 1e-5;
    const expected = [
      -2 / Math.sqrt(8 / 3 + e),
      -3 / Math.sqrt(26 / 3 + e),
      0,
      -1 / Math.sqrt(26 / 3 + e),
      2 / Math.sqrt(8 / 3 + e),
      4 / Math.sqrt(26 / 3 + e),
    ];
    expectClose(await read(y), expected, tol, "y");
    expectClose(await read(bn.runningMean), [0.3, 0.5], tol, "runningMean");
    expectClose(await read(bn.runningVar), [0.9 + 0.1 * 4, 0.9 + 0.1 * 13], tol, "runningVar");
    expect(await read(bn.numBatchesTracked)).toEqual([1]);
    bn.dispose();
  });

  it("matches the float64 reference for 1d (N, C, L), 2d and 3d; counts n = N * spatial", async () => {
    const cases: [new (c: number) => BatchNorm1d | BatchNorm2d | BatchNorm3d, number[]][] = [
      [BatchNorm1d, [4, 3, 5]],
      [BatchNorm2d, [2, 3, 4, 5]],
      [BatchNorm3d, [2, 2, 3, 2, 2]],
    ];
    for (const [Ctor, shape] of cases) {
      const c = shape[1];
      const size = shape.reduce((a, b) => a * b, 1);
      const xs = randomValues(size, 7 + c, 2, 0.5);
      const gamma = randomValues(c, 11, 1, 1);
      const beta = randomValues(c, 12, 1, 0);
      const bn = new Ctor(c);
      bn.weight!.assign(tensor(gamma));
      bn.bias!.assign(tensor(beta));
      const y = bn.call(tensor(xs, shape));
      const ref = refBatchNorm(xs, shape, 1e-5, gamma, beta);
      expectClose(await read(y), ref.y, tol, `${Ctor.name} y`);
      expectClose(
        await read(bn.runningMean),
        ref.mean.map((m) => 0.1 * m),
        tol,
        `${Ctor.name} runningMean`,
      );
      // n = N * spatial: the unbiased variance divides by N * spatial - 1, not N - 1.
      const n = size / c;
      expect(ref.varUnbiased[0]).toBeCloseTo((ref.varBiased[0] * n) / (n - 1), 12);
      expectClose(
        await read(bn.runningVar),
        ref.varUnbiased.map((v) => 0.9 + 0.1 * v),
        tol,
        "runningVar",
      );
      bn.dispose();
    }
  });

  it("momentum null keeps a cumulative average; the first batch overwrites", async () => {
    const bn = new BatchNorm1d(2, { momentum: null });
    const a = randomValues(10, 1, 3, 2);
    const b = randomValues(10, 2, 1, -1);
    const c = randomValues(10, 3, 2, 0);
    bn.call(tensor(a, [5, 2]));
    const ra = refBatchNorm(a, [5, 2], 1e-5);
    expectClose(await read(bn.runningMean), ra.mean, tol, "after one batch: mean");
    expectClose(await read(bn.runningVar), ra.varUnbiased, tol, "after one batch: var");
    bn.call(tensor(b, [5, 2]));
    bn.call(tensor(c, [5, 2]));
    const rb = refBatchNorm(b, [5, 2], 1e-5);
    const rc = refBatchNorm(c, [5, 2], 1e-5);
    const avg = (k: "mean" | "varUnbiased") => [0, 1].map((i) => (ra[k][i] + rb[k][i] + rc[k][i]) / 3);
    expectClose(await read(bn.runningMean), avg("mean"), tol, "mean of three");
    expectClose(await read(bn.runningVar), avg("varUnbiased"), tol, "var of three");
    expect(await read(bn.numBatchesTracked)).toEqual([3]);
    bn.dispose();
  });

  it("eval normalizes with the running statistics and does not update them", async () => {
    const bn = new BatchNorm1d(2);
    bn.call(tensor(X));
    bn.eval();
    const x = [
      [0, 1],
      [2, -3],
    ];
    const y = bn.call(tensor(x));
    const rm = [0.3, 0.5];
    const rv = [1.3, 2.2];
    const expected = x.flatMap((row) => row.map((v, k) => (v - rm[k]) / Math.sqrt(rv[k] + 1e-5)));
    expectClose(await read(y), expected, tol, "eval y");
    expectClose(await read(bn.runningMean), rm, tol, "unchanged mean");
    expectClose(await read(bn.runningVar), rv, tol, "unchanged var");
    expect(await read(bn.numBatchesTracked)).toEqual([1]);
    // One sample per channel is fine in eval.
    expect(bn.call(tensor([[1, 2]])).shape).toEqual([1, 2]);
    bn.dispose();
  });

  it("with tracking off: no buffers, and eval uses batch statistics", async () => {
    const bn = new BatchNorm1d(2, { trackRunningStats: false });
    expect(bn.runningMean).toBeNull();
    expect(Object.keys(bn.stateDict()).sort()).toEqual(["bias", "weight"]);
    bn.eval();
    const y = bn.call(tensor(X));
    const ref = refBatchNorm(X.flat(), [3, 2], 1e-5);
    expectClose(await read(y), ref.y, tol, "eval with batch stats");
    bn.dispose();
  });

  it("errors on one value per channel in training, naming the shape", async () => {
    const bn1 = new BatchNorm1d(3);
    expect(() => bn1.call(tensor([[1, 2, 3]]))).toThrow(
      /expected more than 1 value per channel when training.*\[1, 3\]/,
    );
    expect(await read(bn1.numBatchesTracked)).toEqual([0]);
    const bn2 = new BatchNorm2d(3);
    expect(() => bn2.call(tensor([1, 2, 3], [1, 3, 1, 1]))).toThrow(/more than 1 value per channel/);
    // (1, C, L > 1) has L values per channel.
    expect(bn1.call(tensor([1, 2, 3, 4, 5, 6], [1, 3, 2])).shape).toEqual([1, 3, 2]);
    bn1.eval();
    expect(bn1.call(tensor([[1, 2, 3]])).shape).toEqual([1, 3]);
    bn1.dispose();
    bn2.dispose();
  });

  it("errors on the wrong rank or channel count, naming the expected shape", () => {
    const bn1 = new BatchNorm1d(2);
    expect(() => bn1.call(tensor([1, 2]))).toThrow("BatchNorm1d: expected 2D or 3D input (got 1D input");
    expect(() => bn1.call(tensor(new Float32Array(16), [2, 2, 2, 2]))).toThrow(
      "expected 2D or 3D input (got 4D input",
    );
    expect(() => new BatchNorm2d(2).call(tensor(X))).toThrow("BatchNorm2d: expected 4D input (got 2D input");
    expect(() => new BatchNorm3d(2).call(tensor(new Float32Array(16), [2, 2, 2, 2]))).toThrow(
      "BatchNorm3d: expected 5D input (got 4D input",
    );
    expect(() => bn1.call(tensor([[1, 2, 3]]))).toThrow(/expected 2 channels on axis 1/);
    expect(() => new BatchNorm1d(0)).toThrow(/numFeatures/);
  });

  it("a constant channel gives beta", async () => {
    const bn = new BatchNorm1d(2);
    bn.bias!.assign(tensor([0.25, -2]));
    bn.weight!.assign(tensor([3, 4]));
    const y = bn.call(
      tensor([
        [7, 1],
        [7, 2],
        [7, 3],
      ]),
    );
    const v = await read(y);
    expectClose([v[0], v[2], v[4]], [0.25, 0.25, 0.25], tol, "constant channel");
    bn.dispose();
  });

  it("affine off has no parameters", () => {
    const bn = new BatchNorm2d(3, { affine: false });
    expect(bn.parameters()).toEqual([]);
    expect(bn.weight).toBeNull();
    expect(Object.keys(bn.stateDict()).sort()).toEqual(["numBatchesTracked", "runningMean", "runningVar"]);
    const y = bn.call(tensor(randomValues(24, 3), [2, 3, 2, 2]));
    expect(y.shape).toEqual([2, 3, 2, 2]);
    bn.dispose();
  });

  it("dx, dgamma, dbeta match finite differences; sum(dx) ~ 0 per channel", async () => {
    const shape = [3, 2, 4];
    const xs = randomValues(24, 5, 1.5, 0.3);
    const f = (x: Tensor, g: Tensor, b: Tensor) =>
      batchNorm(x, null, null, { weight: g, bias: b, training: true });
    await gradCheck(f, [
      { values: xs, shape },
      { values: [1.3, -0.7], shape: [2] },
      { values: [0.2, 0.5], shape: [2] },
    ]);
    const x = tensor(xs, shape, { requiresGrad: true });
    const g = tensor([1.3, -0.7], { requiresGrad: true });
    const dy = tensor(randomValues(24, 9), shape);
    batchNorm(x, null, null, { weight: g, training: true }).mul(dy).sum().backward();
    const dx = await read(x.grad);
    for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let n = 0; n < 3; n++) for (let l = 0; l < 4; l++) s += dx[(n * 2 + c) * 4 + l];
      expect(Math.abs(s)).toBeLessThan(1e-5);
    }
  });

  it("module gradient: weight and bias get dgamma and dbeta", async () => {
    const bn = new BatchNorm1d(2);
    const xs = X.flat();
    const x = tensor(X);
    const dy = [0.5, -1, 2, 0.25, -0.75, 1.5];
    tidy(() =>
      bn
        .call(x)
        .mul(tensor(dy, [3, 2]))
        .sum()
        .backward(),
    );
    const ref = refBatchNorm(xs, [3, 2], 1e-5);
    const dbeta = [0, 1].map((k) => dy.filter((_, i) => i % 2 === k).reduce((a, b) => a + b, 0));
    const dgamma = [0, 1].map((k) => dy.reduce((a, d, i) => a + (i % 2 === k ? d * ref.y[i] : 0), 0));
    expectClose(await read(bn.bias!.grad), dbeta, tol, "dbeta");
    expectClose(await read(bn.weight!.grad), dgamma, tol, "dgamma");
    bn.dispose();
  });

  it("eval-mode gradient is dy * gamma * invstd_running", async () => {
    const bn = new BatchNorm1d(2);
    bn.call(tensor(X));
    bn.weight!.assign(tensor([2, -0.5]));
    bn.eval();
    const x = tensor(
      [
        [0, 1],
        [2, -3],
      ],
      { requiresGrad: true },
    );
    const dy = [1, 2, 3, 4];
    bn.call(x)
      .mul(tensor(dy, [2, 2]))
      .sum()
      .backward();
    const k = [2 / Math.sqrt(1.3 + 1e-5), -0.5 / Math.sqrt(2.2 + 1e-5)];
    expectClose(
      await read(x.grad),
      dy.map((d, i) => d * k[i % 2]),
      tol,
      "eval dx",
    );
    await gradCheck((xx: Tensor) => bn.call(xx), [{ values: [0, 1, 2, -3], shape: [2, 2] }]);
    bn.dispose();
  });

  it("the Keras convention keeps 99 %, uses eps 1e-3 and a biased moving variance", async () => {
    const bn = new BatchNorm1d(2, { convention: "keras" });
    expect(bn.eps).toBe(1e-3);
    expect(bn.momentum).toBe(0.99);
    const y = bn.call(tensor(X));
    expectClose(await read(y), refBatchNorm(X.flat(), [3, 2], 1e-3).y, tol, "y with eps 1e-3");
    expectClose(await read(bn.runningMean), [0.03, 0.05], tol, "moving mean");
    expectClose(
      await read(bn.runningVar),
      [0.99 + 0.01 * (8 / 3), 0.99 + 0.01 * (26 / 3)],
      tol,
      "moving var",
    );
    expect(() => new BatchNorm1d(2, { convention: "keras", momentum: null })).toThrow(/Keras/);
    bn.dispose();
  });

  it("KerasBatchNormalization: channels last, Keras names", async () => {
    const bn = new KerasBatchNormalization(2);
    expect(Object.keys(bn.stateDict())).toEqual(["gamma", "beta", "movingMean", "movingVariance"]);
    const xs = randomValues(12, 4, 2, 1);
    const y = bn.call(tensor(xs, [2, 3, 2]));
    expectClose(await read(y), refBatchNorm(xs, [2, 3, 2], 1e-3, undefined, undefined, 2).y, tol, "y");
    const ref = refBatchNorm(xs, [2, 3, 2], 1e-3, undefined, undefined, 2);
    expectClose(
      await read(bn.movingVariance),
      ref.varBiased.map((v) => 0.99 + 0.01 * v),
      tol,
      "moving var",
    );
    bn.eval();
    const ye = bn.call(tensor(xs, [2, 3, 2]));
    const mm = ref.mean.map((m) => 0.01 * m);
    const mv = ref.varBiased.map((v) => 0.99 + 0.01 * v);
    expectClose(
      await read(ye),
      xs.map((v, i) => (v - mm[i % 2]) / Math.sqrt(mv[i % 2] + 1e-3)),
      tol,
      "eval",
    );
    bn.dispose();
  });

  it("functional batchNorm updates given running statistics in training", async () => {
    const rm = tensor([1, 1]);
    const rv = tensor([2, 2]);
    const y = batchNorm(tensor(X), rm, rv, { training: true, momentum: 0.5 });
    expectClose(await read(y), refBatchNorm(X.flat(), [3, 2], 1e-5).y, tol, "y");
    expectClose(await read(rm), [2, 3], tol, "mean");
    expectClose(await read(rv), [3, 7.5], tol, "var");
    const ye = batchNorm(tensor([[1, 3]]), rm, rv, { eps: 0 });
    expectClose(await read(ye), [-1 / Math.sqrt(3), 0], tol, "eval");
    expect(() => batchNorm(tensor(X), null, null)).toThrow(/eval mode .* needs runningMean/);
  });

  it("stateDict uses camelCase PyTorch names and round-trips", async () => {
    const a = new BatchNorm1d(2);
    a.call(tensor(X));
    expect(Object.keys(a.stateDict())).toEqual([
      "weight",
      "bias",
      "runningMean",
      "runningVar",
      "numBatchesTracked",
    ]);
    const b = new BatchNorm1d(2);
    b.loadStateDict(a.stateDict());
    expectClose(await read(b.runningVar), [1.3, 2.2], tol, "loaded");
    expect(await read(b.numBatchesTracked)).toEqual([1]);
    a.dispose();
    b.dispose();
  });

  it("leaves no tensors behind in eval under noGrad, nor in training inside tidy", () => {
    const bn = new BatchNorm2d(3);
    const x = tensor(randomValues(24, 8), [2, 3, 2, 2]);
    const before = memory().tensors;
    tidy(() => {
      bn.call(x);
    });
    bn.eval();
    noGrad(() => bn.call(x).dispose());
    expect(memory().tensors).toBe(before);
    bn.dispose();
  });
});

describe("BatchNorm options", () => {
  it("rejects invalid momentum and eps", () => {
    expect(() => new BatchNorm1d(2, { momentum: 2 })).toThrow(/momentum/);
    expect(() => new BatchNorm1d(2, { eps: -1 })).toThrow(/eps/);
  });
  it("prints like PyTorch", () => {
    expect(new BatchNorm1d(3).toString()).toBe(
      "BatchNorm1d(3, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)",
    );
  });
});
