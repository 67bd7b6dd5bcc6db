import { describe, expect, it } from "vitest";
import { lineChart, niceTicks } from "../src/charts/svg";
import { trainingFigures } from "../src/report/figures";
import { studyPage } from "../src/report/study-report";
import { fakeRun } from "./fixtures";

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

  it("draws Figure 1 (a, b, c), gamma and beta, and a self-contained HTML report with captions", () => {
    const runs = [fakeRun("bn", "batch", "With BN"), fakeRun("baseline", "none", "Without BN (baseline)")];
    const figures = trainingFigures(runs, 0);
    expect(figures.map((f) => f.file)).toEqual([
      "fig1a-test-accuracy",
      "fig1b-sigmoid-input-baseline",
      "fig1c-sigmoid-input-bn",
      "training-loss",
      "gamma-beta-bn",
    ]);
    const { html } = studyPage(
      {
        id: "train",
        title: "t",
        intro: ["i"],
        verdicts: [],
        sections: [
          {
            heading: "h",
            figures: [figures[0].svg],
            captions: ["a caption <from data>"],
            verdicts: [{ outcome: "holds", text: "v" }],
          },
        ],
        figures,
        tables: [],
        json: {},
      },
      "x",
      3,
    );
    expect(html).toContain("<svg");
    expect(html).toContain("<figcaption>a caption &lt;from data&gt;</figcaption>");
    expect(html).toContain('<b class="holds">holds</b>');
    // Self-contained: no scripts, stylesheets or images fetched from elsewhere.
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  });

  it("draws a log-log chart without dropping the axis", () => {
    const svg = lineChart({
      title: "law",
      xLabel: "B",
      yLabel: "v",
      logX: true,
      logY: true,
      series: [
        {
          name: "v",
          color: "#000",
          points: [
            [1, 100],
            [10, 10],
            [100, 1],
            [1000, 0],
          ],
        },
      ],
    });
    expect(svg).not.toMatch(/NaN|Infinity/);
    // The zero cannot be drawn on a log axis: one path of three points, not four.
    expect(svg.match(/<path d="M[^"]*"/g)![0].match(/L/g)).toHaveLength(2);
  });
});
