import { type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { f32, logSoftmaxRows, values } from "../test/reference";
import {
  BCEWithLogitsLoss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  CrossEntropyLoss,
  crossEntropy,
  huberLoss,
  l1Loss,
  MSELoss,
  mseLoss,
  nllLoss,
} from "./losses";

const int = (xs: number[], shape?: number[]) => tensor(Int32Array.from(xs), shape ?? [xs.length]);

/**
 * PyTorch's cross entropy with class indices, written out in float64: per sample
 * (1 - s) * (-w[y] logp[y]) + s / C * sum_c(-w[c] logp[c]), zero for ignored samples;
 * 'mean' divides by the sum of w[y] over counted samples.
 */
function refCrossEntropy(
  logits: number[],
  n: number,
  c: number,
  target: number[],
  o: { weight?: number[]; ignoreIndex?: number; labelSmoothing?: number } = {},
) {
  const lp = logSoftmaxRows(logits, n, c);
  const w = o.weight ?? new Array(c).fill(1);
  const s = o.labelSmoothing ?? 0;
  const ig = o.ignoreIndex ?? -100;
  const per: number[] = [];
  let denom = 0;
  for (let i = 0; i < n; i++) {
    if (target[i] === ig) {
      per.push(0);
      continue;
    }
    const nll = -w[target[i]] * lp[i * c + target[i]];
    let smooth = 0;
    for (let j = 0; j < c; j++) smooth -= w[j] * lp[i * c + j];
    per.push((1 - s) * nll + (s / c) * smooth);
    denom += w[target[i]];
  }
  const sum = per.reduce((a, b) => a + b, 0);
  return { none: per, sum, mean: sum / denom };
}

describeBackends("crossEntropy / nllLoss", (backend) => {
  const tol = tolerance(backend);
  const rd = async (t: Tensor) => Array.from(await t.data());

  it("matches hand-computed values, with and without label smoothing", async () => {
    // logits [1, 2, 3], target 2: lse = 3 + log(1 + e^-1 + e^-2).
    const lse = 3 + Math.log(1 + Math.exp(-1) + Math.exp(-2));
    const x = tensor([[1, 2, 3]]);
    expectClose(await rd(crossEntropy(x, int([2]))), [lse - 3], tol);
    // Smoothing 0.1: 0.9 * nll + 0.1 / 3 * (3 lse - 6).
    expectClose(
      await rd(crossEntropy(x, int([2]), { labelSmoothing: 0.1 })),
      [0.9 * (lse - 3) + (0.1 / 3) * (3 * lse - 6)],
      tol,
    );
    // Uniform logits give log C whatever the target.
    expectClose(await rd(crossEntropy(tensor([[0, 0, 0, 0]]), int([1]))), [Math.log(4)], tol);
  });

  const n = 6;
  const c = 4;
  const logits = f32(values(n * c, 3, -3, 3));
  const target = [0, 3, 1, 1, 2, 3];
  const weight = f32([0.2, 1, 2.5, 0.7]);
  const cases: [string, { weight?: number[]; ignoreIndex?: number; labelSmoothing?: number }][] = [
    ["plain", {}],
    ["label smoothing", { labelSmoothing: 0.2 }],
    ["class weights", { weight }],
    ["weights + smoothing + ignoreIndex", { weight, labelSmoothing: 0.15, ignoreIndex: 1 }],
    ["ignoreIndex -100 default", { ignoreIndex: -100 }],
  ];
  for (const [name, o] of cases) {
    it(`all reductions match the float64 reference (${name})`, async () => {
      const t = name.includes("-100") ? target.map((v, i) => (i === 2 ? -100 : v)) : target;
      const ref = refCrossEntropy(logits, n, c, t, o);
      const opts = { ...o, weight: o.weight ? tensor(o.weight) : undefined };
      const x = tensor(logits, [n, c]);
      for (const reduction of ["none", "sum", "mean"] as const) {
        const got = crossEntropy(x, int(t), { ...opts, reduction });
        expect(got.shape).toEqual(reduction === "none" ? [n] : []);
        expectClose(await rd(got), reduction === "none" ? ref.none : [ref[reduction]], tol, reduction);
      }
      await gradCheck((z) => crossEntropy(z, int(t), opts), [{ values: logits, shape: [n, c] }], {
        eps: 1e-3,
      });
    });
  }

  it("nllLoss on logSoftmax equals crossEntropy, and a [N, C, d] input equals its flattened form", async () => {
    const x = tensor(logits, [n, c]);
    const w = tensor(weight);
    expectClose(
      await rd(nllLoss(x.logSoftmax(1), int(target), { weight: w })),
      await rd(crossEntropy(x, int(target), { weight: w })),
      tol,
    );
    // [2, 4, 3]: 2 samples with 3 positions each; the same rows as [6, 4] after moving classes last.
    const x3 = tensor(logits, [n, c]).reshape([2, 3, c]).permute(0, 2, 1);
    const t3 = int(target, [2, 3]);
    const per = crossEntropy(x3, t3, { reduction: "none", labelSmoothing: 0.1 });
    expect(per.shape).toEqual([2, 3]);
    expectClose(await rd(per), refCrossEntropy(logits, n, c, target, { labelSmoothing: 0.1 }).none, tol);
    // A single sample [C] with a 0-d target.
    const single = crossEntropy(tensor(logits.slice(0, c)), tensor(new Int32Array([0]), []));
    expect(single.shape).toEqual([]);
    expectClose(await rd(single), [refCrossEntropy(logits.slice(0, c), 1, c, [0]).mean], tol);
  });

  it("accepts class probabilities as float targets", async () => {
    const probs = [0.1, 0.6, 0.3, 0, 0.25, 0.25, 0.25, 0.25];
    const x = tensor(logits.slice(0, 8), [2, c]);
    const lp = logSoftmaxRows(logits.slice(0, 8), 2, c);
    const s = 0.1;
    const ref = [0, 1].map(
      (i) => -[0, 1, 2, 3].reduce((acc, j) => acc + (probs[i * c + j] * (1 - s) + s / c) * lp[i * c + j], 0),
    );
    const got = crossEntropy(x, tensor(probs, [2, c]), { labelSmoothing: s });
    expectClose(await rd(got), [(ref[0] + ref[1]) / 2], tol);
  });

  it("explains shape, dtype and range mistakes", () => {
    const x = tensor(logits, [n, c]);
    expect(() => crossEntropy(x, int([0, 1]))).toThrow(/expected target of shape \[6\] .* got \[2\]/);
    expect(() => crossEntropy(x, tensor([0, 1, 2, 3, 0, 1]))).toThrow(
      /probabilities and must have the input's shape/,
    );
    expect(() => crossEntropy(x, tensor([true, false, true, true, true, true]))).toThrow(
      /int32 class indices/,
    );
    expect(() => crossEntropy(x.int(), int(target))).toThrow(/must be float32/);
    expect(() => crossEntropy(x, int(target), { weight: tensor([1, 2]) })).toThrow(
      /weight must have shape \[4\]/,
    );
    expect(() => crossEntropy(x, int(target), { reduction: "avg" as any })).toThrow(/reduction must be/);
    expect(() => crossEntropy(x, int(target), { labelSmoothing: 1.5 })).toThrow(/labelSmoothing/);
    // Out-of-range targets on every backend: index-errors.test.ts.
    expect(() => nllLoss(x, tensor([0, 1, 2, 3, 0, 1]))).toThrow(/int32 class indices/);
  });

  it("the module wrapper owns its weight and passes options through", async () => {
    const loss = new CrossEntropyLoss({ weight: tensor(weight), labelSmoothing: 0.2, reduction: "sum" });
    expect(Object.keys(loss.stateDict())).toEqual(["weight"]);
    const ref = refCrossEntropy(logits, n, c, target, { weight, labelSmoothing: 0.2 });
    expectClose(await rd(loss.call(tensor(logits, [n, c]), int(target))), [ref.sum], tol);
    loss.dispose();
  });
});

describeBackends("regression and binary losses", (backend) => {
  const tol = tolerance(backend);
  const rd = async (t: Tensor) => Array.from(await t.data());
  const a = f32(values(6, 1, -3, 3));
  const b = f32(values(6, 2, -3, 3));

  it("mseLoss, l1Loss and huberLoss with each reduction", async () => {
    const x = tensor(a, [2, 3]);
    const y = tensor(b, [2, 3]);
    const sq = a.map((v, i) => (v - b[i]) ** 2);
    const ab = a.map((v, i) => Math.abs(v - b[i]));
    const hub = ab.map((d) => (d < 1 ? 0.5 * d * d : d - 0.5));
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    expectClose(await rd(mseLoss(x, y)), [mean(sq)], tol);
    expectClose(await rd(mseLoss(x, y, { reduction: "sum" })), [mean(sq) * 6], tol);
    expectClose(await rd(mseLoss(x, y, { reduction: "none" })), sq, tol);
    expectClose(await rd(new MSELoss().call(x, y)), [mean(sq)], tol);
    expectClose(await rd(l1Loss(x, y)), [mean(ab)], tol);
    expectClose(await rd(huberLoss(x, y, { reduction: "none" })), hub, tol);
    await gradCheck(
      (p, q) => mseLoss(p, q),
      [
        { values: a, shape: [2, 3] },
        { values: b, shape: [2, 3] },
      ],
    );
    expect(() => mseLoss(x, tensor(b.slice(0, 3)))).toThrow(/must have the same shape/);
    expect(() => mseLoss(x, y.int())).toThrow(/target must be float32/);
  });

  it("binaryCrossEntropyWithLogits: reference values, posWeight, weight, stability at large logits", async () => {
    const t = [1, 0, 1, 0, 0.3, 1];
    const pw = f32([2, 0.5, 1]);
    const w = f32([1, 2, 0.5]);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const ref = a.map((x, i) => {
      const p = pw[i % 3];
      return -w[i % 3] * (p * t[i] * Math.log(sig(x)) + (1 - t[i]) * Math.log(1 - sig(x)));
    });
    const got = binaryCrossEntropyWithLogits(tensor(a, [2, 3]), tensor(t, [2, 3]), {
      posWeight: tensor(pw),
      weight: tensor(w),
      reduction: "none",
    });
    expectClose(await rd(got), ref, tol);
    await gradCheck(
      (x) => binaryCrossEntropyWithLogits(x, tensor(t, [2, 3]), { posWeight: tensor(pw) }),
      [{ values: a, shape: [2, 3] }],
      { eps: 1e-3 },
    );
    // exp(100) overflows float32; the stable form does not: loss(100, 0) = 100, loss(-100, 1) = 100.
    const big = await rd(
      binaryCrossEntropyWithLogits(tensor([100, -100, 100]), tensor([0, 1, 1]), { reduction: "none" }),
    );
    expectClose(big, [100, 100, 0], { rtol: 1e-6, atol: 1e-6 });
    const mod = new BCEWithLogitsLoss({ posWeight: tensor(pw) });
    expect(Object.keys(mod.stateDict())).toEqual(["posWeight"]);
    mod.dispose();
    expect(() =>
      binaryCrossEntropyWithLogits(tensor(a, [2, 3]), tensor(t, [2, 3]), { posWeight: tensor([1, 2]) }),
    ).toThrow(/posWeight of shape \[2\] does not broadcast/);
  });

  it("binaryCrossEntropy on probabilities clamps the log at -100", async () => {
    const p = [0.2, 0.9, 0, 1];
    const t = [1, 0, 1, 1];
    const got = await rd(binaryCrossEntropy(tensor(p), tensor(t), { reduction: "none" }));
    expectClose(got, [-Math.log(0.2), -Math.log(0.1), 100, 0], { rtol: 1e-5, atol: 1e-5 });
    await gradCheck(
      (x) => binaryCrossEntropy(x, tensor([1, 0, 0.5])),
      [{ values: [0.3, 0.6, 0.5], shape: [3] }],
      {
        eps: 1e-3,
      },
    );
    await tidy(async () => {
      const x = tensor([0, 1], { requiresGrad: true });
      binaryCrossEntropy(x, tensor([1, 1])).backward();
      // Finite (not NaN) thanks to the 1e-12 floor on p (1 - p).
      expect((await rd(x.grad!)).every(Number.isFinite)).toBe(true);
      x.grad!.dispose();
    });
    if (backend === "cpu")
      expect(() => binaryCrossEntropy(tensor([1.5]), tensor([1]))).toThrow(/probabilities in \[0, 1\]/);
  });
});
