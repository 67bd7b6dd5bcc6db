import { lineChart } from "../charts/svg";
import type { Verdict } from "../claims";
import { type NormKind, RUN_LABELS, RUN_NAMES } from "../config";
import { runExperiment, Trainer } from "../experiment";
import { runColor } from "../report/figures";
import { htmlTable, mib, num, pct, type Table } from "../report/table";
import { runConfig } from "../run-config";
import { linearFit, spread } from "../stats";
import type { Study, StudyContext, StudyResult } from "./study";

type Spread = ReturnType<typeof spread>;

/** Claim 1: one batch size and normalization, timed over repeats, with its memory. */
export interface CostRow {
  name: string;
  norm: NormKind;
  batchSize: number;
  skipped: string | null;
  stepsPerEpoch: number;
  /** Seconds per step, over repeats. */
  stepSeconds: Spread;
  /** Seconds per epoch (steps per epoch x seconds per step), over the same repeats. */
  epochSeconds: Spread;
  samplesPerSec: number;
  /** Peak of minibatch memory().bytes during a step, minus the training set's own tensors. */
  stepBytes: number;
  /** Peak tensors alive during a step, minus those alive before the first step. */
  stepTensors: number;
  /** Peak process RSS during the timed steps minus the RSS just before them. */
  rssGrowthBytes: number;
}

/** Claim 2: training to the target accuracy at one batch size and learning-rate rule. */
export interface ReachRow {
  name: string;
  norm: NormKind;
  batchSize: number;
  mode: "fixed" | "scaled";
  lr: number;
  samplesToTarget: number | null;
  secondsToTarget: number | null;
  samplesRun: number;
  trainSeconds: number;
  finalAccuracy: number;
  diverged: boolean;
}

export const DEFAULT_SIZES = [1, 8, 32, 60, 256, 1024];

/** Evaluations every this many training samples whatever the batch size, so they are comparable. */
const EVAL_EVERY_SAMPLES = 6000;
/** The paper's batch, the reference of the linear-scaling rule (lr x B / 60). */
const REFERENCE_BATCH = 60;

/** Epochs a run may take to reach the target accuracy before it counts as not reaching it. */
export const MAX_EPOCHS = 2;

/** --quick caps each run to reach the target at 1 s. */
const budgetOf = (o: { budget: number; quick: boolean }) => (o.quick ? Math.min(o.budget, 1) : o.budget);

const needsBatch = (norm: NormKind) => norm === "batch" || norm === "renorm" || norm === "ghost";

async function measureCost(ctx: StudyContext, norm: NormKind, batchSize: number): Promise<CostRow> {
  const { o, data } = ctx;
  const stepsPerEpoch = Math.floor(data.train.count / batchSize);
  const base: CostRow = {
    name: RUN_NAMES[norm],
    norm,
    batchSize,
    skipped: null,
    stepsPerEpoch,
    stepSeconds: spread([]),
    epochSeconds: spread([]),
    samplesPerSec: Number.NaN,
    stepBytes: Number.NaN,
    stepTensors: Number.NaN,
    rssGrowthBytes: Number.NaN,
  };
  if (batchSize < 2 && needsBatch(norm)) return { ...base, skipped: "BN needs 2+ samples" };
  if (batchSize > data.train.count) return { ...base, skipped: "larger than the training set" };
  const t = new Trainer(runConfig({ ...o, batchSize }, norm, 1e9), data);
  try {
    // Two warm-up steps: the first allocates and compiles what later steps reuse.
    await t.step();
    await t.step();
    const tensorsBefore = t.peakTensors;
    const rss0 = process.memoryUsage.rss();
    let rssPeak = rss0;
    // About 2,000 samples per repeat (300 with --quick; at least 4 steps), so repeats take similar times.
    const k = Math.max(4, Math.ceil((o.quick ? 300 : 2000) / batchSize));
    const perStep: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const s0 = t.trainSeconds;
      for (let i = 0; i < k; i++) {
        await t.step();
        if (i % 8 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      }
      perStep.push((t.trainSeconds - s0) / k);
    }
    const stepSeconds = spread(perStep);
    return {
      ...base,
      stepSeconds,
      epochSeconds: spread(perStep.map((s) => s * stepsPerEpoch)),
      samplesPerSec: batchSize / stepSeconds.median,
      stepBytes: t.peakTensorBytes,
      stepTensors: Math.max(0, t.peakTensors - tensorsBefore),
      rssGrowthBytes: rssPeak - rss0,
    };
  } finally {
    t.dispose();
  }
}

async function reachTarget(
  ctx: StudyContext,
  norm: NormKind,
  batchSize: number,
  mode: "fixed" | "scaled",
): Promise<ReachRow> {
  const { o, data } = ctx;
  const lr = mode === "fixed" ? o.lr : (o.lr * batchSize) / REFERENCE_BATCH;
  const evalEvery = Math.max(1, Math.round(EVAL_EVERY_SAMPLES / batchSize));
  // The budget is counted in samples (MAX_EPOCHS), so the verdict does not depend on how busy the
  // machine is; --budget only caps the seconds of a run that crawls.
  const steps = Math.max(1, Math.floor(((o.quick ? 1 : MAX_EPOCHS) * data.train.count) / batchSize));
  const cfg = runConfig({ ...o, batchSize, lr }, norm, steps, { evalEvery, stopOnDivergence: true });
  let hit: { step: number; seconds: number } | null = null;
  const r = await runExperiment(cfg, data, {
    timeBudgetSeconds: budgetOf(o),
    stopAfterEval(p) {
      if (p.testAccuracy >= o.target && !hit) hit = { step: p.step, seconds: p.trainSeconds };
      return hit !== null;
    },
  });
  const reached = hit as { step: number; seconds: number } | null;
  return {
    name: RUN_NAMES[norm],
    norm,
    batchSize,
    mode,
    lr,
    samplesToTarget: reached ? reached.step * batchSize : null,
    secondsToTarget: reached?.seconds ?? null,
    samplesRun: r.steps * batchSize,
    trainSeconds: r.trainSeconds,
    finalAccuracy: r.testAccuracy,
    diverged: r.diverged,
  };
}

const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const secs = (s: Spread) =>
  s.n ? `${s.median.toFixed(2)} s (${s.min.toFixed(2)}-${s.max.toFixed(2)})` : "-";

export function costVerdict(rows: readonly CostRow[]): Verdict {
  const ok = rows.filter((r) => !r.skipped);
  const names = [...new Set(ok.map((r) => r.name))];
  const parts: string[] = [];
  let memoryGrows = true;
  let faster = true;
  for (const name of names) {
    const rs = ok.filter((r) => r.name === name).sort((a, b) => a.batchSize - b.batchSize);
    if (rs.length < 2) continue;
    const fit = linearFit(
      rs.map((r) => r.batchSize),
      rs.map((r) => r.stepBytes),
    );
    const lo = rs[0];
    const hi = rs.at(-1)!;
    memoryGrows &&= fit.slope > 0 && hi.stepBytes > lo.stepBytes;
    faster &&= hi.epochSeconds.median < lo.epochSeconds.median;
    parts.push(
      `${RUN_LABELS[rs[0].norm]}: live tensor memory in a step grew from ${mib(lo.stepBytes)} at batch ${lo.batchSize} to ${mib(hi.stepBytes)} at batch ${hi.batchSize}, ${kib(fit.slope)} per sample on a straight line (R² ${fit.r2.toFixed(3)}); an epoch took ${secs(lo.epochSeconds)} at batch ${lo.batchSize} (${lo.stepsPerEpoch.toLocaleString("en-US")} steps) and ${secs(hi.epochSeconds)} at batch ${hi.batchSize} (${hi.stepsPerEpoch.toLocaleString("en-US")} steps), ${(lo.epochSeconds.median / hi.epochSeconds.median).toFixed(1)}x ${hi.epochSeconds.median < lo.epochSeconds.median ? "faster" : "slower"}.`,
    );
  }
  return {
    claim: 1,
    aspect: "batch size trades memory for speed",
    outcome: !parts.length
      ? "not measured"
      : memoryGrows && faster
        ? "holds"
        : memoryGrows || faster
          ? "partly"
          : "does not hold",
    evidence: parts.join(" ") || "Fewer than two batch sizes ran.",
  };
}

/** Claim 2 for one learning-rate rule: which batch reached the target in the least training time. */
export function reachVerdict(rows: readonly ReachRow[], mode: "fixed" | "scaled", target: number): Verdict {
  const rs = rows.filter((r) => r.mode === mode).sort((a, b) => a.batchSize - b.batchSize);
  const reached = rs.filter((r) => r.secondsToTarget !== null);
  const rule =
    mode === "fixed"
      ? `at a fixed lr ${rs[0]?.lr}`
      : `with the lr scaled to the batch (lr x B / ${REFERENCE_BATCH})`;
  if (!reached.length) {
    return {
      claim: 2,
      aspect: `bigger batches train faster, ${rule}`,
      outcome: rs.length ? "does not hold" : "not measured",
      evidence: `No batch size reached ${pct(target, 0)} within the budget.`,
    };
  }
  const best = reached.reduce((a, b) => (b.secondsToTarget! < a.secondsToTarget! ? b : a));
  const largest = rs.at(-1)!;
  const smallest = rs[0];
  const describe = (r: ReachRow) =>
    r.secondsToTarget === null
      ? `batch ${r.batchSize} did not reach it within the budget (${pct(r.finalAccuracy, 1)} after ${r.samplesRun.toLocaleString("en-US")} samples, ${r.trainSeconds.toFixed(1)} s${r.diverged ? ", diverged" : ""})`
      : `batch ${r.batchSize} needed ${r.samplesToTarget!.toLocaleString("en-US")} samples and ${r.secondsToTarget.toFixed(1)} s`;
  const outcome =
    best.batchSize === largest.batchSize
      ? "holds"
      : best.batchSize === smallest.batchSize
        ? "does not hold"
        : "partly";
  return {
    claim: 2,
    aspect: `bigger batches train faster, ${rule}`,
    outcome,
    evidence: `To reach ${pct(target, 0)}: ${rs.map(describe).join("; ")}. Fastest: batch ${best.batchSize}${outcome === "partly" ? `, so bigger batches helped up to batch ${best.batchSize} and not beyond` : ""}.`,
  };
}

export const batchSizeStudy: Study = {
  id: "batch-sizes",
  claims: [1, 2],
  title: "Batch size: memory, speed and time to accuracy",
  summary: "memory and time per epoch against batch size; time to a target accuracy at fixed and scaled lr",
  defaultTestSize: 2000,
  async run(ctx: StudyContext): Promise<StudyResult> {
    const { o, io, quiet } = ctx;
    const sizes = [...(o.batchSizes ?? (o.quick ? [1, 8, 64, 256] : DEFAULT_SIZES))].sort((a, b) => a - b);
    const log = (s: string) => quiet || io.err.write(`${s}\n`);
    const cost: CostRow[] = [];
    for (const b of sizes) {
      for (const norm of o.norms) {
        const row = await measureCost(ctx, norm, b);
        cost.push(row);
        log(
          row.skipped
            ? `batch ${String(b).padStart(4)}  ${row.name.padEnd(8)}  skipped: ${row.skipped}`
            : `batch ${String(b).padStart(4)}  ${row.name.padEnd(8)}  epoch ${secs(row.epochSeconds)}  step memory ${mib(row.stepBytes)}  RSS +${mib(row.rssGrowthBytes)}`,
        );
      }
    }
    const reachNorm: NormKind = o.norms.includes("batch") ? "batch" : o.norms[0];
    const reachSizes = sizes.filter((b) => b >= 2 || !needsBatch(reachNorm));
    const reach: ReachRow[] = [];
    for (const mode of ["fixed", "scaled"] as const) {
      for (const b of reachSizes) {
        if (b > ctx.data.train.count) continue;
        const row = await reachTarget(ctx, reachNorm, b, mode);
        reach.push(row);
        log(
          `to ${pct(o.target, 0)}  ${mode.padEnd(6)} lr ${row.lr.toPrecision(3).padStart(6)}  batch ${String(b).padStart(4)}  ${
            row.secondsToTarget === null
              ? `not reached (${pct(row.finalAccuracy, 1)})`
              : `${row.samplesToTarget!.toLocaleString("en-US")} samples, ${row.secondsToTarget.toFixed(1)} s`
          }`,
        );
      }
    }
    const verdicts = [
      costVerdict(cost),
      reachVerdict(reach, "fixed", o.target),
      reachVerdict(reach, "scaled", o.target),
    ];
    return report(ctx, cost, reach, reachNorm, verdicts);
  },
};

function report(
  ctx: StudyContext,
  cost: CostRow[],
  reach: ReachRow[],
  reachNorm: NormKind,
  verdicts: Verdict[],
): StudyResult {
  const { o, data } = ctx;
  const names = [...new Set(cost.map((r) => r.name))];
  const sizes = [...new Set(cost.map((r) => r.batchSize))].sort((a, b) => a - b);
  const costSeries = (pick: (r: CostRow) => number) =>
    names.map((name, i) => ({
      name: RUN_LABELS[cost.find((r) => r.name === name)!.norm],
      color: runColor(name, i),
      markers: true,
      points: cost.filter((r) => r.name === name && !r.skipped).map((r) => [r.batchSize, pick(r)] as const),
    }));
  const linear = {
    xLabel: "batch size (linear scale)",
    xDomain: [0, sizes.at(-1)! * 1.04] as [number, number],
  };
  const memFig = lineChart({
    ...linear,
    title: "Live tensor memory of a training step",
    subtitle: "minibatch memory() bytes at the end of backward, minus the training set's tensors",
    yLabel: "MiB",
    series: costSeries((r) => r.stepBytes / 2 ** 20),
  });
  const rssFig = lineChart({
    ...linear,
    title: "Process RSS growth during the timed steps",
    subtitle: "peak RSS minus the RSS before the steps (includes allocator and V8 heap)",
    yLabel: "MiB",
    series: costSeries((r) => r.rssGrowthBytes / 2 ** 20),
  });
  const epochFig = lineChart({
    ...linear,
    title: "Time per epoch",
    subtitle: `${data.train.count.toLocaleString("en-US")} images; median of ${o.repeats} repeats (table: min-max), evaluation excluded`,
    yLabel: "seconds",
    series: costSeries((r) => r.epochSeconds.median),
  });
  const reachSizes = [...new Set(reach.map((r) => r.batchSize))].sort((a, b) => a - b);
  const reachSeries = (pick: (r: ReachRow) => number | null) =>
    (["fixed", "scaled"] as const).map((mode, i) => ({
      name: mode === "fixed" ? `fixed lr ${o.lr}` : `lr scaled: ${o.lr} x B / ${REFERENCE_BATCH}`,
      color: i ? "#2ca02c" : "#9467bd",
      markers: true,
      points: reach.filter((r) => r.mode === mode).map((r) => [r.batchSize, pick(r) ?? Number.NaN] as const),
    }));
  const logAxis = {
    xLabel: "batch size (log scale)",
    logX: true,
    xTicks: reachSizes,
    xDomain: [reachSizes[0] * 0.8, reachSizes.at(-1)! * 1.25] as [number, number],
  };
  const samplesFig = lineChart({
    ...logAxis,
    title: `Training samples to ${pct(o.target, 0)} test accuracy`,
    subtitle: `${RUN_LABELS[reachNorm]}; missing points did not reach it within ${MAX_EPOCHS} epochs (or ${budgetOf(o)} s)`,
    yLabel: "samples",
    series: reachSeries((r) => r.samplesToTarget),
  });
  const secondsFig = lineChart({
    ...logAxis,
    title: `Training seconds to ${pct(o.target, 0)} test accuracy`,
    subtitle: "evaluation excluded",
    yLabel: "seconds",
    series: reachSeries((r) => r.secondsToTarget),
  });
  const costTable: Table = {
    headers: [
      "batch",
      "run",
      "steps/epoch",
      "time/epoch (median, min-max)",
      "samples/s",
      "step memory",
      "tensors",
      "RSS growth",
    ],
    numeric: [true, false, true, true, true, true, true, true],
    rows: cost.map((r) =>
      r.skipped
        ? [String(r.batchSize), r.name, "-", r.skipped, "-", "-", "-", "-"]
        : [
            String(r.batchSize),
            r.name,
            r.stepsPerEpoch.toLocaleString("en-US"),
            secs(r.epochSeconds),
            num(r.samplesPerSec),
            mib(r.stepBytes),
            String(r.stepTensors),
            mib(r.rssGrowthBytes),
          ],
    ),
  };
  const reachTable: Table = {
    headers: [
      "batch",
      "lr rule",
      "lr",
      `samples to ${pct(o.target, 0)}`,
      `seconds to ${pct(o.target, 0)}`,
      "final acc",
    ],
    numeric: [true, false, true, true, true, true],
    rows: reach.map((r) => [
      String(r.batchSize),
      r.mode,
      r.lr.toPrecision(3),
      r.samplesToTarget === null ? "not reached" : r.samplesToTarget.toLocaleString("en-US"),
      r.secondsToTarget === null ? "not reached" : r.secondsToTarget.toFixed(1),
      `${pct(r.finalAccuracy, 1)}${r.diverged ? " (diverged)" : ""}`,
    ]),
  };
  const [v1, v2f, v2s] = verdicts;
  const figures = [
    { file: "memory", svg: memFig },
    { file: "rss", svg: rssFig },
    { file: "epoch-time", svg: epochFig },
    { file: "samples-to-target", svg: samplesFig },
    { file: "seconds-to-target", svg: secondsFig },
  ];
  return {
    id: "batch-sizes",
    title: batchSizeStudy.title,
    intro: [
      `MNIST, the paper's 784-100-100-100-10 sigmoid MLP, plain SGD, seed ${o.seed}, backend ${o.backend}, ${data.train.count.toLocaleString("en-US")} training images. Part 1 times ${o.repeats} repeats of about 2,000 samples of training at each batch size and records the memory of a step. Part 2 trains ${RUN_LABELS[reachNorm]} at each batch size until its test accuracy (${data.test.count.toLocaleString("en-US")} images, checked every ${EVAL_EVERY_SAMPLES.toLocaleString("en-US")} samples) reaches ${pct(o.target, 0)}, for at most ${MAX_EPOCHS} epochs (and ${budgetOf(o)} s of training), once at lr ${o.lr} for every batch and once with the lr scaled to the batch (the linear-scaling rule of Goyal et al., 2017). Part 2 runs once per setting: its sample counts are exact for the seed, its times are as noisy as the spread in part 1.`,
    ],
    verdicts,
    sections: [
      {
        heading: "Claim 1: memory and time per epoch",
        verdicts: [{ outcome: v1.outcome, text: v1.evidence }],
        html: htmlTable(costTable),
        figures: [memFig, rssFig, epochFig],
        captions: [
          v1.evidence.split(". ")[0],
          `RSS grew by ${cost
            .filter((r) => !r.skipped)
            .map((r) => `${mib(r.rssGrowthBytes)} (batch ${r.batchSize}, ${r.name})`)
            .join(
              ", ",
            )}. RSS also counts memory the allocator keeps after freeing, so it is noisier than the tensor bytes.`,
          `Median seconds per epoch: ${cost
            .filter((r) => !r.skipped)
            .map((r) => `${r.epochSeconds.median.toFixed(2)} s at batch ${r.batchSize} (${r.name})`)
            .join(", ")}.`,
        ],
      },
      {
        heading: "Claim 2: time to a target accuracy",
        verdicts: [v2f, v2s].map((v) => ({ outcome: v.outcome, text: `${v.aspect}: ${v.evidence}` })),
        html: htmlTable(reachTable),
        figures: [samplesFig, secondsFig],
        captions: [v2f.evidence, v2s.evidence],
      },
    ],
    figures,
    tables: [costTable, reachTable],
    json: { cost, reach, target: o.target, budgetSeconds: budgetOf(o), repeats: o.repeats },
  };
}
