import type { CliOptions } from "../args";
import { lineChart, PALETTE } from "../charts/svg";
import type { Verdict } from "../claims";
import type { RunResult } from "../config";
import { runExperiment } from "../experiment";
import type { MnistData } from "../mnist";
import { ProgressBar } from "../progress";
import { htmlTable, num, pct, type Table } from "../report/table";
import { runConfig } from "../run-config";
import type { Console } from "../train";
import { runJson } from "./figure1";
import type { Study, StudyContext, StudyResult } from "./study";

/** Accuracy a run must reach to count as "trained" in the table. */
const REACH = 0.85;

/**
 * The paper's BN-x5 and BN-x30 runs on MNIST: BN and the baseline at the default learning rate
 * and at 5 and 30 times it, for a fixed number of steps each. Runs whose loss stops being finite
 * end early and are marked diverged.
 */
export async function lrStudy(
  o: CliOptions,
  data: MnistData,
  io: Console,
  quiet: boolean,
): Promise<RunResult[]> {
  const steps = o.steps ?? 500;
  const results: RunResult[] = [];
  for (const lr of o.lrs) {
    for (const norm of o.norms) {
      const cfg = runConfig({ ...o, lr }, norm, steps, {
        name: `${runConfig(o, norm, steps).name}@${lr}`,
        evalEvery: o.evalEvery ?? Math.max(1, Math.round(steps / 12)),
        stopOnDivergence: true,
      });
      const bar = quiet ? null : new ProgressBar(io.err, cfg.name.padEnd(14), steps);
      let loss: number | null = null;
      const r = await runExperiment(cfg, data, {
        onStep(info, t) {
          if (info.loss !== null) loss = info.loss;
          bar?.update({
            step: info.step,
            loss,
            samplesPerSec: (t.stepCount * cfg.batchSize) / Math.max(t.trainSeconds, 1e-9),
          });
        },
      });
      bar?.done({ step: r.steps, loss, samplesPerSec: r.trainSamplesPerSec, accuracy: r.testAccuracy });
      results.push(r);
    }
  }
  return results;
}

export function stepsToReach(r: RunResult, target: number): number | null {
  return r.curve.find((p) => p.testAccuracy >= target)?.step ?? null;
}

export function lrTable(runs: readonly RunResult[]): Table {
  return {
    headers: ["run", "lr", "final test acc", `steps to ${pct(REACH, 0)}`, "steps run", "samples/s", "status"],
    numeric: [false, true, true, true, true, true, false],
    rows: runs.map((r) => {
      const reach = stepsToReach(r, REACH);
      return [
        r.label,
        String(r.lr),
        pct(r.testAccuracy),
        reach === null ? "not reached" : String(reach),
        String(r.steps),
        num(r.trainSamplesPerSec),
        r.diverged ? "diverged (loss not finite)" : r.testAccuracy < 0.5 ? "crawls / stuck" : "trains",
      ];
    }),
  };
}

/** Claim 6 (higher learning rates): the largest swept lr at which each network still reached REACH. */
export function lrVerdict(runs: readonly RunResult[]): Verdict {
  const bn = runs.filter((r) => r.norm === "batch");
  const base = runs.filter((r) => r.norm === "none");
  if (!bn.length || !base.length) {
    return {
      claim: 6,
      aspect: "BN allows higher learning rates",
      outcome: "not measured",
      evidence: "The sweep needs both batch and none in --norm.",
    };
  }
  const maxOk = (rs: RunResult[]) =>
    Math.max(0, ...rs.filter((r) => !r.diverged && r.testAccuracy >= REACH).map((r) => r.lr));
  const best = (rs: RunResult[]) => rs.reduce((a, b) => (b.testAccuracy > a.testAccuracy ? b : a));
  const bnMax = maxOk(bn);
  const baseMax = maxOk(base);
  const bb = best(bn);
  const ba = best(base);
  const describe = (r: RunResult) => `${pct(r.testAccuracy, 1)}${r.diverged ? " (diverged)" : ""}`;
  const lrs = [...new Set(runs.map((r) => r.lr))].sort((a, b) => a - b);
  const perLr = lrs
    .map((lr) => {
      const a = bn.find((r) => r.lr === lr);
      const b = base.find((r) => r.lr === lr);
      return `lr ${lr}: BN ${a ? describe(a) : "-"}, baseline ${b ? describe(b) : "-"}`;
    })
    .join("; ");
  const higher = bnMax > baseMax;
  if (!bnMax && !baseMax) {
    return {
      claim: 6,
      aspect: "BN allows higher learning rates",
      outcome: "not measured",
      evidence: `${perLr}. Neither network reached ${pct(REACH, 0)} at any rate in ${runs[0].steps} steps, so this sweep cannot tell which tolerates higher rates.`,
    };
  }
  return {
    claim: 6,
    aspect: "BN allows higher learning rates",
    outcome: higher ? "holds" : bnMax === baseMax && bnMax > 0 ? "does not hold" : "partly",
    evidence: `${perLr}. BN reached ${pct(REACH, 0)} at learning rates up to ${bnMax || "none"}, the baseline up to ${baseMax || "none"}${higher ? "" : ": in this sweep BN did not tolerate a higher rate than the baseline"}. Best: BN ${pct(bb.testAccuracy, 1)} at lr ${bb.lr}, baseline ${pct(ba.testAccuracy, 1)} at lr ${ba.lr}.`,
  };
}

export const lrSweepStudy: Study = {
  id: "lr",
  claims: [6],
  title: "Learning-rate sweep: does BN allow higher learning rates?",
  summary: "BN vs no BN at x1, x5, x10 and x30 the default learning rate",
  defaultTestSize: 2000,
  async run(ctx: StudyContext): Promise<StudyResult> {
    const { o } = ctx;
    const runs = await lrStudy(
      { ...o, steps: o.steps ?? (o.quick ? 40 : null) },
      ctx.data,
      ctx.io,
      ctx.quiet,
    );
    const v = lrVerdict(runs);
    const lrs = [...new Set(runs.map((r) => r.lr))];
    const color = (lr: number) => PALETTE[[0, 2, 3, 4, 5, 6, 1][lrs.indexOf(lr) % 7]];
    const chart = lineChart({
      title: "Test accuracy over a learning-rate sweep: BN (solid) vs baseline (dashed)",
      subtitle: `test accuracy on ${ctx.data.test.count.toLocaleString("en-US")} images; runs that diverge stop early`,
      xLabel: "training steps",
      yLabel: "test accuracy",
      yDomain: [0, 1],
      yFormat: (x) => `${Math.round(x * 100)}%`,
      width: 760,
      height: 440,
      series: runs.map((r) => ({
        name: `${r.norm === "none" ? "baseline" : r.label} lr ${r.lr}${r.diverged ? " (diverged)" : ""}`,
        color: color(r.lr),
        dash: r.norm === "none" ? "6 4" : undefined,
        points: r.curve.map((p) => [p.step, p.testAccuracy] as const),
      })),
    });
    const table = lrTable(runs);
    return {
      id: "lr",
      title: this.title,
      intro: [
        `The paper trained Inception variants with BN at 5 and 30 times the learning rate (BN-x5, BN-x30) and reports that BN makes such rates usable. Here the MNIST network (batch ${o.batchSize}, seed ${o.seed}, ${o.backend}) trains at learning rates ${lrs.join(", ")} with and without BN, ${runs[0]?.curve.at(-1)?.step ?? 0} steps each; the verdict compares the largest rate at which each still reaches ${pct(REACH, 0)}.`,
      ],
      verdicts: [v],
      sections: [
        {
          heading: "Results",
          verdicts: [{ outcome: v.outcome, text: v.evidence }],
          html: htmlTable(table),
          figures: [chart],
          captions: [v.evidence],
        },
      ],
      figures: [{ file: "lr-accuracy", svg: chart }],
      tables: [table],
      json: { runs: runs.map(runJson) },
    };
  },
};
