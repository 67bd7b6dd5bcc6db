import { type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, tolerance } from "@minibatch/testing";
import { describe, expect, it } from "vitest";
import { chunk, randomValues, refColumns } from "../test-helpers";
import { MinMaxScaler } from "./minmax";

const read = async (t: Tensor) => Array.from(await t.data());
/** scikit-learn's documented example: fit gives [[0, 0], [0.25, 0.25], [0.5, 0.5], [1, 1]]. */
const DOC = [
  [-1, 2],
  [-0.5, 6],
  [0, 10],
  [1, 18],
];

describeBackends("MinMaxScaler", (backend) => {
  const tol = tolerance(backend);

  it("reproduces scikit-learn's documented example", async () => {
    const s = new MinMaxScaler();
    const y = await s.fitTransform(tensor(DOC));
    expectClose(await read(y), [0, 0, 0.25, 0.25, 0.5, 0.5, 1, 1], tol, "fit_transform");
    expect(Array.from(s.dataMin)).toEqual([-1, 2]);
    expect(Array.from(s.dataMax)).toEqual([1, 18]);
    expect(Array.from(s.dataRange)).toEqual([2, 16]);
    expect(Array.from(s.scale)).toEqual([0.5, 0.0625]);
    expect(Array.from(s.min)).toEqual([0.5, -0.125]);
    expect(s.nSamplesSeen).toBe(4);
    expectClose(await read(s.transform(tensor([[2, 2]]))), [1.5, 0], tol, "transform [[2, 2]]");
  });

  it("clips only in transform, never in inverseTransform", async () => {
    const s = new MinMaxScaler({ featureRange: [-1, 1], clip: true });
    await s.fit(tensor(DOC));
    expectClose(await read(s.transform(tensor([[2, 2]]))), [1, -1], tol, "clipped");
    // col 0: scale 1, min 0; col 1: scale 0.125, min -1.25.
    expectClose(await read(s.inverseTransform(tensor([[3, -3]]))), [3, -14], tol, "inverse is not clipped");
    expectClose(await read(s.transform(tensor([[Number.NaN, 2]]))), [Number.NaN, -1], tol, "NaN passes clip");
  });

  it("maps a constant feature to lo, and scales a near-constant one", async () => {
    const s = new MinMaxScaler({ featureRange: [2, 5] });
    const tiny = Math.fround(1e-10);
    await s.fit(
      tensor([
        [7, 0, 0],
        [7, tiny, 1e-30],
        [7, tiny / 2, 0],
      ]),
    );
    expect(Array.from(s.scale)).toEqual([3, 3 / tiny, 3]); // range 1e-30 is below 10 machine epsilons
    const y = await read(s.transform(tensor([[7, tiny, 1e-30]])));
    expectClose(y, [2, 5, 2], tol, "constant -> lo, near-constant -> hi");
  });

  it("ignores NaN when fitting, keeps it in transform; an all-NaN column gives NaN", async () => {
    const N = Number.NaN;
    const rows = [
      [1, N, N],
      [N, 4, N],
      [3, 8, N],
      [2, 6, N],
    ];
    const s = new MinMaxScaler();
    await s.fit(tensor(rows));
    const ref = refColumns(rows);
    expect(Array.from(s.dataMin)).toEqual(ref.min);
    expect(Array.from(s.dataMax)).toEqual(ref.max);
    expect(s.nSamplesSeen).toBe(4); // rows, as scikit-learn counts for this scaler
    const y = await read(s.transform(tensor(rows)));
    expectClose(y, [0, N, N, N, 0, N, 1, 1, N, 0.5, 0.5, N], tol, "NaN kept");
    expectClose(await read(s.inverseTransform(tensor([[0.5, 0.5, 0.5]]))), [2, 6, N], tol, "inverse");
  });

  it("rejects Infinity naming the feature and value, leaving the statistics as they were", async () => {
    const s = new MinMaxScaler();
    await s.fit(
      tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    await expect(s.partialFit(tensor([[0, Number.POSITIVE_INFINITY]]))).rejects.toThrow(
      /feature 1 contains Infinity/,
    );
    await expect(s.partialFit([[Number.NEGATIVE_INFINITY, 0]])).rejects.toThrow(
      /feature 0 contains -Infinity/,
    );
    expect(Array.from(s.dataMax)).toEqual([3, 4]);
    expect(s.nSamplesSeen).toBe(2);
  });

  it("fits a single sample (every feature constant)", async () => {
    const s = new MinMaxScaler();
    await s.fit(tensor([[5, -6]]));
    expectClose(
      await read(
        s.transform(
          tensor([
            [5, -6],
            [6, -6],
          ]),
        ),
      ),
      [0, 0, 1, 0],
      tol,
      "single sample",
    );
  });

  it("partialFit over any chunking (chunks of one too) equals fit exactly", async () => {
    const rows = chunk(randomValues(17 * 3, 21, 10, 3), 3);
    rows[4][1] = Number.NaN;
    const whole = new MinMaxScaler();
    await whole.fit(tensor(rows));
    for (const size of [1, 2, 5, 16]) {
      const s = new MinMaxScaler();
      for (const part of chunk(rows, size)) await s.partialFit(tensor(part));
      expect(Array.from(s.dataMin)).toEqual(Array.from(whole.dataMin));
      expect(Array.from(s.dataMax)).toEqual(Array.from(whole.dataMax));
      expect(s.nSamplesSeen).toBe(17);
    }
  });

  it("round-trips through inverseTransform", async () => {
    const xs = randomValues(40, 3, 100, -20);
    const s = new MinMaxScaler({ featureRange: [-3, 7] });
    const x = tensor(xs, [10, 4]);
    const back = s.inverseTransform(await s.fitTransform(x));
    expectClose(await read(back), xs, { rtol: 1e-5, atol: 1e-4 }, "round trip");
  });

  it("stays exact at large offsets (1e9 plus small steps)", async () => {
    const xs = [0, 64, 128, 192, 256].map((k) => [1e9 + k, 2e9 - 2 * k]);
    const s = new MinMaxScaler();
    const y = await read(await s.fitTransform(tensor(xs)));
    expectClose(y, [0, 1, 0.25, 0.75, 0.5, 0.5, 0.75, 0.25, 1, 0], tol, "1e9 offset");
  });

  it("reduces over any named axes: per-channel statistics of images", async () => {
    const xs = randomValues(2 * 3 * 2 * 2, 5);
    const s = new MinMaxScaler({ axis: [0, 2, 3] });
    await s.fit(tensor(xs, [2, 3, 2, 2]));
    expect(s.featureShape).toEqual([1, 3, 1, 1]);
    const ch = (c: number) => xs.filter((_, i) => Math.floor(i / 4) % 3 === c);
    expect(Array.from(s.dataMin)).toEqual([0, 1, 2].map((c) => Math.min(...ch(c))));
    const y = await read(s.transform(tensor(xs, [2, 3, 2, 2])));
    const lo = [0, 1, 2].map((c) => Math.min(...ch(c)));
    const hi = [0, 1, 2].map((c) => Math.max(...ch(c)));
    const want = xs.map((v, i) => {
      const c = Math.floor(i / 4) % 3;
      return (v - lo[c]) / (hi[c] - lo[c]);
    });
    expectClose(y, want, tol, "per channel");
    expect(() => s.transform(tensor(xs, [2, 6, 2]))).toThrow(
      /does not match the fitted feature shape \[\*, 3, \*, \*\]/,
    );
  });

  it("fits straight from a loader-like async iterable", async () => {
    async function* batches() {
      for (const part of chunk(DOC, 3)) yield [tensor(part), tensor(part.map(() => 0))] as const;
    }
    const s = await new MinMaxScaler().fitFrom(batches());
    expect(Array.from(s.dataMax)).toEqual([1, 18]);
    const t = await new MinMaxScaler().fitFrom(
      chunk(DOC, 1).map((p) => ({ x: tensor(p) })),
      { select: (b) => b.x },
    );
    expect(Array.from(t.dataMin)).toEqual([-1, 2]);
    await expect(new MinMaxScaler().fitFrom([{ x: 1 }])).rejects.toThrow(/select/);
  });

  it("serializes to JSON losslessly, NaN statistics included", async () => {
    const s = new MinMaxScaler({ featureRange: [-1, 2], clip: true });
    await s.fit([
      [0.1, Number.NaN],
      [1 / 3, Number.NaN],
    ]);
    const r = MinMaxScaler.fromJSON(JSON.stringify(s));
    expect(Array.from(r.dataMin)).toEqual([0.1, Number.NaN]);
    expect(Array.from(r.dataMax)).toEqual([1 / 3, Number.NaN]);
    expect(r.clip).toBe(true);
    expect(r.featureRange).toEqual([-1, 2]);
    await r.partialFit([[2, 5]]);
    expect(Array.from(r.dataMax)).toEqual([2, 5]);
    expect(r.nSamplesSeen).toBe(3);
    expect(MinMaxScaler.fromJSON(new MinMaxScaler().toJSON()).isFitted).toBe(false);
  });
});

describe("MinMaxScaler errors", () => {
  it("validates featureRange and fitting state", async () => {
    expect(() => new MinMaxScaler({ featureRange: [1, 1] })).toThrow(/lo < hi/);
    expect(() => new MinMaxScaler({ featureRange: [2, 1] })).toThrow(/lo < hi/);
    expect(() => new MinMaxScaler().transform(tensor([[1]]))).toThrow(/not fitted yet/);
    await expect(new MinMaxScaler().fit(tensor(new Float32Array(0), [0, 2]))).rejects.toThrow(/empty/);
    const s = await new MinMaxScaler().fit(tensor(DOC));
    expect(() => s.transform(tensor([[1, 2, 3]]))).toThrow(
      /\[1, 3\] does not match the fitted feature shape \[\*, 2\]/,
    );
  });
});
