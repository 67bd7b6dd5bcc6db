import { Generator, manualSeed, tensor, zeros } from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import { stats } from "../test/reference";
import * as init from "./init";

describeBackends("init", () => {
  it("calculateGain follows PyTorch's table", () => {
    expect(init.calculateGain("linear")).toBe(1);
    expect(init.calculateGain("conv2d")).toBe(1);
    expect(init.calculateGain("sigmoid")).toBe(1);
    expect(init.calculateGain("tanh")).toBeCloseTo(5 / 3, 12);
    expect(init.calculateGain("relu")).toBeCloseTo(Math.SQRT2, 12);
    expect(init.calculateGain("leaky_relu")).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 12);
    expect(init.calculateGain("leaky_relu", Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(init.calculateGain("selu")).toBe(0.75);
    expect(() => init.calculateGain("swish" as any)).toThrow(/unsupported nonlinearity 'swish'/);
  });

  it("fans count the receptive field", () => {
    expect(init.calculateFanInAndFanOut([20, 10])).toEqual({ fanIn: 10, fanOut: 20 });
    expect(init.calculateFanInAndFanOut([16, 8, 3, 3])).toEqual({ fanIn: 72, fanOut: 144 });
    expect(() => init.calculateFanInAndFanOut([5])).toThrow(/fewer than 2 dimensions/);
  });

  it("constant_, zeros_, ones_, eye_ write in place and keep the tensor's identity", async () => {
    const t = zeros([2, 3], { requiresGrad: true });
    expect(init.constant_(t, 2.5)).toBe(t);
    expect(Array.from(await t.data())).toEqual(new Array(6).fill(2.5));
    expect(t.requiresGrad).toBe(true);
    init.ones_(t);
    expect(Array.from(await t.data())).toEqual(new Array(6).fill(1));
    init.zeros_(t);
    expect(Array.from(await t.data())).toEqual(new Array(6).fill(0));
    init.eye_(t);
    expect(Array.from(await t.data())).toEqual([1, 0, 0, 0, 1, 0]);
    const i = tensor(new Int32Array(3));
    init.constant_(i, 7);
    expect(Array.from(await i.data())).toEqual([7, 7, 7]);
    expect(() => init.constant_(i, 0.5)).toThrow(/not an integer/);
  });

  it("uniform_ and normal_ have the requested range and moments and follow the generator", async () => {
    const t = zeros([100, 100]);
    init.uniform_(t, -2, 3, { generator: new Generator(1) });
    const u = stats(await t.data());
    expect(u.min).toBeGreaterThanOrEqual(-2);
    expect(u.max).toBeLessThan(3);
    expect(u.mean).toBeCloseTo(0.5, 1);
    expect(u.std).toBeCloseTo(5 / Math.sqrt(12), 1);
    init.normal_(t, 1, 0.5, { generator: new Generator(1) });
    const n = stats(await t.data());
    expect(n.mean).toBeCloseTo(1, 1);
    expect(n.std).toBeCloseTo(0.5, 1);
    const first = Array.from(await t.data());
    init.normal_(t, 1, 0.5, { generator: new Generator(1) });
    expect(Array.from(await t.data())).toEqual(first);
    manualSeed(5);
    init.normal_(t);
    const a = Array.from(await t.data());
    manualSeed(5);
    init.normal_(t);
    expect(Array.from(await t.data())).toEqual(a);
  });

  it("xavier and kaiming use the documented bounds and standard deviations", async () => {
    const t = zeros([300, 200]);
    const g = new Generator(2);
    const check = async (bound: number | null, std: number) => {
      const s = stats(await t.data());
      if (bound !== null) {
        expect(s.min).toBeGreaterThanOrEqual(-bound);
        expect(s.max).toBeLessThanOrEqual(bound);
      }
      expect(Math.abs(s.std / std - 1)).toBeLessThan(0.02);
      expect(Math.abs(s.mean)).toBeLessThan(std * 0.02);
    };
    // fanIn 200, fanOut 300.
    init.xavierUniform_(t, { gain: 2, generator: g });
    const xa = 2 * Math.sqrt(6 / 500);
    await check(xa, xa / Math.sqrt(3));
    init.xavierNormal_(t, { generator: g });
    await check(null, Math.sqrt(2 / 500));
    init.kaimingUniform_(t, { nonlinearity: "relu", generator: g });
    const ka = Math.SQRT2 * Math.sqrt(3 / 200);
    await check(ka, ka / Math.sqrt(3));
    init.kaimingNormal_(t, { mode: "fan_out", nonlinearity: "relu", generator: g });
    await check(null, Math.SQRT2 / Math.sqrt(300));
    init.kaimingUniform_(t, { a: Math.sqrt(5), generator: g });
    await check(1 / Math.sqrt(200), 1 / Math.sqrt(200) / Math.sqrt(3));
    expect(() => init.kaimingUniform_(t, { mode: "fan_avg" as any })).toThrow(/mode must be/);
    expect(() => init.xavierUniform_(tensor([1, 2]))).toThrow(/fewer than 2 dimensions/);
  });
});
