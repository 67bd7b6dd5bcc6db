import { memory, type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { gradAt, INIT, makeParams, SHAPES, setGrads } from "../test/harness";
import { adamRef, sgdRef } from "../test/reference";
import { Adam } from "./adam";
import type { Optimizer } from "./optimizer";
import { RMSprop } from "./rmsprop";
import { SGD } from "./sgd";

async function values(ps: Tensor[]): Promise<number[][]> {
  return Promise.all(ps.map(async (p) => Array.from(await p.data())));
}

describeBackends("Optimizer", (backend) => {
  it("applies per-group hyper-parameters and skips parameters without a gradient", async () => {
    const [a, b] = makeParams();
    const frozen = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([{ params: [a] }, { params: [b, frozen], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => [g.lr, g.momentum])).toEqual([
      [0.1, 0],
      [0.5, 0.9],
    ]);
    const refA = sgdRef({ lr: 0.1 });
    const refB = sgdRef({ lr: 0.5, momentum: 0.9 });
    const ea = [...INIT[0]];
    const eb = [...INIT[1]];
    for (let t = 0; t < 3; t++) {
      setGrads([a, b], t);
      opt.step();
      refA(ea, gradAt(t, 0));
      refB(eb, gradAt(t, 1));
    }
    expectClose(await a.data(), ea, tolerance(backend));
    expectClose(await b.data(), eb, tolerance(backend));
    expect(Array.from(await frozen.data())).toEqual([1, 2]);
    expect(opt.state.has(frozen)).toBe(false);
    expect(opt.state.has(a)).toBe(false); // no momentum, no state
    expect(opt.state.get(b)?.momentumBuffer).toBeDefined();
  });

  it("trains through autograd: zeroGrad, backward, step", async () => {
    const w = tensor([1, -2, 3], { requiresGrad: true });
    const c = tensor([0.5, 1, -1]);
    const opt = new Adam([w], { lr: 0.1 });
    const ref = adamRef({ lr: 0.1 });
    const expected = [1, -2, 3];
    for (let t = 0; t < 3; t++) {
      const loss = opt.step(() =>
        tidy(() => {
          opt.zeroGrad();
          const l = w.mul(w).mul(c).sum();
          l.backward();
          return l;
        }),
      );
      expectClose([await loss!.item()], [expected.reduce((s, x, i) => s + x * x * [0.5, 1, -1][i], 0)], {
        rtol: 1e-4,
      });
      loss!.dispose();
      ref(
        expected,
        expected.map((x, i) => 2 * x * [0.5, 1, -1][i]),
      );
    }
    expectClose(await w.data(), expected, { rtol: 1e-4, atol: 1e-5 });
    expect(w.grad).not.toBeNull();
    opt.zeroGrad();
    expect(w.grad).toBeNull();
  });

  it("stateDict has PyTorch's layout", () => {
    const ps = makeParams();
    const opt = new Adam([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.5 }], { amsgrad: true });
    setGrads(ps, 0);
    opt.step();
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(["0", "1"]);
    expect(Object.keys(sd.state["1"]).sort()).toEqual(["expAvg", "expAvgSq", "maxExpAvgSq", "step"]);
    expect(sd.state["0"].step).toBe(1);
    expect((sd.state["1"].expAvg as Tensor).shape).toEqual(SHAPES[1]);
    expect(sd.paramGroups).toEqual([
      {
        lr: 1e-3,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 0,
        amsgrad: true,
        maximize: false,
        params: [0],
      },
      {
        lr: 0.5,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 0,
        amsgrad: true,
        maximize: false,
        params: [1],
      },
    ]);
    // The dict is a snapshot of the hyper-parameters, not the groups themselves.
    (sd.paramGroups[0].betas as number[])[0] = 0;
    expect(opt.paramGroups[0].betas[0]).toBe(0.9);
  });

  const kinds: [string, (ps: Tensor[]) => Optimizer<any>][] = [
    ["SGD nesterov", (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })],
    ["Adam amsgrad", (ps) => new Adam(ps, { lr: 0.05, amsgrad: true })],
    ["RMSprop centered momentum", (ps) => new RMSprop(ps, { lr: 0.01, centered: true, momentum: 0.5 })],
  ];
  for (const [name, make] of kinds) {
    it(`stateDict round trip continues exactly like an uninterrupted run: ${name}`, async () => {
      const straight = makeParams();
      const optStraight = make(straight);
      for (let t = 0; t < 6; t++) {
        setGrads(straight, t);
        optStraight.step();
      }

      const first = makeParams();
      const optFirst = make(first);
      for (let t = 0; t < 3; t++) {
        setGrads(first, t);
        optFirst.step();
      }
      const saved = optFirst.stateDict();
      // A fresh model (restored from the first one's values) and a fresh optimizer.
      const restored = (await values(first)).map((v, k) => tensor(v, SHAPES[k], { requiresGrad: true }));
      const optRestored = make(restored);
      optRestored.loadStateDict(saved);
      // The load copied the tensors: the original optimizer can go.
      optFirst.dispose();
      for (let t = 3; t < 6; t++) {
        setGrads(restored, t);
        optRestored.step();
      }
      expect(await values(restored)).toEqual(await values(straight));
    });
  }

  it("loadStateDict validates before changing anything", () => {
    const ps = makeParams();
    const opt = new SGD(ps, { lr: 0.1, momentum: 0.9 });
    setGrads(ps, 0);
    opt.step();
    const sd = opt.stateDict();
    const other = new SGD([{ params: [ps[0]] }, { params: [ps[1]] }], { lr: 0.1, momentum: 0.9 });
    expect(() => other.loadStateDict(sd)).toThrow(
      "SGD.loadStateDict: the state dict has 1 parameter groups, this optimizer has 2",
    );
    const single = new SGD([ps[0]], { lr: 0.1 });
    expect(() => single.loadStateDict(sd)).toThrow(
      /parameter group 0 has 2 parameters in the state dict, 1 in this/,
    );
    const swapped = new SGD([ps[1], ps[0]], { lr: 0.1 });
    expect(() => swapped.loadStateDict(sd)).toThrow(
      /state 'momentumBuffer' of parameter 0 has shape \[2, 2\]/,
    );
    expect(swapped.paramGroups[0].momentum).toBe(0);
    const bad = { ...sd, paramGroups: [{ ...sd.paramGroups[0], lr: -1 }] };
    expect(() => opt.loadStateDict(bad)).toThrow(/invalid lr = -1/);
  });

  it("memory stays flat over 1,000 Adam steps of a small model", async () => {
    const w1 = tensor(
      Array.from({ length: 4 * 8 }, (_, i) => Math.sin(i) * 0.5),
      [4, 8],
      { requiresGrad: true },
    );
    const b1 = tensor(new Array(8).fill(0.1), [8], { requiresGrad: true });
    const w2 = tensor(
      Array.from({ length: 8 }, (_, i) => Math.cos(i) * 0.5),
      [8, 1],
      { requiresGrad: true },
    );
    const x = tensor(
      Array.from({ length: 16 * 4 }, (_, i) => Math.sin(i * 0.37)),
      [16, 4],
    );
    const y = tensor(
      Array.from({ length: 16 }, (_, i) => Math.cos(i * 0.5)),
      [16, 1],
    );
    const opt = new Adam([w1, b1, w2], { lr: 0.01, amsgrad: true, weightDecay: 1e-4 });
    const trainStep = () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = x.matmul(w1).add(b1).relu().matmul(w2).sub(y).square().mean();
        loss.backward();
        opt.step();
      });
    trainStep();
    // The first step creates the state and the gradients; from then on nothing may grow.
    const before = memory();
    for (let i = 0; i < 999; i++) trainStep();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    expect(after.buffers).toBe(before.buffers);
    const loss = tidy(() => x.matmul(w1).add(b1).relu().matmul(w2).sub(y).square().mean());
    expect(await loss.item()).toBeLessThan(0.05);
    loss.dispose();

    opt.zeroGrad();
    opt.dispose();
    expect(opt.state.size).toBe(0);
    const freed = memory();
    expect(freed.tensors).toBe(before.tensors - 3 - 3 * 3); // 3 grads, 3 state tensors per parameter
  });
});

it("rejects empty, mixed and duplicated parameters", () => {
  const ps = makeParams();
  expect(() => new SGD([], { lr: 0.1 })).toThrow("SGD: got an empty parameter list");
  expect(() => new SGD([ps[0], { params: [ps[1]] }] as any, { lr: 0.1 })).toThrow(/not a mix/);
  expect(() => new SGD([{ params: [ps[0]] }, { params: [ps[0]] }], { lr: 0.1 })).toThrow(
    /parameter group 1: params\[0\] already appears in a parameter group/,
  );
  expect(() => new SGD([tensor([1, 2], { dtype: "int32" })], { lr: 0.1 })).toThrow(/dtype int32/);
  const nonLeaf = tidy(() => ps[0].mul(2));
  expect(() => new SGD([nonLeaf], { lr: 0.1 })).toThrow(/not a leaf/);
});
