import { describe, expect, it } from "vitest";
import { linearFit, spread } from "../src/stats";
import { type CostRow, costVerdict, type ReachRow, reachVerdict } from "../src/studies/batch-sizes";
import { accuracyCaption, figure1Verdicts, percentileCaption } from "../src/studies/figure1";
import { type NoiseRow, noiseSlope, noiseVerdicts } from "../src/studies/gradient-noise";
import { inputVerdicts } from "../src/studies/inputs";
import { lrVerdict } from "../src/studies/lr";
import { smallBatchVerdicts } from "../src/studies/small-batch";
import { streamVerdict } from "../src/studies/stream";
import { fakeRun } from "./fixtures";

// Verdicts and captions are computed from the numbers: the same code must say "holds" for data
// that supports a claim and "does not hold" for data that refutes it.

describe("Figure 1 verdicts and captions", () => {
  it("says BN is ahead, by how much, and how many fewer steps it needed", () => {
    const bn = fakeRun("bn", "batch", "With BN", [0.1, 0.9, 0.95], [0, 0.1, 0]);
    const base = fakeRun("baseline", "none", "Without BN (baseline)", [0.1, 0.5, 0.9], [0, 1, 3]);
    const v = figure1Verdicts([bn, base]);
    expect(v.map((x) => x.outcome)).toEqual(["holds", "holds", "partly"]);
    expect(v[0].evidence).toContain("BN ahead by 5.0 points");
    expect(v[0].evidence).toContain("at step 50, the baseline at step 100 (2.0x fewer steps with BN)");
    expect(v[1].evidence).toContain("range of 3.00 without BN and 0.10 with BN");
    const caption = accuracyCaption([bn, base]);
    expect(caption).toContain(
      "With BN leads with 95.0 % against Without BN (baseline)'s 90.0 % (5.0 points)",
    );
  });

  it("does not claim BN is faster when the data says otherwise", () => {
    const bn = fakeRun("bn", "batch", "With BN", [0.1, 0.3, 0.53], [0, 2, 0]);
    const base = fakeRun("baseline", "none", "Without BN (baseline)", [0.1, 0.8, 0.93], [0, 0.5, 0]);
    const v = figure1Verdicts([bn, base]);
    expect(v[0].outcome).toBe("does not hold");
    expect(v[0].evidence).toContain("BN behind by 40.0 points");
    expect(v[1].outcome).toBe("does not hold");
    expect(accuracyCaption([bn, base])).toMatch(/^After 100 steps Without BN \(baseline\) leads/);
  });

  it("without a BN run, says nothing about BN", () => {
    const runs = [
      fakeRun("layernorm", "layer", "LayerNorm"),
      fakeRun("groupnorm", "group", "GroupNorm", [0.1, 0.4, 0.8]),
    ];
    expect(figure1Verdicts(runs)[0].outcome).toBe("not measured");
    const caption = accuracyCaption(runs);
    expect(caption).not.toContain("BN");
    expect(caption).toContain("LayerNorm leads with 90.0 %");
  });

  it("describes the percentile drift from the data", () => {
    const base = fakeRun("baseline", "none", "Without BN (baseline)", [0.1, 0.5, 0.9], [0, 1, 3]);
    expect(percentileCaption(base)).toContain("the median went from 0.00 to 3.00");
    expect(percentileCaption(base)).toContain("spread went from 2.00 to 6.00");
  });
});

const cost = (name: string, b: number, bytes: number, epoch: number): CostRow => ({
  name,
  norm: "none",
  batchSize: b,
  skipped: null,
  stepsPerEpoch: Math.floor(60000 / b),
  stepSeconds: spread([epoch / (60000 / b)]),
  epochSeconds: spread([epoch * 0.9, epoch, epoch * 1.2]),
  samplesPerSec: 60000 / epoch,
  stepBytes: bytes,
  stepTensors: 10,
  rssGrowthBytes: bytes,
});

describe("batch-size verdicts", () => {
  it("claim 1 holds when memory grows linearly and epochs get faster", () => {
    const v = costVerdict([
      cost("baseline", 1, 1000, 60),
      cost("baseline", 101, 101_000, 3),
      cost("baseline", 201, 201_000, 2),
    ]);
    expect(v.outcome).toBe("holds");
    expect(v.evidence).toContain("1.0 KiB per sample");
    expect(v.evidence).toContain("R² 1.000");
    expect(v.evidence).toContain("30.0x faster");
  });

  it("claim 1 is only partly true when bigger batches are slower per epoch", () => {
    expect(costVerdict([cost("baseline", 1, 1000, 2), cost("baseline", 100, 100_000, 3)]).outcome).toBe(
      "partly",
    );
  });

  const reach = (b: number, mode: "fixed" | "scaled", seconds: number | null): ReachRow => ({
    name: "bn",
    norm: "batch",
    batchSize: b,
    mode,
    lr: 0.5,
    samplesToTarget: seconds === null ? null : seconds * 1000,
    secondsToTarget: seconds,
    samplesRun: 10000,
    trainSeconds: 10,
    finalAccuracy: 0.8,
    diverged: false,
  });

  it("claim 2: fixed lr refutes it, scaled lr supports it up to a size", () => {
    const rows = [
      reach(8, "fixed", 3),
      reach(60, "fixed", 4),
      reach(1024, "fixed", null),
      reach(8, "scaled", 5),
      reach(60, "scaled", 2),
      reach(1024, "scaled", 9),
    ];
    const fixed = reachVerdict(rows, "fixed", 0.9);
    expect(fixed.outcome).toBe("does not hold");
    expect(fixed.evidence).toContain("batch 1024 did not reach it");
    const scaled = reachVerdict(rows, "scaled", 0.9);
    expect(scaled.outcome).toBe("partly");
    expect(scaled.evidence).toContain("helped up to batch 60 and not beyond");
    expect(reachVerdict([reach(8, "scaled", 5), reach(60, "scaled", 2)], "scaled", 0.9).outcome).toBe(
      "holds",
    );
  });
});

describe("gradient-noise verdicts", () => {
  const N = 6000;
  const rows = (name: string, norm: NoiseRow["norm"], f: (b: number) => number): NoiseRow[] =>
    [2, 4, 8, 16, 32, 64].map((b) => ({
      name,
      norm,
      batchSize: b,
      variance: f(b),
      law: ((N - b) / (N - 1)) * (1 / b),
      trials: 10,
    }));

  it("recovers the slope of a 1/B law and says it holds", () => {
    const r = rows("baseline", "none", (b) => ((N - b) / (N - 1)) * (3 / b));
    expect(noiseSlope(r, N)).toBeCloseTo(-1, 6);
    const [v] = noiseVerdicts(r, [], N);
    expect(v.outcome).toBe("holds");
    expect(v.evidence).toContain("slope -1.00");
  });

  it("a variance that does not fall with the batch refutes the claim", () => {
    const [v] = noiseVerdicts(
      rows("baseline", "none", () => 1),
      [],
      N,
    );
    expect(v.outcome).toBe("does not hold");
  });

  it("loss variance: holds only when it falls", () => {
    const loss = [8, 32, 128].map((b, i) => ({
      name: "bn",
      norm: "batch" as const,
      batchSize: b,
      steps: 100,
      stepVariance: [1, 2, 0.5][i],
    }));
    expect(noiseVerdicts([], loss, N)[0].outcome).toBe("partly");
  });
});

describe("stream, inputs, lr and small-batch verdicts", () => {
  const stream = {
    fileBytes: 300 * 2 ** 20,
    records: 360000,
    capBytes: 64 * 2 ** 20,
    rssStart: 0,
    peakRssGrowth: 40 * 2 ** 20,
    peakTensorBytes: 2 ** 20,
    samplesSeen: 360000,
    steps: 6000,
    trainSeconds: 30,
    testAccuracy: 0.95,
    trace: [],
  };

  it("claim 4 holds under the cap and fails over it", () => {
    expect(streamVerdict(stream).outcome).toBe("holds");
    expect(streamVerdict(stream).evidence).toContain("4.7x the 64.0 MiB cap");
    expect(streamVerdict({ ...stream, peakRssGrowth: 100 * 2 ** 20 }).outcome).toBe("does not hold");
    expect(streamVerdict({ ...stream, fileBytes: 10 * 2 ** 20 }).outcome).toBe("not measured");
  });

  it("claim 5 compares scaled inputs with raw ones", () => {
    const row = (scaling: "raw" | "minmax" | "zscore", norm: "none" | "batch", acc: number) => ({
      scaling,
      norm,
      run: fakeRun("x", norm, "x", [0.1, acc]),
    });
    const v = inputVerdicts([
      row("raw", "none", 0.2),
      row("minmax", "none", 0.9),
      row("zscore", "none", 0.85),
      row("raw", "batch", 0.9),
      row("minmax", "batch", 0.9),
      row("zscore", "batch", 0.89),
    ]);
    expect(v.map((x) => x.outcome)).toEqual(["holds", "does not hold"]);
    expect(v[0].evidence).toContain("70.0 points above raw");
  });

  it("claim 6 (lr): holds only when BN trains at a rate where the baseline does not", () => {
    const run = (norm: "none" | "batch", lr: number, acc: number, diverged = false) => ({
      ...fakeRun("x", norm, "x", [0.1, acc]),
      lr,
      diverged,
    });
    expect(
      lrVerdict([
        run("batch", 0.5, 0.9),
        run("none", 0.5, 0.9),
        run("batch", 15, 0.9),
        run("none", 15, 0.1, true),
      ]).outcome,
    ).toBe("holds");
    const both = lrVerdict([
      run("batch", 0.5, 0.9),
      run("none", 0.5, 0.9),
      run("batch", 5, 0.95),
      run("none", 5, 0.95),
    ]);
    expect(both.outcome).toBe("does not hold");
    expect(both.evidence).toContain("did not tolerate a higher rate");
    expect(lrVerdict([run("batch", 0.5, 0.5), run("none", 0.5, 0.2)]).outcome).toBe("not measured");
  });

  it("claim 7 compares BN with the batch-independent norms at each small batch", () => {
    const run = (acc: number, trainAcc: number) => ({
      ...fakeRun("x", "batch", "x", [0.1, acc]),
      trainModeAccuracy: trainAcc,
    });
    const v = smallBatchVerdicts([
      { norm: "batch", batchSize: 2, run: run(0.53, 0.8) },
      { norm: "group", batchSize: 2, run: run(0.9, 0.9) },
      { norm: "batch", batchSize: 60, run: run(0.95, 0.95) },
      { norm: "group", batchSize: 60, run: run(0.93, 0.93) },
    ]);
    expect(v).toHaveLength(1);
    expect(v[0].outcome).toBe("holds");
    expect(v[0].evidence).toContain("1 of the 1 others are ahead of BN; the best, GroupNorm, by 37.0 points");
    expect(v[0].evidence).toContain("training mode, 27.0 points higher");
    // BN behind one alternative but ahead of the rest: only partly.
    const mixed = smallBatchVerdicts([
      { norm: "batch", batchSize: 4, run: run(0.765, 0.64) },
      { norm: "group", batchSize: 4, run: run(0.706, 0.706) },
      { norm: "layer", batchSize: 4, run: run(0.745, 0.745) },
      { norm: "renorm", batchSize: 4, run: run(0.795, 0.78) },
    ]);
    expect(mixed[0].outcome).toBe("partly");
  });
});

describe("stats", () => {
  it("fits a line and reports the spread of repeats", () => {
    expect(linearFit([1, 2, 3], [2, 4, 6])).toEqual({ slope: 2, intercept: 0, r2: 1 });
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
  });
});
