import { getNumThreads, setNumThreads } from "@minibatch/backend-cpu";
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

/**
 * Trains one run per --norm, one after the other, with a progress bar each unless `quiet`. With
 * --parallel the runs train at the same time, each in a worker thread on its own core.
 */
export async function trainAll(
  o: CliOptions,
  data: MnistData,
  io: Console,
  quiet: boolean,
  stepsFallback?: number,
): Promise<RunResult[]> {
  const steps = resolveSteps(o, data.train.count, stepsFallback);
  if (o.parallel && o.norms.length > 1) return trainParallel(o, data, io, quiet, steps);
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
 * The runs of trainAll at the same time, one worker thread each (the CPU backend then multiplies
 * matrices on one thread per run, so two runs use two cores). The results are those of the
 * sequential runs: same code, same seeds; only each run's samples/s reflects the shared machine.
 * Progress is one line per run every tenth of the way, as bars cannot share the terminal.
 */
async function trainParallel(
  o: CliOptions,
  data: MnistData,
  io: Console,
  quiet: boolean,
  steps: number,
): Promise<RunResult[]> {
  const runs = o.norms.map((norm) => runConfig(o, norm, steps));
  const width = Math.max(...runs.map((c) => c.name.length));
  // Loaded here, not at the top: the web page imports this module and has no worker_threads.
  const { Worker } = await import("node:worker_threads");
  const script = new URL("./run-worker.js", import.meta.url);
  return Promise.all(
    runs.map(
      (config) =>
        new Promise<RunResult>((resolve, reject) => {
          // run-worker.js is the CLI bundle's worker entry (tsup), next to cli.js.
          const worker = new Worker(script, { workerData: { config, data } });
          let shown = 0;
          worker.on(
            "message",
            (m: { type: string; result?: RunResult; step?: number; samplesPerSec?: number }) => {
              if (m.type === "done" && m.result) {
                if (!quiet) {
                  io.err.write(
                    `${config.name.padEnd(width)}  done: ${m.result.steps} steps, test accuracy ${(m.result.testAccuracy * 100).toFixed(2)} %, ${Math.round(m.result.trainSamplesPerSec)} samples/s\n`,
                  );
                }
                resolve(m.result);
                void worker.terminate();
              } else if (m.type === "progress" && !quiet && (m.step ?? 0) >= ((shown + 1) * steps) / 10) {
                shown = Math.floor(((m.step ?? 0) * 10) / steps);
                io.err.write(
                  `${config.name.padEnd(width)}  step ${m.step}/${steps}, ${Math.round(m.samplesPerSec ?? 0)} samples/s\n`,
                );
              }
            },
          );
          worker.on("error", reject);
          worker.on("exit", (code) => {
            if (code !== 0) reject(new Error(`the ${config.name} run's worker exited with code ${code}`));
          });
        }),
    ),
  );
}

/** Steps timed per run by estimateSeconds, after the warm-up. */
export const ESTIMATE_STEPS = 100;

/**
 * Seconds that training every --norm for `steps` steps would take here (printed before a long run
 * such as --paper), from ESTIMATE_STEPS timed steps and one timed evaluation per run. The steps
 * are timed once the compiled step replays and the JIT has warmed up (the first steps run eagerly
 * and trace, several times slower), and, for --parallel, on one thread as each run's worker does;
 * parallel runs then take as long as the slowest, sequential ones the sum.
 */
export async function estimateSeconds(o: CliOptions, data: MnistData, steps: number): Promise<number> {
  const perRun: number[] = [];
  const threads = getNumThreads();
  if (o.parallel) setNumThreads(1);
  try {
    for (const norm of o.norms) {
      const cfg = runConfig(o, norm, steps);
      const t = new Trainer(cfg, data);
      try {
        for (let i = 0; i < 150; i++) await t.step();
        const s0 = t.trainSeconds;
        for (let i = 0; i < ESTIMATE_STEPS; i++) await t.step();
        const perStep = (t.trainSeconds - s0) / ESTIMATE_STEPS;
        const e0 = performance.now();
        await t.evaluate();
        const perEval = (performance.now() - e0) / 1000;
        perRun.push(steps * perStep + (Math.floor(steps / cfg.evalEvery) + 1) * perEval);
      } finally {
        t.dispose();
      }
    }
  } finally {
    if (o.parallel) setNumThreads(threads);
  }
  return o.parallel ? Math.max(...perRun) : perRun.reduce((a, b) => a + b, 0);
}
