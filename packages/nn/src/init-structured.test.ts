import { Generator, zeros } from "@minibatch/tensor";
import { describeBackends, expectClose } from "@minibatch/testing";
import { describe, expect, it } from "vitest";
import { fixture } from "../test/fixtures";
import * as init from "./init";

interface InitFixture {
  dirac: { shape: number[]; groups: number; values: number[] }[];
  eye: { shape: number[]; values: number[] }[];
  truncNormal: {
    mean: number;
    std: number;
    a: number;
    b: number;
    expectedMean: number;
    expectedStd: number;
    torchSampleMean: number;
    torchSampleStd: number;
  }[];
}

const fx = fixture<InitFixture>("init.json");

function moments(v: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i] - mean) ** 2;
  return { mean, std: Math.sqrt(q / (v.length - 1)) };
}

describeBackends("structured initializers", () => {
  it("dirac_ equals PyTorch's, with groups, for 3-, 4- and 5-d weights", async () => {
    for (const c of fx.dirac) {
      const t = zeros(c.shape, { requiresGrad: true });
      expect(init.dirac_(t, c.groups)).toBe(t);
      expect(Array.from(await t.data()), `shape [${c.shape}] groups ${c.groups}`).toEqual(c.values);
      t.dispose();
    }
  });

  it("eye_ equals PyTorch's", async () => {
    for (const c of fx.eye) {
      const t = zeros(c.shape);
      init.eye_(t);
      expect(Array.from(await t.data())).toEqual(c.values);
      t.dispose();
    }
  });

  it("orthogonal_ gives Q^T Q = gain^2 I (tall) and Q Q^T = gain^2 I (wide), conv weights flattened", async () => {
    for (const [shape, gain] of [
      [[6, 4], 1],
      [[3, 7], 2],
      [[4, 2, 3, 3], Math.SQRT2],
      [[5, 5], 0.5],
    ] as [number[], number][]) {
      const t = zeros(shape);
      init.orthogonal_(t, { gain, generator: new Generator(3) });
      const v = await t.data();
      const rows = shape[0];
      const cols = v.length / rows;
      // Gram matrix of the smaller side.
      const n = Math.min(rows, cols);
      const gram: number[] = [];
      const ident: number[] = [];
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          if (rows >= cols) for (let k = 0; k < rows; k++) s += v[k * cols + i] * v[k * cols + j];
          else for (let k = 0; k < cols; k++) s += v[i * cols + k] * v[j * cols + k];
          gram.push(s);
          ident.push(i === j ? gain * gain : 0);
        }
      expectClose(gram, ident, { rtol: 1e-5, atol: 2e-6 }, `shape [${shape}]`);
      t.dispose();
    }
  });

  it("sparse_ zeroes ceil(sparsity * rows) entries per column and draws the rest from N(0, std^2)", async () => {
    const t = zeros([200, 50]);
    init.sparse_(t, 0.3, { std: 0.5, generator: new Generator(1) });
    const v = await t.data();
    for (let j = 0; j < 50; j++) {
      let z = 0;
      for (let i = 0; i < 200; i++) if (v[i * 50 + j] === 0) z++;
      expect(z, `column ${j}`).toBe(60);
    }
    const nonzero = Array.from(v).filter((x) => x !== 0);
    const m = moments(nonzero);
    expect(Math.abs(m.mean)).toBeLessThan(0.02);
    expect(m.std).toBeGreaterThan(0.48);
    expect(m.std).toBeLessThan(0.52);
    t.dispose();
  });

  it("truncNormal_ stays in [a, b] and has the truncated normal's moments, like PyTorch's sampler", async () => {
    for (const c of fx.truncNormal) {
      const t = zeros([200_000]);
      init.truncNormal_(t, { mean: c.mean, std: c.std, a: c.a, b: c.b, generator: new Generator(7) });
      const v = await t.data();
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (const x of v) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      expect(lo).toBeGreaterThanOrEqual(Math.fround(c.a));
      expect(hi).toBeLessThanOrEqual(Math.fround(c.b));
      const m = moments(v);
      // 200k draws: the sample mean is within ~4 standard errors of the exact one.
      const se = c.expectedStd / Math.sqrt(v.length);
      expect(Math.abs(m.mean - c.expectedMean), `mean for ${JSON.stringify(c)}`).toBeLessThan(5 * se);
      expect(Math.abs(m.std / c.expectedStd - 1)).toBeLessThan(0.01);
      // PyTorch's own sampler agrees with the same exact moments (a check of the fixture).
      expect(Math.abs(c.torchSampleMean - c.expectedMean)).toBeLessThan(5 * (c.expectedStd / 1000));
      t.dispose();
    }
  });
});

describe("initializer argument checks", () => {
  it("rejects bad shapes and options", () => {
    expect(() => init.dirac_(zeros([3, 3]))).toThrow(/expected a 3-, 4- or 5-d tensor, got \[3, 3\]/);
    expect(() => init.dirac_(zeros([3, 3, 3]), 2)).toThrow(/groups=2 must be a positive integer dividing/);
    expect(() => init.sparse_(zeros([3, 3, 3]), 0.1)).toThrow(/expected a 2-d tensor/);
    expect(() => init.sparse_(zeros([3, 3]), 1.5)).toThrow(/sparsity must be in \[0, 1\]/);
    expect(() => init.orthogonal_(zeros([3]))).toThrow(/at least 2 dimensions/);
    expect(() => init.truncNormal_(zeros([3]), { a: 1, b: 0 })).toThrow(/expected a < b/);
    expect(() => init.truncNormal_(zeros([3]), { low: 0 } as any)).toThrow(/unknown option 'low'/);
    expect(() => init.kaimingUniform_(zeros([3, 3]), { nonLinearity: "relu" } as any)).toThrow(
      /did you mean 'nonlinearity'/,
    );
    expect(() => init.xavierNormal_(zeros([3, 3]), { gian: 2 } as any)).toThrow(/did you mean 'gain'/);
  });
});
