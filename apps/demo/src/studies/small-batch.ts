import { lineChart } from "../charts/svg";
import type { Verdict } from "../claims";
import { type NormKind, RUN_LABELS, type RunResult } from "../config";
import { runExperiment } from "../experiment";
import { runColor } from "../report/figures";
import { htmlTable, pct, type Table } from "../report/table";
import { runConfig } from "../run-config";
import type { Study, StudyContext, StudyResult } from "./study";

export const SMALL_NORMS: NormKind[] = ["batch", "group", "layer", "renorm", "none"];
export const DEFAULT_SMALL_SIZES = [2, 4, 60];

export interface SmallRow {
  norm: NormKind;
  batchSize: number;
  run: RunResult;
}

export function smallBatchVerdicts(rows: readonly SmallRow[]): Verdict[] {
  const out: Verdict[] = [];
  const sizes = [...new Set(rows.map((r) => r.batchSize))].sort((a, b) => a - b);
  const at = (norm: NormKind, b: number) => rows.find((r) => r.norm === norm && r.batchSize === b)?.run;
  for (const b of sizes.filter((x) => x <= 8)) {
    const bn = at("batch", b);
    if (!bn) continue;
    const others = rows.filter((r) => r.batchSize === b && r.norm !== "batch");
    if (!others.length) continue;
    const best = others.reduce((a, c) => (c.run.testAccuracy > a.run.testAccuracy ? c : a));
    const gap = best.run.testAccuracy - bn.testAccuracy;
    const beaten = others.filter((r) => r.run.testAccuracy > bn.testAccuracy + 0.005).length;
    const large = sizes
      .filter((x) => x > 8)
      .map((x) => at("batch", x))
      .find(Boolean);
    const trainGap = bn.trainModeAccuracy - bn.testAccuracy;
    out.push({
      claim: 7,
      aspect: `BN fails at batch ${b}`,
      // It holds when BN trails most of the alternatives clearly; partly when it trails only some.
      outcome: gap > 0.02 && beaten * 2 >= others.length ? "holds" : gap > 0.005 ? "partly" : "does not hold",
      evidence:
        `At batch ${b}, BN reached ${pct(bn.testAccuracy, 1)} with its running statistics (eval mode) and ${pct(bn.trainModeAccuracy, 1)} with the statistics of ${b} test images at a time (training mode, ${Math.abs(trainGap * 100).toFixed(1)} points ${trainGap >= 0 ? "higher" : "lower"}); ` +
        `${others.map((r) => `${RUN_LABELS[r.norm]} ${pct(r.run.testAccuracy, 1)}`).join(", ")}. ` +
        (gap > 0
          ? `${beaten} of the ${others.length} others are ahead of BN; the best, ${RUN_LABELS[best.norm]}, by ${(gap * 100).toFixed(1)} points.`
          : `BN is ahead of every alternative (by ${(-gap * 100).toFixed(1)} points over ${RUN_LABELS[best.norm]}).`) +
        (large ? ` For reference, BN at batch ${large.batchSize}: ${pct(large.testAccuracy, 1)}.` : ""),
    });
  }
  return out;
}

export const smallBatchStudy: Study = {
  id: "small-batch",
  claims: [7],
  title: "Where BN fails: batches of 2 and 4",
  summary: "BN vs GroupNorm, LayerNorm, Batch Renorm at batch 2 and 4; train- vs eval-mode accuracy",
  defaultTestSize: 2000,
  async run(ctx: StudyContext): Promise<StudyResult> {
    const { o, io, quiet } = ctx;
    const sizes = o.batchSizes ?? (o.quick ? [2, 60] : DEFAULT_SMALL_SIZES);
    // The same number of training samples at every batch size, so only the batch differs.
    const samples = o.quick ? 400 : 6000;
    const norms = o.normsGiven ? o.norms : SMALL_NORMS;
    const rows: SmallRow[] = [];
    for (const b of sizes) {
      for (const norm of norms) {
        const steps = Math.max(1, Math.round(samples / b));
        const cfg = runConfig({ ...o, batchSize: b }, norm, steps, {
          name: `${norm}@${b}`,
          evalEvery: steps,
          // Training-mode accuracy normalizes test images in batches as small as the training ones.
          trainModeChunk: b,
          stopOnDivergence: true,
        });
        const run = await runExperiment(cfg, ctx.data);
        rows.push({ norm, batchSize: b, run });
        if (!quiet)
          io.err.write(
            `small-batch  batch ${String(b).padStart(3)}  ${RUN_LABELS[norm].padEnd(22)}  eval ${pct(run.testAccuracy, 1)}  train-mode ${pct(run.trainModeAccuracy, 1)}${run.diverged ? " (diverged)" : ""}\n`,
          );
      }
    }
    const verdicts = smallBatchVerdicts(rows);
    const fig = lineChart({
      title: "Test accuracy after the same number of samples, by batch size",
      subtitle: `${samples.toLocaleString("en-US")} training samples each, lr ${o.lr}; eval mode (running statistics)`,
      xLabel: "batch size (log scale)",
      yLabel: "test accuracy",
      logX: true,
      xTicks: sizes,
      xDomain: [sizes[0] * 0.8, sizes.at(-1)! * 1.25],
      yDomain: [0, 1],
      yFormat: (v) => `${Math.round(v * 100)}%`,
      series: norms.map((norm, i) => ({
        name: RUN_LABELS[norm],
        color: runColor(norm === "batch" ? "bn" : norm === "none" ? "baseline" : norm, i),
        markers: true,
        points: rows.filter((r) => r.norm === norm).map((r) => [r.batchSize, r.run.testAccuracy] as const),
      })),
    });
    const gapFig = lineChart({
      title: "BN: training-mode against eval-mode test accuracy",
      subtitle: "training mode normalizes each group of B test images with its own statistics",
      xLabel: "batch size (log scale)",
      yLabel: "test accuracy",
      logX: true,
      xTicks: sizes,
      xDomain: [sizes[0] * 0.8, sizes.at(-1)! * 1.25],
      yDomain: [0, 1],
      yFormat: (v) => `${Math.round(v * 100)}%`,
      series: (["batch", "renorm"] as NormKind[])
        .filter((n) => norms.includes(n))
        .flatMap((norm, i) => [
          {
            name: `${RUN_LABELS[norm]}, eval mode`,
            color: runColor(norm === "batch" ? "bn" : norm, i),
            markers: true,
            points: rows
              .filter((r) => r.norm === norm)
              .map((r) => [r.batchSize, r.run.testAccuracy] as const),
          },
          {
            name: `${RUN_LABELS[norm]}, training mode`,
            color: runColor(norm === "batch" ? "bn" : norm, i),
            dash: "6 4",
            markers: true,
            points: rows
              .filter((r) => r.norm === norm)
              .map((r) => [r.batchSize, r.run.trainModeAccuracy] as const),
          },
        ]),
    });
    const table: Table = {
      headers: ["batch", "normalization", "steps", "eval-mode acc", "train-mode acc"],
      numeric: [true, false, true, true, true],
      rows: rows.map((r) => [
        String(r.batchSize),
        RUN_LABELS[r.norm],
        String(r.run.steps),
        `${pct(r.run.testAccuracy, 1)}${r.run.diverged ? " (diverged)" : ""}`,
        pct(r.run.trainModeAccuracy, 1),
      ]),
    };
    const bnRows = rows.filter((r) => r.norm === "batch");
    return {
      id: "small-batch",
      title: this.title,
      intro: [
        `BN normalizes with the mean and variance of the batch. With 2 or 4 samples those are very noisy, and the running averages used at test time are averages of noisy values. GroupNorm and LayerNorm normalize each sample over its own features, so they do not depend on the batch; Batch Renorm (Ioffe, 2017) corrects the batch statistics toward the running ones. Every run sees ${samples.toLocaleString("en-US")} training samples (seed ${o.seed}, lr ${o.lr}); test accuracy on ${ctx.data.test.count.toLocaleString("en-US")} images.`,
      ],
      verdicts,
      sections: [
        {
          heading: "Small batches",
          verdicts: verdicts.map((v) => ({ outcome: v.outcome, text: v.evidence })),
          html: htmlTable(table),
          figures: [fig, gapFig],
          captions: [
            verdicts.map((v) => v.evidence.split("; ")[0]).join(" ") || "",
            `BN, eval mode vs training mode: ${bnRows.map((r) => `batch ${r.batchSize} ${pct(r.run.testAccuracy, 1)} vs ${pct(r.run.trainModeAccuracy, 1)}`).join(", ")}.`,
          ],
        },
      ],
      figures: [
        { file: "small-batch-accuracy", svg: fig },
        { file: "small-batch-train-vs-eval", svg: gapFig },
      ],
      tables: [table],
      json: {
        samples,
        runs: rows.map((r) => ({
          norm: r.norm,
          batchSize: r.batchSize,
          steps: r.run.steps,
          testAccuracy: r.run.testAccuracy,
          trainModeAccuracy: r.run.trainModeAccuracy,
          diverged: r.run.diverged,
        })),
      },
    };
  },
};
