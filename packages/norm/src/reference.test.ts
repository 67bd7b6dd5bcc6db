import { readFileSync } from "node:fs";
import type { Module } from "@minibatch/nn";
import { tensor, tidy } from "@minibatch/tensor";
import "@minibatch/backend-cpu";
import { afterAll, describe, expect, it } from "vitest";
import {
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  GroupNorm,
  InstanceNorm2d,
  LayerNorm,
  MinMaxScaler,
  StandardScaler,
} from "./index";

// Fixtures written by PyTorch and scikit-learn (packages/norm/scripts/fixtures.py); committed, so
// these tests need no Python. Each family records the worst error it saw, printed at the end.
const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8"));
const norm = load("norm-torch.json");
const scalers = load("scalers-sklearn.json");

const worst: Record<string, { err: number; count: number }> = {};
/** Largest |a - b| / (1 + |b|) over the arrays; records it for `family`. */
function compare(
  family: string,
  got: ArrayLike<number>,
  want: readonly (number | null)[],
  tol: number,
  what: string,
) {
  expect(got.length, `${what}: length`).toBe(want.length);
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i] ?? Number.NaN;
    if (Number.isNaN(w)) {
      expect(Number.isNaN(got[i]), `${what}[${i}]: expected NaN, got ${got[i]}`).toBe(true);
      continue;
    }
    const e = Math.abs(got[i] - w) / (1 + Math.abs(w));
    if (!(e <= tol))
      throw new Error(`${what}[${i}]: got ${got[i]}, PyTorch/sklearn ${w} (error ${e}, tolerance ${tol})`);
    err = Math.max(err, e);
  }
  const f = (worst[family] ??= { err: 0, count: 0 });
  f.err = Math.max(f.err, err);
  f.count++;
}
afterAll(() => {
  for (const [family, { err, count }] of Object.entries(worst)) {
    console.log(
      `reference fixtures: ${family}: ${count} comparisons, worst relative error ${err.toExponential(2)}`,
    );
  }
});

function build(layer: {
  type: string;
  args: number[];
  options?: Record<string, unknown>;
}): Module & Record<string, any> {
  const opts = layer.options ?? {};
  switch (layer.type) {
    case "BatchNorm1d":
      return new BatchNorm1d(layer.args[0], opts);
    case "BatchNorm2d":
      return new BatchNorm2d(layer.args[0], opts);
    case "BatchNorm3d":
      return new BatchNorm3d(layer.args[0], opts);
    case "LayerNorm":
      return new LayerNorm(layer.args[0], opts);
    case "GroupNorm":
      return new GroupNorm(layer.args[0], layer.args[1], opts);
    case "InstanceNorm2d":
      return new InstanceNorm2d(layer.args[0], opts);
  }
  throw new Error(`no such layer ${layer.type}`);
}

describe("BN family against PyTorch (train steps, running stats, eval, gradients)", () => {
  for (const c of norm.cases) {
    it(c.name, () => {
      const m = build(c.layer);
      const family = c.layer.type.replace(/\dd$/, "");
      if (c.weight) {
        m.weight.assign(tensor(c.weight));
        m.bias.assign(tensor(c.bias));
      }
      c.steps.forEach((s: any, k: number) => {
        m.train(s.training);
        tidy(() => {
          const x = tensor(s.x, s.shape, { requiresGrad: true });
          const y = m.call(x);
          y.mul(tensor(s.dy, s.shape)).sum().backward();
          compare(family, y.dataSync(), s.y, 2e-5, `${c.name} step ${k} y`);
          compare(family, x.grad!.dataSync(), s.dx, 2e-4, `${c.name} step ${k} dx`);
          if (s.dweight) {
            compare(family, m.weight.grad.dataSync(), s.dweight, 2e-4, `${c.name} step ${k} dweight`);
            compare(family, m.bias.grad.dataSync(), s.dbias, 2e-5, `${c.name} step ${k} dbias`);
            m.weight.grad.dispose();
            m.bias.grad.dispose();
            m.weight.grad = null;
            m.bias.grad = null;
          }
        });
        if (s.runningMean) {
          compare(family, m.runningMean.dataSync(), s.runningMean, 1e-6, `${c.name} step ${k} runningMean`);
          compare(family, m.runningVar.dataSync(), s.runningVar, 1e-6, `${c.name} step ${k} runningVar`);
          expect(m.numBatchesTracked.dataSync()[0]).toBe(s.numBatchesTracked);
        }
      });
    });
  }
});

const rows = (x: (number | null)[][]) => x.map((r) => r.map((v) => v ?? Number.NaN));

// partialFit over the recorded chunks must give what scikit-learn's fit gives on the whole.
describe("scalers against scikit-learn (partialFit over chunks)", () => {
  for (const c of scalers.cases) {
    it(c.name, async () => {
      const x = rows(c.x);
      const ss = new StandardScaler();
      const mm = new MinMaxScaler();
      let at = 0;
      for (const n of c.chunks) {
        const part = x.slice(at, at + n);
        at += n;
        await ss.partialFit(part);
        await mm.partialFit(part);
      }
      // float64 statistics: compared far below float32 rounding.
      compare("StandardScaler", ss.mean!, c.standard.mean, 1e-12, `${c.name} mean`);
      // Variance relative to itself: at 1e9 +- 1e-6 it is about 1e-12, and must keep its digits.
      const rel = (got: Float64Array, want: number[]) =>
        got.map((v, i) => (want[i] === 0 ? v + 1 : v / want[i]));
      const relVar = rel(ss.var as Float64Array, c.standard.var);
      compare(
        "StandardScaler variance (relative)",
        relVar,
        c.standard.var.map(() => 1),
        1e-6,
        `${c.name} var`,
      );
      const relScale = rel(ss.scale as Float64Array, c.standard.scale);
      compare(
        "StandardScaler",
        relScale,
        c.standard.scale.map(() => 1),
        1e-6,
        `${c.name} scale`,
      );
      const seen = ss.nSamplesSeen;
      expect(typeof seen === "number" ? c.standard.nSamplesSeen.map(() => seen) : seen).toEqual(
        c.standard.nSamplesSeen,
      );
      compare("MinMaxScaler", mm.dataMin, c.minmax.dataMin, 1e-15, `${c.name} dataMin`);
      compare("MinMaxScaler", mm.dataMax, c.minmax.dataMax, 1e-15, `${c.name} dataMax`);
      compare(
        "MinMaxScaler",
        mm.scale.map((v, i) => v / c.minmax.scale[i]),
        c.minmax.scale.map(() => 1),
        1e-12,
        `${c.name} scale`,
      );
      compare(
        "MinMaxScaler",
        mm.min.map((v, i) => v / (c.minmax.min[i] || 1)),
        c.minmax.min.map((v: number) => (v ? 1 : 0)),
        1e-9,
        `${c.name} min`,
      );
      // transform runs on float32 tensors: only meaningful where float32 can hold the data's spread
      // (not 1e9 + 1e-6, nor 5 + 1e-13 * i).
      if (!/1e9|near-constant/.test(c.name)) {
        const probe = x.slice(0, c.standard.transform.length);
        const y = ss.transform(tensor(probe));
        compare(
          "StandardScaler transform (float32)",
          y.dataSync(),
          c.standard.transform.flat(),
          1e-6,
          `${c.name} transform`,
        );
        y.dispose();
      }
    });
  }
});
