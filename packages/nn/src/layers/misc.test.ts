import { Generator, manualSeed, ones, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { f32, values } from "../../test/reference";
import { GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "./activation";
import { ModuleList, Sequential } from "./container";
import { Dropout } from "./dropout";
import { Embedding } from "./embedding";
import { Linear } from "./linear";
import { Flatten, Identity } from "./shape";

/** erf by its Maclaurin series (converges fast for |x| < 3), for an exact GELU reference. */
function erf(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describeBackends("activations", (backend) => {
  const tol = tolerance(backend);
  const xv = f32([-2.5, -1, -0.1, 0.3, 1, 2.2]);
  const refs: [string, () => import("../module").Module, (x: number) => number][] = [
    ["ReLU", () => new ReLU(), (x) => Math.max(0, x)],
    ["LeakyReLU", () => new LeakyReLU(0.2), (x) => (x > 0 ? x : 0.2 * x)],
    ["Sigmoid", () => new Sigmoid(), (x) => 1 / (1 + Math.exp(-x))],
    ["Tanh", () => new Tanh(), Math.tanh],
    ["GELU", () => new GELU(), (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
    [
      "GELU tanh",
      () => new GELU({ approximate: "tanh" }),
      (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
    ],
  ];
  for (const [name, make, f] of refs) {
    it(`${name} matches its formula and passes a gradient check`, async () => {
      const m = make();
      const y = m.call(tensor(xv, [2, 3]));
      expectClose(await y.data(), xv.map(f), { rtol: 1e-5, atol: backend === "cpu" ? 2e-7 : 2e-5 }, name);
      await gradCheck((x) => m.call(x), [{ values: xv, shape: [2, 3] }], { eps: 1e-3 });
    });
  }

  it("Softmax and LogSoftmax along a given dim", async () => {
    const x = tensor(xv, [2, 3]);
    const rows = [xv.slice(0, 3), xv.slice(3)].map((r) => {
      const m = Math.max(...r);
      const z = r.reduce((s, v) => s + Math.exp(v - m), 0);
      return r.map((v) => Math.exp(v - m) / z);
    });
    expectClose(await new Softmax(1).call(x).data(), rows.flat(), tol);
    expectClose(await new LogSoftmax(-1).call(x).data(), rows.flat().map(Math.log), tol);
    const cols = await new Softmax(0).call(x).data();
    for (let j = 0; j < 3; j++) expect(cols[j] + cols[j + 3]).toBeCloseTo(1, 6);
    await gradCheck((t) => new LogSoftmax(1).call(t), [{ values: xv, shape: [2, 3] }], { eps: 1e-3 });
  });

  it("Flatten keeps the batch axis; Identity returns its input", () => {
    const x = ones([2, 3, 4, 5]);
    expect(new Flatten().call(x).shape).toEqual([2, 60]);
    expect(new Flatten(0).call(x).shape).toEqual([120]);
    expect(new Flatten(1, 2).call(x).shape).toEqual([2, 12, 5]);
    expect(new Identity().call(x)).toBe(x);
  });
});

describeBackends("Dropout", () => {
  it("is the identity in eval mode and when p = 0", async () => {
    const x = tensor(values(100, 1), [10, 10]);
    const d = new Dropout(0.5).eval();
    expect(d.call(x)).toBe(x);
    expect(new Dropout(0).call(x)).toBe(x);
  });

  it("zeroes about p of the elements and scales the rest by 1/(1-p), with gradient through the mask", async () => {
    const p = 0.3;
    const x = ones([100, 100], { requiresGrad: true });
    const d = new Dropout(p, { generator: new Generator(42) });
    await tidy(async () => {
      const y = d.call(x);
      const v = await y.data();
      let zeros = 0;
      let wrongScale = 0;
      for (const e of v) {
        if (e === 0) zeros++;
        else if (Math.abs(e - 1 / (1 - p)) > 1e-6) wrongScale++;
      }
      expect(wrongScale).toBe(0);
      // 10,000 Bernoulli(0.3): std of the fraction is ~0.0046.
      expect(Math.abs(zeros / v.length - p)).toBeLessThan(0.02);
      y.sum().backward();
      expect(Array.from(await x.grad!.data())).toEqual(Array.from(v));
    });
    x.grad?.dispose();
    expect(() => new Dropout(1.5)).toThrow(/between 0 and 1/);
  });

  it("is reproducible from a seed (own generator or manualSeed)", async () => {
    const x = ones([50]);
    const a = await new Dropout(0.5, { generator: new Generator(3) }).call(x).data();
    const b = await new Dropout(0.5, { generator: new Generator(3) }).call(x).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    manualSeed(9);
    const c = await new Dropout(0.5).call(x).data();
    manualSeed(9);
    const e = await new Dropout(0.5).call(x).data();
    expect(Array.from(c)).toEqual(Array.from(e));
    expect(Array.from(c)).not.toEqual(Array.from(a));
    // p = 1 drops everything (PyTorch gives zeros, not NaN).
    expect(Array.from(await new Dropout(1).call(x).data())).toEqual(new Array(50).fill(0));
  });
});

describeBackends("Embedding", (backend) => {
  const tol = tolerance(backend);
  it("looks up rows for int32 indices of any shape and accumulates gradients of repeated rows", async () => {
    const emb = new Embedding(5, 3, { generator: new Generator(1) });
    const W = Array.from(await emb.weight.data());
    const idx = tensor(new Int32Array([4, 0, 4, 2]), [2, 2]);
    await tidy(async () => {
      const y = emb.call(idx);
      expect(y.shape).toEqual([2, 2, 3]);
      const ref = [4, 0, 4, 2].flatMap((r) => W.slice(r * 3, r * 3 + 3));
      expectClose(await y.data(), ref, tol);
      const gv = f32(values(12, 3));
      y.backward(tensor(gv, [2, 2, 3]));
      const dW = new Array(15).fill(0);
      [4, 0, 4, 2].forEach((r, k) => {
        for (let j = 0; j < 3; j++) dW[r * 3 + j] += gv[k * 3 + j];
      });
      expectClose(await emb.weight.grad!.data(), dW, tol);
    });
    emb.dispose();
  });

  it("initializes from N(0, 1) and keeps the padding row at zero with no gradient", async () => {
    const big = new Embedding(1000, 16, { generator: new Generator(2) });
    const v = Array.from(await big.weight.data());
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(sd - 1)).toBeLessThan(0.02);
    big.dispose();

    const emb = new Embedding(4, 2, { paddingIdx: 1, generator: new Generator(3) });
    expect(Array.from((await emb.weight.data()).slice(2, 4))).toEqual([0, 0]);
    await tidy(async () => {
      emb
        .call(tensor(new Int32Array([1, 3, 1])))
        .sum()
        .backward();
      expectClose(await emb.weight.grad!.data(), [0, 0, 0, 0, 0, 0, 1, 1], tol);
    });
    emb.dispose();
  });

  it("rejects float indices clearly", () => {
    const emb = new Embedding(3, 2);
    expect(() => emb.call(tensor([0, 1]))).toThrow(/indices must be int32, got float32/);
    // Out-of-range indices on every backend: ../index-errors.test.ts.
    emb.dispose();
  });

  it("fromPretrained copies the weights and freezes them by default", async () => {
    const w = tensor([
      [1, 2],
      [3, 4],
    ]);
    const emb = Embedding.fromPretrained(w);
    expect(emb.weight.requiresGrad).toBe(false);
    expectClose(await emb.call(tensor(new Int32Array([1]))).data(), [3, 4]);
    emb.dispose();
  });
});

describeBackends("Sequential", () => {
  it("chains children named 0, 1, ... with PyTorch state dict keys and printout", async () => {
    const g = new Generator(0);
    const model = new Sequential(
      new Linear(4, 8, { generator: g }),
      new ReLU(),
      new Linear(8, 2, { generator: g }),
    );
    expect(Object.keys(model.stateDict())).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    expect(model.length).toBe(3);
    expect(model.at(-1)).toBeInstanceOf(Linear);
    expect(model.parameters()).toHaveLength(4);
    const x = tensor(values(8, 2), [2, 4]);
    const manual = (model.at(2) as Linear).call((model.at(0) as Linear).call(x).relu());
    expectClose(await model.call(x).data(), await manual.data());
    expect(model.toString()).toBe(
      [
        "Sequential(",
        "  (0): Linear(inFeatures=4, outFeatures=8, bias=true)",
        "  (1): ReLU()",
        "  (2): Linear(inFeatures=8, outFeatures=2, bias=true)",
        ")",
      ].join("\n"),
    );
    model.eval();
    expect(model.at(1).training).toBe(false);
    const list = new ModuleList([new Linear(2, 2), new Linear(2, 2)]);
    expect(Object.keys(list.stateDict())).toEqual(["0.weight", "0.bias", "1.weight", "1.bias"]);
    model.dispose();
    list.dispose();
  });
});
