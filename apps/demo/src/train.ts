import type { CliOptions } from "./args";
import type { RunResult } from "./config";
import { runExperiment, Trainer } from "./experiment";
import type { MnistData } from "./mnist";
import { ProgressBar, type ProgressStream } from "./progress";
import { resolveSteps, runConfig } from "./run-config";

export interface Console {
  /** Progress and notes (stderr). */
  err: ProgressStream;
  /** The summary (stdout). */
  out: ProgressStream;
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
    // The final evaluation ran after the last step: show its accuracy, not the previous one's.
    acc = result.testAccuracy;
    bar?.done(state(result.steps, result.trainSamplesPerSec));
    results.push(result);
  }
  return results;
}

/**
 * Seconds that training every --norm for `steps` steps would take here, from a few timed steps
 * and one timed evaluation per run (printed before a long run such as --paper).
 */
export async function estimateSeconds(o: CliOptions, data: MnistData, steps: number): Promise<number> {
  let total = 0;
  for (const norm of o.norms) {
    const cfg = runConfig(o, norm, steps);
    const t = new Trainer(cfg, data);
    try {
      const probe = 20;
      await t.step(); // the first step pays for compilation and allocation
      const s0 = t.trainSeconds;
      for (let i = 0; i < probe; i++) await t.step();
      const perStep = (t.trainSeconds - s0) / probe;
      const e0 = performance.now();
      await t.evaluate();
      const perEval = (performance.now() - e0) / 1000;
      total += steps * perStep + (Math.floor(steps / cfg.evalEvery) + 1) * perEval;
    } finally {
      t.dispose();
    }
  }
  return total;
}
