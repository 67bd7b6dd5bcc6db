import { lineChart, PALETTE, type Series } from "../charts/svg";
import type { CurvePoint, RunResult } from "../config";

/** Colors fixed by run name, so BN is the same blue in every chart and on the web page. */
export function runColor(name: string, index: number): string {
  const fixed: Record<string, string> = { bn: PALETTE[0], baseline: PALETTE[1] };
  return fixed[name] ?? PALETTE[(index + 2) % PALETTE.length];
}

export interface Figure {
  /** File name without extension. */
  file: string;
  svg: string;
}

const pctFormat = (v: number) => `${+(v * 100).toFixed(1)}%`;
/** Steps as whole numbers ("1,000", not "1k"). */
const stepFormat = (v: number) => v.toLocaleString("en-US");

/** Figure 1(a): test accuracy against training steps, one line per run. */
export function accuracyChart(
  runs: readonly RunResult[],
  opts: { width?: number; height?: number } = {},
): string {
  const accs = runs.flatMap((r) => r.curve.map((p) => p.testAccuracy)).filter(Number.isFinite);
  // Start the axis near the lowest accuracy after the first evaluation (step 0 is chance, ~10 %).
  const later = runs.flatMap((r) => r.curve.slice(1).map((p) => p.testAccuracy)).filter(Number.isFinite);
  const lo = Math.max(0, Math.floor((Math.min(...(later.length ? later : accs), 1) - 0.02) * 20) / 20);
  const first = runs[0];
  return lineChart({
    title:
      runs.some((r) => r.norm === "none") && runs.some((r) => r.norm === "batch")
        ? "Figure 1(a): test accuracy, with and without BN"
        : "Test accuracy",
    subtitle: first
      ? `MNIST, ${first.model === "mlp" ? "784-100-100-100-10 sigmoid MLP" : "small sigmoid CNN"}, batch ${first.batchSize}, SGD lr ${first.lr}, ${first.curve.at(-1)?.step ?? 0} steps, ${first.backend}`
      : undefined,
    xLabel: "training steps",
    xFormat: stepFormat,
    yLabel: `test accuracy (${(first?.testImages ?? 10000).toLocaleString("en-US")} images)`,
    yDomain: [lo, 1],
    yFormat: pctFormat,
    series: runs.map((r, i) => ({
      name: r.label,
      color: runColor(r.name, i),
      points: r.curve.map((p) => [p.step, p.testAccuracy] as const),
    })),
    ...opts,
  });
}

/** Training loss (mean over each evaluation interval) against steps. */
export function lossChart(
  runs: readonly RunResult[],
  opts: { width?: number; height?: number } = {},
): string {
  const losses = runs.flatMap((r) => r.curve.map((p) => p.loss)).filter(Number.isFinite);
  return lineChart({
    title: "Training loss",
    subtitle: "cross-entropy, mean over the steps between evaluations",
    xLabel: "training steps",
    xFormat: stepFormat,
    yLabel: "loss",
    yDomain: [0, Math.min(3, Math.max(0.5, ...losses) * 1.05)],
    series: runs.map((r, i) => ({
      name: r.label,
      color: runColor(r.name, i),
      points: r.curve.filter((p) => p.step > 0).map((p) => [p.step, p.loss] as const),
    })),
    ...opts,
  });
}

/** One percentile chart's y range, shared by the runs compared so their spread is comparable. */
export function percentileDomain(runs: readonly RunResult[]): [number, number] {
  const vals = runs.flatMap((r) => r.curve.flatMap((p) => [p.p15, p.p85])).filter(Number.isFinite);
  if (!vals.length) return [-1, 1];
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const pad = (hi - lo) * 0.08 || 0.5;
  return [lo - pad, hi + pad];
}

/** Figure 1(b, c): the 15th, 50th and 85th percentiles of one last-hidden-layer sigmoid's input. */
export function percentileChart(
  run: RunResult,
  opts: {
    figure?: string;
    yDomain?: [number, number];
    probeUnit?: number;
    width?: number;
    height?: number;
  } = {},
): string {
  const color = runColor(run.name, 0);
  const pick = (k: "p15" | "p50" | "p85") => run.curve.map((p) => [p.step, p[k]] as const);
  const series: Series[] = [
    { name: "85th percentile", color, dash: "6 4", points: pick("p85") },
    { name: "50th percentile", color, points: pick("p50") },
    { name: "15th percentile", color, dash: "2 3", points: pick("p15") },
  ];
  return lineChart({
    title: `${opts.figure ? `${opts.figure}: ` : ""}sigmoid input, ${run.label}`,
    subtitle: `unit ${opts.probeUnit ?? 0} of the last hidden layer, test images, network in training mode`,
    xLabel: "training steps",
    xFormat: stepFormat,
    yLabel: "input to the sigmoid",
    yDomain: opts.yDomain,
    series,
    width: opts.width,
    height: opts.height,
  });
}

/**
 * The probed unit's learned gamma and beta over training, next to the mean and standard deviation
 * of its input to BN: gamma = sigma and beta = mu would undo the normalization.
 */
export function gammaBetaChart(
  run: RunResult,
  opts: { probeUnit?: number; width?: number; height?: number } = {},
): string {
  const pick = (f: (p: CurvePoint) => number | null) =>
    run.curve.map((p) => [p.step, f(p) ?? Number.NaN] as const);
  return lineChart({
    title: `Learned gamma and beta, ${run.label}`,
    subtitle: `unit ${opts.probeUnit ?? 0} of the last hidden layer; dashed: what would undo BN (input std and mean)`,
    xLabel: "training steps",
    xFormat: stepFormat,
    yLabel: "value",
    series: [
      { name: "gamma", color: PALETTE[0], points: pick((p) => p.gamma) },
      { name: "input std (sigma)", color: PALETTE[0], dash: "6 4", points: pick((p) => p.preStd) },
      { name: "beta", color: PALETTE[4], points: pick((p) => p.beta) },
      { name: "input mean (mu)", color: PALETTE[4], dash: "6 4", points: pick((p) => p.preMean) },
    ],
    width: opts.width,
    height: opts.height,
  });
}

/** Every figure of a training report, in display order. */
export function trainingFigures(runs: readonly RunResult[], probeUnit: number): Figure[] {
  const figs: Figure[] = [{ file: "fig1a-test-accuracy", svg: accuracyChart(runs) }];
  const domain = percentileDomain(runs);
  const baseline = runs.find((r) => r.norm === "none");
  const bn = runs.find((r) => r.norm === "batch");
  if (baseline) {
    figs.push({
      file: "fig1b-sigmoid-input-baseline",
      svg: percentileChart(baseline, { figure: "Figure 1(b)", yDomain: domain, probeUnit }),
    });
  }
  if (bn) {
    figs.push({
      file: "fig1c-sigmoid-input-bn",
      svg: percentileChart(bn, { figure: "Figure 1(c)", yDomain: domain, probeUnit }),
    });
  }
  for (const r of runs) {
    if (r === baseline || r === bn) continue;
    figs.push({ file: `sigmoid-input-${r.name}`, svg: percentileChart(r, { yDomain: domain, probeUnit }) });
  }
  figs.push({ file: "training-loss", svg: lossChart(runs) });
  for (const r of runs) {
    if (r.curve.some((p) => p.gamma !== null))
      figs.push({ file: `gamma-beta-${r.name}`, svg: gammaBetaChart(r, { probeUnit }) });
  }
  return figs;
}
