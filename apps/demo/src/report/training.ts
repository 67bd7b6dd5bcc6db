import type { RunResult } from "../config";

/** Steps at which the summary reports accuracy besides the end: about a tenth, a quarter and a half. */
export function milestoneSteps(runs: readonly RunResult[]): number[] {
  const steps = runs[0]?.curve.map((p) => p.step).filter((s) => s > 0) ?? [];
  if (steps.length < 4) return steps.slice(0, -1);
  const last = steps.at(-1)!;
  const near = (target: number) =>
    steps.reduce((a, b) => (Math.abs(b - target) < Math.abs(a - target) ? b : a));
  return [...new Set([near(last / 10), near(last / 4), near(last / 2)])].filter((s) => s !== last);
}

export function accuracyAt(run: RunResult, step: number): number {
  return run.curve.find((p) => p.step === step)?.testAccuracy ?? Number.NaN;
}
