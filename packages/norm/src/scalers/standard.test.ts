import { type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, tolerance } from "@minibatch/testing";
import { describe, expect, it } from "vitest";
import { chunk, randomValues, refColumns, seeded } from "../test-helpers";
import { MinMaxScaler } from "./minmax";
import { StandardScaler } from "./standard";

const read = async (t: Tensor) => Array.from(await t.data());
const N = Number.NaN;
/** Two-pass float64 statistics agree with Welford to a few ulps. */
const close64 = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) =>
  expectClose(a, b, { rtol: 1e-12, atol: 1e-300 }, what);

describeBackends("StandardScaler", (backend) => {
  const tol = tolerance(backend);

  it("reproduces scikit-learn's documented example", async () => {
    const s = new StandardScaler();
    await s.fit(
      tensor([
        [0, 0],
        [0, 0],
        [1, 1],
        [1, 1],
      ]),
    );
    expect(Array.from(s.mean!)).toEqual([0.5, 0.5]);
    expect(Array.from(s.var!)).toEqual([0.25, 0.25]);
    expect(Array.from(s.scale!)).toEqual([0.5, 0.5]);
    expect(s.nSamplesSeen).toBe(4);
    expectClose(await read(s.transform(tensor([[2, 2]]))), [3, 3], tol, "transform [[2, 2]]");
  });

  it("matches two-pass float64 statistics with the biased variance", async () => {
    const rows = chunk(randomValues(50 * 4, 3, 5, 2), 4);
    const s = await new StandardScaler().fit(tensor(rows));
    const ref = refColumns(rows);
    close64(s.mean!, ref.mean, "mean");
    close64(s.var!, ref.var, "var");
    close64(s.scale!, ref.var.map(Math.sqrt), "scale");
    const y = await read(s.transform(tensor(rows)));
    expectClose(
      y,
      rows.flatMap((r) => r.map((v, j) => (v - ref.mean[j]) / Math.sqrt(ref.var[j]))),
      tol,
      "z",
    );
  });

  it("constant features get scale 1 and map to 0; near-constant ones are still scaled", async () => {
    const a = Math.fround(0.1);
    const b = 1 + 2 ** -20;
    const rows = Array.from({ length: 1000 }, (_, i) => [a, 1e9, i % 2 ? 1 : b]);
    const s = await new StandardScaler().fit(tensor(rows));
    expect(Array.from(s.scale!).slice(0, 2)).toEqual([1, 1]);
    expectClose([s.scale![2]], [2 ** -21], { rtol: 1e-9 }, "near-constant scale");
    const y = await read(s.transform(tensor([[a, 1e9, b]])));
    expectClose(y, [0, 0, 1], tol, "constant -> 0, near-constant -> 1");
  });

  it("ignores NaN when fitting (per-feature counts), keeps it in transform; all-NaN column is NaN", async () => {
    const rows = [
      [1, N, N],
      [N, 4, N],
      [3, 8, N],
      [5, 6, N],
    ];
    const s = await new StandardScaler().fit(tensor(rows));
    expect(s.nSamplesSeen).toEqual([3, 3, 0]);
    expect(Array.from(s.mean!)).toEqual([3, 6, N]);
    close64(s.var!, [8 / 3, 8 / 3, N], "var");
    expect(Number.isNaN(s.scale![2])).toBe(true);
    const y = await read(s.transform(tensor(rows)));
    const k = Math.sqrt(8 / 3);
    expectClose(y, [-2 / k, N, N, N, -2 / k, N, 0, 2 / k, N, 2 / k, 0, N], tol, "NaN kept");
    const same = await new StandardScaler().fit(
      tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    expect(same.nSamplesSeen).toBe(2);
  });

  it("rejects Infinity naming the feature and the value", async () => {
    const s = await new StandardScaler().fit(tensor([[1, 2, 3]]));
    await expect(s.partialFit(tensor([[0, 0, Number.NEGATIVE_INFINITY]]))).rejects.toThrow(
      /feature 2 contains -Infinity/,
    );
    await expect(new StandardScaler().fit([[Number.POSITIVE_INFINITY]])).rejects.toThrow(
      /feature 0 contains Infinity/,
    );
    expect(s.nSamplesSeen).toBe(1);
  });

  it("a single sample has variance 0, scale 1 and maps to 0", async () => {
    const s = await new StandardScaler().fit(tensor([[4, -2]]));
    expect(Array.from(s.var!)).toEqual([0, 0]);
    expect(Array.from(s.scale!)).toEqual([1, 1]);
    expectClose(
      await read(
        s.transform(
          tensor([
            [4, -2],
            [5, 0],
          ]),
        ),
      ),
      [0, 0, 1, 2],
      tol,
      "single sample",
    );
  });

  it("partialFit over any chunking, chunks of one included, reproduces fit bit for bit", async () => {
    const rows = chunk(randomValues(23 * 3, 9, 1000, 50), 3);
    rows[2][0] = N;
    rows[7][2] = N;
    const whole = await new StandardScaler().fit(tensor(rows));
    for (const size of [1, 2, 7, 22]) {
      const s = new StandardScaler();
      for (const part of chunk(rows, size)) await s.partialFit(tensor(part));
      expect(Array.from(s.mean!)).toEqual(Array.from(whole.mean!));
      expect(Array.from(s.var!)).toEqual(Array.from(whole.var!));
      expect(s.nSamplesSeen).toEqual([22, 23, 22]);
    }
    // fit resets; partialFit accumulates.
    await whole.fit(tensor(rows.slice(0, 3)));
    expect(whole.nSamplesSeen).toEqual([2, 3, 3]);
  });

  it("merges separately fitted parts with the parallel formula (an empty part adds nothing)", async () => {
    const rows = chunk(randomValues(30 * 2, 4, 3, 1), 2);
    const a = await new StandardScaler().fit(tensor(rows.slice(0, 11)));
    const b = await new StandardScaler().fit(tensor(rows.slice(11)));
    const empty = await new StandardScaler().fit([[N, N]]);
    a.merge(b).merge(empty);
    const ref = refColumns(rows);
    close64(a.mean!, ref.mean, "merged mean");
    close64(a.var!, ref.var, "merged var");
    expect(a.nSamplesSeen).toBe(30);
  });

  it("round-trips through inverseTransform", async () => {
    const xs = randomValues(60, 8, 50, 10);
    const s = new StandardScaler();
    const back = s.inverseTransform(await s.fitTransform(tensor(xs, [20, 3])));
    expectClose(await read(back), xs, { rtol: 1e-5, atol: 1e-4 }, "round trip");
  });

  it("stays accurate at large offsets (1e9 plus small noise)", async () => {
    // Host float64 data: Welford keeps the noise's variance; E[x^2] - E[x]^2 would lose it.
    const r = seeded(3);
    const rows = Array.from({ length: 500 }, () => [1e9 + (r() - 0.5) * 1e-3, -1e9 + r()]);
    const s = await new StandardScaler().fit(rows);
    const ref = refColumns(rows);
    expectClose(s.mean!, ref.mean, { rtol: 1e-15 }, "mean");
    expectClose(s.var!, ref.var, { rtol: 1e-6 }, "var");
    // float32 data whose mean (1e9 + 96) float32 cannot hold: transform still gives exact z-scores.
    const t = await new StandardScaler().fit(tensor([[1e9], [1e9 + 64], [1e9 + 128], [1e9 + 192]]));
    expect(t.mean![0]).toBe(1e9 + 96);
    const y = await read(t.transform(tensor([[1e9], [1e9 + 64], [1e9 + 128], [1e9 + 192]])));
    const k = Math.sqrt(1.25);
    expectClose(y, [-1.5 / k, -0.5 / k, 0.5 / k, 1.5 / k], tol, "z at 1e9");
    const back = await read(t.inverseTransform(tensor([[-1.5 / k], [1.5 / k]])));
    expect(back).toEqual([1e9, 1e9 + 192]);
  });

  it("withMean / withStd off, as scikit-learn", async () => {
    const rows = [
      [1, 10],
      [3, 30],
    ];
    const noMean = await new StandardScaler({ withMean: false }).fit(tensor(rows));
    expectClose(await read(noMean.transform(tensor(rows))), [1, 1, 3, 3], tol, "x / std");
    const noStd = await new StandardScaler({ withStd: false }).fit(tensor(rows));
    expect(noStd.var).toBeNull();
    expect(noStd.scale).toBeNull();
    expectClose(await read(noStd.transform(tensor(rows))), [-1, -10, 1, 10], tol, "x - mean");
    const none = await new StandardScaler({ withMean: false, withStd: false }).fit(tensor(rows));
    expect(none.mean).toBeNull();
    expectClose(await read(none.inverseTransform(tensor(rows))), [1, 10, 3, 30], tol, "identity");
  });

  it("reduces over any named axes (per-channel statistics, channels last)", async () => {
    const xs = randomValues(4 * 5 * 3, 6);
    const s = await new StandardScaler({ axis: [0, 1] }).fit(tensor(xs, [4, 5, 3]));
    expect(s.featureShape).toEqual([1, 1, 3]);
    const ref = refColumns(chunk(xs, 3));
    close64(s.mean!, ref.mean, "mean");
    close64(s.var!, ref.var, "var");
    const y = await read(s.transform(tensor(xs, [4, 5, 3])));
    expectClose(
      y,
      xs.map((v, i) => (v - ref.mean[i % 3]) / Math.sqrt(ref.var[i % 3])),
      tol,
      "z",
    );
    const t = await new StandardScaler({ axis: [0, 2] }).fit(tensor(xs, [4, 5, 3]));
    const perMid = [0, 1, 2, 3, 4].map((m) => xs.filter((_, i) => Math.floor(i / 3) % 5 === m));
    close64(
      t.mean!,
      perMid.map((c) => c.reduce((a, b) => a + b, 0) / c.length),
      "middle axis mean",
    );
  });

  it("fits from a sync or async iterable of batches", async () => {
    const rows = chunk(randomValues(40, 2), 2);
    const whole = await new StandardScaler().fit(tensor(rows));
    const s = await new StandardScaler().fitFrom(chunk(rows, 3).map((p) => tensor(p)));
    expect(Array.from(s.var!)).toEqual(Array.from(whole.var!));
    async function* gen() {
      for (const p of chunk(rows, 6)) yield { features: tensor(p) };
    }
    const t = await new StandardScaler().fitFrom(gen(), { select: (b) => b.features });
    expect(Array.from(t.mean!)).toEqual(Array.from(whole.mean!));
    await expect(new StandardScaler().fitFrom([])).rejects.toThrow(/no batches/);
  });

  it("serializes to JSON losslessly and keeps accumulating after a reload", async () => {
    const rows = chunk(randomValues(30, 12, 7, 1 / 3), 3);
    rows[0][2] = N;
    const a = await new StandardScaler().fit(tensor(rows.slice(0, 4)));
    const text = JSON.stringify(a);
    const b = StandardScaler.fromJSON(text);
    expect(Array.from(b.mean!)).toEqual(Array.from(a.mean!));
    expect(Array.from(b.var!)).toEqual(Array.from(a.var!));
    await a.partialFit(tensor(rows.slice(4)));
    await b.partialFit(tensor(rows.slice(4)));
    expect(Array.from(b.var!)).toEqual(Array.from(a.var!));
    expect(b.nSamplesSeen).toEqual(a.nSamplesSeen);
    const nan = StandardScaler.fromJSON(JSON.stringify(await new StandardScaler().fit([[N, 1]])));
    expect(Number.isNaN(nan.mean![0])).toBe(true);
    expect(() => StandardScaler.fromJSON({ type: "MinMaxScaler" } as never)).toThrow(
      /expected type StandardScaler/,
    );
  });
});

describe("StandardScaler errors", () => {
  it("requires fitting and a matching shape", async () => {
    expect(() => new StandardScaler().mean).toThrow(/not fitted yet/);
    const s = await new StandardScaler().fit([[1, 2]]);
    await expect(s.partialFit([[1, 2, 3]])).rejects.toThrow(/does not match the fitted feature shape/);
    await expect(s.partialFit([[1, 2], [3]])).rejects.toThrow(/ragged/);
    await expect(new StandardScaler({ axis: 2 }).fit([[1]])).rejects.toThrow(/axis 2 is out of range/);
  });
});

it("rejects unknown options with a hint (both scalers)", () => {
  expect(() => new StandardScaler({ with_mean: false } as never)).toThrow(
    /StandardScaler: unknown option 'with_mean' in the options; did you mean 'withMean'\?/,
  );
  expect(() => new MinMaxScaler({ range: [0, 2] } as never)).toThrow(
    /MinMaxScaler: unknown option 'range' in the options.*\(known: axis, featureRange, clip\)/,
  );
});

it("keeps the variance of 1e9 + noise of 1e-6 over any chunking (shifted sums), and in JSON", async () => {
  const r = seeded(7);
  const rows = Array.from({ length: 200 }, () => [1e9 + (r() - 0.5) * 2e-6]);
  const vals = rows.map((x) => x[0] - 1e9);
  const m = vals.reduce((a, b) => a + b, 0) / vals.length;
  const want = vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length;
  const s = new StandardScaler();
  for (let i = 0; i < rows.length; i += 7) await s.partialFit(rows.slice(i, i + 7));
  expect(Math.abs(s.var![0] / want - 1)).toBeLessThan(1e-6);
  const back = StandardScaler.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
  expect(back.var![0]).toBe(s.var![0]);
  expect(back.mean![0]).toBe(s.mean![0]);
  const merged = new StandardScaler();
  const a = await new StandardScaler().fit(rows.slice(0, 50));
  const b = await new StandardScaler().fit(rows.slice(50));
  merged.merge(a).merge(b);
  expect(Math.abs(merged.var![0] / want - 1)).toBeLessThan(1e-6);
});
