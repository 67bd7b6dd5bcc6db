import { describe, expect, it } from "vitest";
import { lineChart, niceTicks } from "../src/charts/svg";
import type { RunResult } from "../src/config";
import { trainingFigures } from "../src/report/figures";
import { trainingReport } from "../src/report/training";

function fakeRun(name: string, norm: RunResult["norm"], label: string): RunResult {
  const curve = [0, 50, 100].map((step, i) => ({
    step,
    testAccuracy: 0.1 + 0.4 * i,
    loss: i === 0 ? Number.NaN : 1 / i,
    p15: -1 - i,
    p50: 0,
    p85: 1 + i,
    trainSeconds: i,
  }));
  return {
    name,
    label,
    model: "mlp",
    norm,
    backend: "cpu",
    steps: 100,
    batchSize: 60,
    lr: 0.5,
    seed: 1,
    trainSamplesPerSec: 3000,
    trainSeconds: 2,
    testAccuracy: 0.9,
    testImages: 10000,
    diverged: false,
    peakTensorBytes: 1,
    curve,
  };
}

describe("SVG charts", () => {
  it("picks round ticks", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
  });

  it("writes a standalone chart with title, axis labels and legend, escaping text", () => {
    const svg = lineChart({
      title: "A <title> & more",
      xLabel: "steps",
      yLabel: "accuracy",
      series: [
        {
          name: "BN",
          color: "#00f",
          points: [
            [0, 0.1],
            [1, 0.5],
            [2, Number.NaN],
            [3, 0.9],
          ],
        },
        {
          name: "baseline",
          color: "#f00",
          dash: "4 2",
          points: [
            [0, 0.1],
            [3, 0.2],
          ],
        },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain("A &lt;title&gt; &amp; more");
    expect(svg).toContain(">steps</text>");
    expect(svg).toContain(">accuracy</text>");
    expect(svg).toContain(">BN</text>");
    expect(svg).toContain(">baseline</text>");
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    // The NaN point splits the BN line in two paths; baseline is one more.
    expect(svg.match(/<path /g)).toHaveLength(3);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
  });

  it("draws Figure 1 (a, b, c) and a self-contained HTML report", () => {
    const runs = [fakeRun("bn", "batch", "With BN"), fakeRun("baseline", "none", "Without BN (baseline)")];
    const files = trainingFigures(runs, 0).map((f) => f.file);
    expect(files).toEqual([
      "fig1a-test-accuracy",
      "fig1b-sigmoid-input-baseline",
      "fig1c-sigmoid-input-bn",
      "training-loss",
    ]);
    const { html } = trainingReport(runs, {
      probeUnit: 0,
      wallSeconds: 3,
      trainCount: 600,
      testCount: 100,
      command: "x",
    });
    expect(html).toContain("<svg");
    expect(html).toContain("Figure 1(b)");
    // Self-contained: no scripts, stylesheets or images fetched from elsewhere.
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  });
});
