import type { CliOptions } from "../args";
import { lineChart } from "../charts/svg";
import { type NormKind, RUN_LABELS, RUN_NAMES } from "../config";
import { runExperiment } from "../experiment";
import type { MnistData } from "../mnist";
import { runColor } from "../report/figures";
import { htmlPage } from "../report/html";
import { htmlTable, mib, num, pct, type Table } from "../report/table";
import { runConfig } from "../run-config";
import type { Console } from "../train";

export interface BatchSizeRow {
  name: string;
  norm: NormKind;
  batchSize: number;
  /** Why the combination was not run (BN with one sample per batch). */
  skipped: string | null;
  steps: number;
  samples: number;
  trainSeconds: number;
  samplesPerSec: number;
  /** Peak of minibatch `memory().bytes` in a step, minus the training set's own tensors. */
  peakStepBytes: number;
  /** Peak process RSS sampled during the run (includes the data set, V8 heap and code). */
  peakRssBytes: number;
  finalAccuracy: number;
  stepsToTarget: number | null;
  secondsToTarget: number | null;
}

/** Evaluations happen every this many training samples, whatever the batch size, so they are comparable. */
const EVAL_EVERY_SAMPLES = 6000;

/**
 * For each batch size (and normalization): train until the target test accuracy is reached or the
 * time budget runs out; record throughput, memory and the time to target. The learning rate stays
 * at --lr for every batch size (plain SGD, as the paper), so larger batches take fewer, larger-batch steps.
 */
export async function batchSizeStudy(
  o: CliOptions,
  data: MnistData,
  io: Console,
  quiet: boolean,
): Promise<BatchSizeRow[]> {
  const rows: BatchSizeRow[] = [];
  const trainBytes = data.train.count * 785 * 4;
  for (const batchSize of o.batchSizes) {
    for (const norm of o.norms) {
      const name = RUN_NAMES[norm];
      const base: BatchSizeRow = {
        name,
        norm,
        batchSize,
        skipped: null,
        steps: 0,
        samples: 0,
        trainSeconds: 0,
        samplesPerSec: Number.NaN,
        peakStepBytes: Number.NaN,
        peakRssBytes: Number.NaN,
        finalAccuracy: Number.NaN,
        stepsToTarget: null,
        secondsToTarget: null,
      };
      if (batchSize < 2 && norm !== "none" && norm !== "layer" && norm !== "group") {
        rows.push({ ...base, skipped: "BN needs 2+ samples" });
        if (!quiet)
          io.err.write(
            `batch ${String(batchSize).padStart(4)}  ${name.padEnd(8)}  skipped: BN needs 2 or more samples per batch\n`,
          );
        continue;
      }
      if (batchSize > data.train.count) {
        rows.push({ ...base, skipped: "larger than the training set" });
        continue;
      }
      const evalEvery = Math.max(1, Math.round(EVAL_EVERY_SAMPLES / batchSize));
      // At most 5 epochs: the budget, not the step count, normally ends a run.
      const steps = o.steps ?? Math.max(1, Math.floor((5 * data.train.count) / batchSize));
      const cfg = runConfig({ ...o, batchSize }, norm, steps, { evalEvery, stopOnDivergence: true });
      let peakRss = process.memoryUsage.rss();
      let hit: { step: number; seconds: number } | null = null;
      const r = await runExperiment(cfg, data, {
        timeBudgetSeconds: o.budget,
        onStep(info) {
          if (info.step % 16 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
        },
        stopAfterEval(p) {
          peakRss = Math.max(peakRss, process.memoryUsage.rss());
          if (p.testAccuracy >= o.target && !hit) hit = { step: p.step, seconds: p.trainSeconds };
          return hit !== null;
        },
      });
      const reached = hit as { step: number; seconds: number } | null;
      const row: BatchSizeRow = {
        ...base,
        steps: r.steps,
        samples: r.steps * batchSize,
        trainSeconds: r.trainSeconds,
        samplesPerSec: r.trainSamplesPerSec,
        peakStepBytes: Math.max(0, r.peakTensorBytes - trainBytes),
        peakRssBytes: peakRss,
        finalAccuracy: r.testAccuracy,
        stepsToTarget: reached?.step ?? null,
        secondsToTarget: reached?.seconds ?? null,
      };
      rows.push(row);
      if (!quiet) {
        io.err.write(
          `batch ${String(batchSize).padStart(4)}  ${name.padEnd(8)}  ${num(row.samplesPerSec).padStart(7)} samples/s  ` +
            `acc ${pct(row.finalAccuracy, 1)}  ${reached ? `target after ${reached.step} steps, ${reached.seconds.toFixed(1)} s` : `target not reached in ${r.steps} steps`}` +
            `${r.diverged ? " (diverged)" : ""}\n`,
        );
      }
    }
  }
  return rows;
}

export function batchSizeTable(rows: readonly BatchSizeRow[], target: number): Table {
  return {
    headers: [
      "batch",
      "run",
      "samples/s",
      "peak step memory",
      "peak RSS",
      "steps run",
      `steps to ${pct(target, 0)}`,
      `seconds to ${pct(target, 0)}`,
      "final acc",
    ],
    numeric: [true, false, true, true, true, true, true, true, true],
    rows: rows.map((r) =>
      r.skipped
        ? [String(r.batchSize), r.name, "skipped", "-", "-", "-", "-", "-", r.skipped]
        : [
            String(r.batchSize),
            r.name,
            num(r.samplesPerSec),
            mib(r.peakStepBytes),
            mib(r.peakRssBytes),
            String(r.steps),
            r.stepsToTarget === null ? "not reached" : String(r.stepsToTarget),
            r.secondsToTarget === null ? "not reached" : r.secondsToTarget.toFixed(1),
            pct(r.finalAccuracy, 1),
          ],
    ),
  };
}

export function batchSizeReport(
  rows: readonly BatchSizeRow[],
  o: CliOptions,
  testCount: number,
  wallSeconds: number,
) {
  const names = [...new Set(rows.map((r) => r.name))];
  const sizes = [...new Set(rows.map((r) => r.batchSize))].sort((a, b) => a - b);
  const series = (pick: (r: BatchSizeRow) => number | null) =>
    names.map((name, i) => {
      const norm = rows.find((r) => r.name === name)!.norm;
      return {
        name: RUN_LABELS[norm],
        color: runColor(name, i),
        markers: true,
        points: rows
          .filter((r) => r.name === name && !r.skipped)
          .map((r) => [r.batchSize, pick(r) ?? Number.NaN] as const),
      };
    });
  // Quantities that start at zero read best on an axis that does too.
  const fromZero = (pick: (r: BatchSizeRow) => number | null): [number, number] => {
    const vals = rows.map((r) => pick(r) ?? Number.NaN).filter(Number.isFinite);
    return [0, Math.max(1e-9, ...vals) * 1.08];
  };
  const common = {
    xLabel: "batch size (log scale)",
    logX: true,
    xTicks: sizes,
    xDomain: [sizes[0] * 0.8, sizes.at(-1)! * 1.25] as [number, number],
  };
  const figures = [
    {
      file: "throughput",
      svg: lineChart({
        ...common,
        title: "Training throughput by batch size",
        subtitle: `samples per second of training (evaluation excluded), ${o.backend}`,
        yLabel: "samples / s",
        yDomain: fromZero((r) => r.samplesPerSec),
        series: series((r) => r.samplesPerSec),
      }),
    },
    {
      file: "time-to-target",
      svg: lineChart({
        ...common,
        title: `Training seconds to ${pct(o.target, 0)} test accuracy`,
        subtitle: `lr ${o.lr} for every batch size; missing points did not reach the target in ${o.budget} s`,
        yLabel: "seconds",
        yDomain: fromZero((r) => r.secondsToTarget),
        series: series((r) => r.secondsToTarget),
      }),
    },
    {
      file: "memory",
      svg: lineChart({
        ...common,
        title: "Peak tensor memory of a training step",
        subtitle: "minibatch memory() bytes at the end of backward, minus the training set's tensors",
        yLabel: "MiB",
        yDomain: fromZero((r) => r.peakStepBytes / 2 ** 20),
        series: series((r) => r.peakStepBytes / 2 ** 20),
      }),
    },
  ];
  const table = batchSizeTable(rows, o.target);
  const html = htmlPage(
    "Batch size study: throughput, memory and time to accuracy",
    [
      `MNIST ${o.model === "mlp" ? "784-100-100-100-10 sigmoid MLP" : "sigmoid CNN"}, plain SGD at lr ${o.lr} for every batch size, seed ${o.seed}, backend ${o.backend}. Each run trains until its test accuracy (on ${testCount.toLocaleString("en-US")} test images, checked every ${EVAL_EVERY_SAMPLES.toLocaleString("en-US")} training samples) reaches ${pct(o.target, 0)}, or its ${o.budget} s training budget runs out. Batch Normalization cannot train on batches of one sample (its variance is zero), so BN is skipped there.`,
      `Larger batches run more samples per second (fewer, larger kernels) but take fewer steps per epoch; with a fixed learning rate they need more samples to reach the same accuracy. Peak step memory grows with the batch (activations and their gradients). Total time ${wallSeconds.toFixed(0)} s.`,
    ],
    [
      { heading: "Results", html: htmlTable(table) },
      { heading: "Charts", figures: figures.map((f) => f.svg) },
    ],
    `Generated by @minibatch/demo on ${new Date().toISOString()}.`,
  );
  return { html, figures, table };
}
