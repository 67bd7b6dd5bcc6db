import { describe, expect, it } from "vitest";
import type { CaseResult } from "./common";
import { headline, isPartial, ratioCell, ratioRows } from "./format";
import {
  epochThroughput,
  ratio,
  type Segment,
  segmentEnds,
  segmentRates,
  steadyStateMedian,
  warmupCostMs,
} from "./headline";

// An epoch of 1000 steps of 60 samples in 10 segments: the first two are slow (JIT warm-up).
const EPOCH: Segment[] = [
  { samples: 6000, ms: 3000 }, // 2,000 samples/s
  { samples: 6000, ms: 1500 }, // 4,000 samples/s
  ...Array.from({ length: 8 }, () => ({ samples: 6000, ms: 1000 })), // 6,000 samples/s
];

describe("the headline: whole-epoch throughput, warm-up included", () => {
  it("is all samples over all the time, not a mean or median of the segments' rates", () => {
    // 60,000 samples in 3 + 1.5 + 8 = 12.5 s.
    expect(epochThroughput(EPOCH)).toBe(4800);
    expect(steadyStateMedian(EPOCH)).toBe(6000);
    // The mean of the rates (5,400) would still overstate the epoch.
    const rates = segmentRates(EPOCH);
    expect(rates.reduce((a, b) => a + b) / rates.length).toBe(5400);
  });

  it("equals the steady state when there is no warm-up", () => {
    const flat = Array.from({ length: 10 }, () => ({ samples: 2560, ms: 400 }));
    expect(epochThroughput(flat)).toBe(6400);
    expect(steadyStateMedian(flat)).toBe(6400);
    expect(warmupCostMs(flat)).toBe(0);
  });

  it("weights unequal segments by their samples (a short last segment counts for what it holds)", () => {
    expect(
      epochThroughput([
        { samples: 600, ms: 100 },
        { samples: 60, ms: 100 },
      ]),
    ).toBe(3300);
  });

  it("costs the warm-up in seconds: epoch time minus the same samples at the steady-state rate", () => {
    // 12.5 s, against 60,000 / 6,000 = 10 s at steady state.
    expect(warmupCostMs(EPOCH)).toBe(2500);
  });

  it("is NaN without any timed segment, never zero or infinite", () => {
    expect(epochThroughput([])).toBeNaN();
    expect(steadyStateMedian([])).toBeNaN();
    expect(segmentRates([{ samples: 0, ms: 0 }])).toEqual([]);
  });

  it("splits an epoch into contiguous segments of equal size, the last one shorter", () => {
    expect(segmentEnds(1000, 10)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(segmentEnds(234, 10)).toEqual([24, 48, 72, 96, 120, 144, 168, 192, 216, 234]);
    expect(segmentEnds(3, 10)).toEqual([1, 2, 3]);
    expect(segmentEnds(0, 10)).toEqual([]);
  });

  it("gives ratios above 1 when the first number is better, for both kinds of metric", () => {
    expect(ratio(6000, 2000)).toBe(3);
    expect(ratio(100, 400, true)).toBe(4);
  });
});

const w3 = (impl: string, segments: Segment[], steps = 1000): CaseResult => ({
  workload: "W3",
  case: "MNIST BN batch 60",
  impl,
  metric: "samples/s",
  values: segmentRates(segments),
  segments,
  extra: { steps, of: 1000 },
});

describe("rows compared by their headline", () => {
  it("uses the epoch for training rows and the median for the others", () => {
    expect(headline(w3("minibatch", EPOCH))).toBe(4800);
    expect(headline({ values: [1, 9, 3] })).toBe(3);
    expect(headline({ values: [] })).toBeNaN();
  });

  it("computes NumPy's headline from its raw segments like every other row", () => {
    // NumPy reports segments (python/w3_numpy.py); no rate it computes itself enters the headline.
    const numpy: CaseResult = { ...w3("numpy", EPOCH), values: [999_999] };
    expect(headline(numpy)).toBe(4800);
  });

  it("gives each minibatch row's ratio against TF.js wasm and NumPy, from the rows it is given", () => {
    const flat = (rate: number) => Array.from({ length: 10 }, () => ({ samples: 6000, ms: 6e6 / rate }));
    const rows = ratioRows([
      w3("minibatch", EPOCH), // 4,800 samples/s over the epoch
      w3("minibatch-modules", flat(2400)),
      w3("tfjs-wasm", flat(1600)),
      w3("numpy", flat(9600)),
      // A reference formulation (name with a space) is never a comparison target.
      { ...w3("tfjs-wasm tf.batchNorm", flat(100)) },
    ]);
    expect(rows.map((r) => [r.mine, r.vs])).toEqual([
      ["minibatch", { "tfjs-wasm": 3, numpy: 0.5 }],
      ["minibatch-modules", { "tfjs-wasm": 1.5, numpy: 0.25 }],
    ]);
    expect(ratioCell(rows[0], "tfjs-wasm")).toBe("3.00x");
    expect(ratioCell(rows[0], "tfjs-cpu")).toBe("-");
  });

  it("marks ratios where either epoch stopped at its time budget", () => {
    const partial = w3("tfjs-cpu", [{ samples: 6000, ms: 10_000 }], 100);
    expect(isPartial(partial)).toBe(true);
    expect(isPartial(w3("minibatch", EPOCH))).toBe(false);
    const [row] = ratioRows([w3("minibatch", EPOCH), partial, w3("tfjs-wasm", EPOCH)]);
    expect(row.vs).toEqual({ "tfjs-cpu": 8, "tfjs-wasm": 1 });
    expect(ratioCell(row, "tfjs-cpu")).toBe("8.00x*");
    expect(ratioCell(row, "tfjs-wasm")).toBe("1.00x");
  });

  it("compares smaller-is-better metrics the other way round", () => {
    const ms = (impl: string, v: number): CaseResult => ({
      workload: "startup",
      case: "process start to first step",
      impl,
      metric: "ms",
      values: [v],
    });
    const [row] = ratioRows([ms("minibatch", 200), ms("tfjs-wasm", 500)]);
    expect(row.vs["tfjs-wasm"]).toBe(2.5);
  });
});
