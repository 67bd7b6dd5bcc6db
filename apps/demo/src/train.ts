import type { CliOptions } from "./args";
import type { RunResult } from "./config";
import { runExperiment } from "./experiment";
import type { MnistData } from "./mnist";
import { ProgressBar, type ProgressStream } from "./progress";
import { resolveSteps, runConfig } from "./run-config";

export interface Console {
  /** Progress and notes (stderr). */
  err: ProgressStream;
  /** The summary (stdout). */
  out: ProgressStream;
}

/** The JSON summary's shape: what `--json` prints and results.json holds. */
export function jsonSummary(runs: readonly RunResult[]): { runs: unknown[] } {
  return {
    runs: runs.map((r) => ({
      name: r.name,
      label: r.label,
      model: r.model,
      norm: r.norm,
      backend: r.backend,
      steps: r.steps,
      batchSize: r.batchSize,
      lr: r.lr,
      seed: r.seed,
      trainSamplesPerSec: round(r.trainSamplesPerSec, 1),
      trainSeconds: round(r.trainSeconds, 3),
      testAccuracy: r.testAccuracy,
      testImages: r.testImages,
      diverged: r.diverged,
      peakTensorBytes: r.peakTensorBytes,
      curve: r.curve.map((p) => ({
        step: p.step,
        testAccuracy: p.testAccuracy,
        // JSON has no NaN: the loss before the first step is null.
        loss: Number.isFinite(p.loss) ? round(p.loss, 5) : null,
        p15: round(p.p15, 5),
        p50: round(p.p50, 5),
        p85: round(p.p85, 5),
      })),
    })),
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Trains one run per --norm, one after the other, with a progress bar each unless `quiet`. */
export async function trainAll(
  o: CliOptions,
  data: MnistData,
  io: Console,
  quiet: boolean,
  stepsFallback?: number,
): Promise<RunResult[]> {
  const steps = resolveSteps(o, data.train.count, stepsFallback);
  const results: RunResult[] = [];
  const width = Math.max(...o.norms.map((n) => runConfig(o, n, steps).name.length));
  for (const norm of o.norms) {
    const cfg = runConfig(o, norm, steps);
    const bar = quiet ? null : new ProgressBar(io.err, cfg.name.padEnd(width), steps);
    let loss: number | null = null;
    let acc: number | null = null;
    const state = (step: number, sps: number) => ({ step, loss, samplesPerSec: sps, accuracy: acc });
    const result = await runExperiment(cfg, data, {
      onStep(info, t) {
        if (info.loss !== null) loss = loss === null ? info.loss : 0.9 * loss + 0.1 * info.loss;
        bar?.update(state(info.step, (t.stepCount * cfg.batchSize) / Math.max(t.trainSeconds, 1e-9)));
      },
      onEval(p) {
        acc = p.testAccuracy;
      },
    });
    bar?.done(state(result.steps, result.trainSamplesPerSec));
    results.push(result);
  }
  return results;
}
