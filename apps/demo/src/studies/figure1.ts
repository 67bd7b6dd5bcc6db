import type { Verdict } from "../claims";
import type { RunResult } from "../config";
import { formatDuration } from "../progress";
import { trainingFigures } from "../report/figures";
import { htmlTable, num, pct, type Table } from "../report/table";
import { accuracyAt, milestoneSteps } from "../report/training";
import { resolveSteps } from "../run-config";
import { spread } from "../stats";
import { trainAll } from "../train";
import type { Study, StudyContext, StudyResult } from "./study";

/** The paper's MNIST run length (section 4.1). */
export const PAPER_STEPS = 50_000;

const pts = (a: number, b: number) => `${((a - b) * 100).toFixed(1)} points`;
const p1 = (v: number) => pct(v, 1);
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "-");

/** First evaluated step at which a run's test accuracy reached `target`, or null. */
export function firstStepAtLeast(run: RunResult, target: number): number | null {
  return run.curve.find((p) => p.testAccuracy >= target)?.step ?? null;
}

/** Training samples/s of each evaluation interval: repeats of the same work, so their spread is the timing noise. */
export function intervalRates(run: RunResult): number[] {
  const out: number[] = [];
  for (let i = 1; i < run.curve.length; i++) {
    const a = run.curve[i - 1];
    const b = run.curve[i];
    const dt = b.trainSeconds - a.trainSeconds;
    if (dt > 0) out.push(((b.step - a.step) * run.batchSize) / dt);
  }
  return out;
}

export function rateText(run: RunResult): string {
  const s = spread(intervalRates(run));
  return s.n
    ? `${num(s.median)} samples/s (median of ${s.n} intervals, ${num(s.min)} to ${num(s.max)})`
    : "-";
}

/** Caption of Figure 1(a): who leads at the end, by how much, and how soon each reached a common accuracy. */
export function accuracyCaption(runs: readonly RunResult[]): string {
  if (!runs.length) return "";
  const steps = runs[0].steps;
  const ranked = [...runs].sort((a, b) => b.testAccuracy - a.testAccuracy);
  const [first, second] = ranked;
  const parts: string[] = [];
  if (!second)
    parts.push(
      `After ${steps.toLocaleString("en-US")} steps ${first.label} reached ${p1(first.testAccuracy)}.`,
    );
  else {
    const diff = first.testAccuracy - second.testAccuracy;
    parts.push(
      diff < 0.0005
        ? `After ${steps.toLocaleString("en-US")} steps ${first.label} and ${second.label} are level at ${p1(first.testAccuracy)}.`
        : `After ${steps.toLocaleString("en-US")} steps ${first.label} leads with ${p1(first.testAccuracy)} against ${second.label}'s ${p1(second.testAccuracy)} (${pts(first.testAccuracy, second.testAccuracy)})${
            ranked.length > 2
              ? `; then ${ranked
                  .slice(2)
                  .map((r) => `${r.label} ${p1(r.testAccuracy)}`)
                  .join(", ")}`
              : ""
          }.`,
    );
    const common = Math.min(...runs.map((r) => r.testAccuracy));
    const reach = runs.map((r) => ({ r, step: firstStepAtLeast(r, common) }));
    const sorted = reach.filter((x) => x.step !== null).sort((a, b) => a.step! - b.step!);
    if (sorted.length >= 2 && common > 0.2) {
      const fast = sorted[0];
      const slow = sorted.at(-1)!;
      parts.push(
        `Every run reached ${p1(common)} (the lowest final accuracy): ${sorted.map((x) => `${x.r.label} at step ${x.step!.toLocaleString("en-US")}`).join(", ")}${
          fast.step! > 0 && slow.step! > fast.step!
            ? `, ${(slow.step! / fast.step!).toFixed(1)}x fewer steps for ${fast.r.label}`
            : ""
        }.`,
      );
    }
  }
  const diverged = runs.filter((r) => r.diverged);
  if (diverged.length) parts.push(`Diverged (loss not finite): ${diverged.map((r) => r.label).join(", ")}.`);
  return parts.join(" ");
}

/** The drift of one run's probed sigmoid input: how far its median moved and how its spread changed. */
export function drift(run: RunResult) {
  const c = run.curve;
  const p50s = c.map((p) => p.p50);
  return {
    medianStart: c[0]?.p50 ?? Number.NaN,
    medianEnd: c.at(-1)?.p50 ?? Number.NaN,
    medianRange: Math.max(...p50s) - Math.min(...p50s),
    spreadStart: (c[0]?.p85 ?? Number.NaN) - (c[0]?.p15 ?? Number.NaN),
    spreadEnd: (c.at(-1)?.p85 ?? Number.NaN) - (c.at(-1)?.p15 ?? Number.NaN),
  };
}

export function percentileCaption(run: RunResult): string {
  const d = drift(run);
  return `${run.label}: the median went from ${f2(d.medianStart)} to ${f2(d.medianEnd)} (it moved over a range of ${f2(d.medianRange)} during training), and the 15th-85th percentile spread went from ${f2(d.spreadStart)} to ${f2(d.spreadEnd)}.`;
}

export function gammaBetaCaption(run: RunResult): string {
  const a = run.curve[0];
  const z = run.curve.at(-1);
  if (!a || !z || z.gamma === null || z.beta === null) return "";
  return `${run.label}: gamma went from ${f2(a.gamma ?? Number.NaN)} to ${f2(z.gamma)} and beta from ${f2(a.beta ?? Number.NaN)} to ${f2(z.beta)}. Undoing the normalization would take gamma = ${f2(z.preStd)} and beta = ${f2(z.preMean)} (the std and mean of the unit's input at the end); the learned gamma is ${f2(z.gamma / z.preStd)} times that std.`;
}

/** Claim 6's verdicts from a BN run and a baseline run. */
export function figure1Verdicts(runs: readonly RunResult[]): Verdict[] {
  const bn = runs.find((r) => r.norm === "batch");
  const base = runs.find((r) => r.norm === "none");
  if (!bn || !base) {
    return [
      {
        claim: 6,
        aspect: "BN against no BN",
        outcome: "not measured",
        evidence: `This run compared ${runs.map((r) => r.label).join(", ")}; the BN claims need both "batch" and "none" in --norm.`,
      },
    ];
  }
  const out: Verdict[] = [];
  // Accelerates: steps BN needed to reach the baseline's final accuracy (when the baseline learned at all).
  const target = base.testAccuracy;
  const start = base.curve[0]?.testAccuracy ?? 0;
  const learned = target > start + 0.05;
  const bnAt = firstStepAtLeast(bn, target);
  const baseAt = firstStepAtLeast(base, target) ?? base.steps;
  const lead = bn.testAccuracy - base.testAccuracy;
  const faster = learned ? bnAt !== null && bnAt < baseAt : lead > 0.05;
  out.push({
    claim: 6,
    aspect: "BN accelerates training",
    outcome: faster && lead > 0.001 ? "holds" : faster || lead > 0.001 ? "partly" : "does not hold",
    evidence:
      `After ${bn.steps.toLocaleString("en-US")} steps BN reached ${p1(bn.testAccuracy)} and the baseline ${p1(base.testAccuracy)} (${lead >= 0 ? "BN ahead by" : "BN behind by"} ${pts(Math.abs(lead), 0)}). ` +
      (!learned
        ? `The baseline stayed near its starting ${p1(start)}: it had not started learning yet.`
        : bnAt === null
          ? `BN never reached the baseline's final ${p1(target)}.`
          : `BN first reached the baseline's final ${p1(target)} at step ${bnAt.toLocaleString("en-US")}, the baseline at step ${baseAt.toLocaleString("en-US")}${bnAt > 0 ? ` (${(baseAt / bnAt).toFixed(1)}x fewer steps with BN)` : ""}.`),
  });
  const db = drift(base);
  const dn = drift(bn);
  out.push({
    claim: 6,
    aspect: "BN stabilizes the distribution of a sigmoid's input",
    outcome: dn.medianRange < db.medianRange ? "holds" : "does not hold",
    evidence: `Over training the median of unit 0's sigmoid input moved over a range of ${f2(db.medianRange)} without BN and ${f2(dn.medianRange)} with BN; its 15th-85th percentile spread went from ${f2(db.spreadStart)} to ${f2(db.spreadEnd)} without BN and from ${f2(dn.spreadStart)} to ${f2(dn.spreadEnd)} with BN.`,
  });
  const a = bn.curve[0];
  const z = bn.curve.at(-1)!;
  if (z.gamma !== null && z.beta !== null && a.gamma !== null && a.beta !== null) {
    const moved = Math.abs(z.gamma - a.gamma) > 0.02 || Math.abs(z.beta - a.beta) > 0.02;
    const ratio = z.gamma / z.preStd;
    const undone =
      Math.abs(Math.log(ratio)) < Math.log(1.25) && Math.abs(z.beta - z.preMean) < 0.25 * z.preStd;
    out.push({
      claim: 6,
      aspect: "gamma and beta let the network undo the normalization",
      outcome: !moved ? "does not hold" : undone ? "holds" : "partly",
      evidence: `gamma and beta are trained like the weights: unit 0's gamma went from ${f2(a.gamma)} to ${f2(z.gamma)} and beta from ${f2(a.beta)} to ${f2(z.beta)}. Undoing BN would take gamma = ${f2(z.preStd)} and beta = ${f2(z.preMean)}; ${undone ? "the run came close to that, so the network did undo the normalization for this unit" : `the learned gamma is ${f2(ratio)} times that, so this run kept the normalization: the parameters could undo it, but training did not use them that way here`}.`,
    });
  }
  return out;
}

function summaryTable(runs: readonly RunResult[]): Table {
  const marks = milestoneSteps(runs);
  return {
    headers: [
      "run",
      ...marks.map((s) => `acc @${s}`),
      "final test acc",
      "train-mode acc",
      "steps",
      "samples/s (median, min-max)",
      "train time",
      "final loss",
    ],
    numeric: [false, ...marks.map(() => true), true, true, true, true, true, true],
    rows: runs.map((r) => {
      const s = spread(intervalRates(r));
      return [
        r.diverged ? `${r.name} (diverged)` : r.name,
        ...marks.map((m) => pct(accuracyAt(r, m))),
        pct(r.testAccuracy),
        pct(r.trainModeAccuracy),
        String(r.steps),
        s.n ? `${num(s.median)} (${num(s.min)}-${num(s.max)})` : "-",
        `${r.trainSeconds.toFixed(1)} s`,
        Number.isFinite(r.curve.at(-1)?.loss ?? Number.NaN) ? r.curve.at(-1)!.loss.toFixed(3) : "-",
      ];
    }),
  };
}

/** Figure 1 of the paper: BN against the baseline (and any other --norm), one run each. */
export const figure1Study: Study = {
  id: "train",
  claims: [6],
  title: "Batch Normalization on MNIST (the paper's Figure 1)",
  summary: "BN vs no BN on MNIST: Figure 1 (a, b, c), gamma and beta",
  defaultTestSize: null,
  async run(ctx: StudyContext): Promise<StudyResult> {
    const { o, data } = ctx;
    const t0 = performance.now();
    const runs = await trainAll(o, data, ctx.io, ctx.quiet);
    const wall = (performance.now() - t0) / 1000;
    const r0 = runs[0];
    const steps = resolveSteps(o, data.train.count);
    const figures = trainingFigures(runs, 0);
    const byFile = (prefix: string) => figures.filter((f) => f.file.startsWith(prefix));
    const verdicts = figure1Verdicts(runs);
    const pctFigs = [...byFile("fig1b"), ...byFile("fig1c"), ...byFile("sigmoid-input-")];
    const runOfFigure = (file: string) =>
      file.startsWith("fig1b")
        ? runs.find((r) => r.norm === "none")
        : file.startsWith("fig1c")
          ? runs.find((r) => r.norm === "batch")
          : runs.find((r) => file === `sigmoid-input-${r.name}`);
    const pctRuns = pctFigs.map((f) => runOfFigure(f.file));
    const gb = byFile("gamma-beta-");
    const shortNote =
      steps < PAPER_STEPS
        ? `This is the short version: ${steps.toLocaleString("en-US")} steps per run. The paper trains ${PAPER_STEPS.toLocaleString("en-US")} (pnpm demo --paper; at this run's pace about ${formatDuration((wall * PAPER_STEPS) / steps)} here). Short runs exaggerate the gap: both models keep improving, and lr ${r0.lr} is one hand-picked setting (the lr study sweeps it).`
        : `The paper's length: ${steps.toLocaleString("en-US")} steps per run.`;
    const sections = [
      {
        heading: "Summary",
        verdicts: verdicts.map((v) => ({ outcome: v.outcome, text: `${v.aspect}: ${v.evidence}` })),
        html: htmlTable(summaryTable(runs)),
      },
      {
        heading: "Figure 1(a): test accuracy",
        figures: byFile("fig1a").map((f) => f.svg),
        captions: [accuracyCaption(runs)],
      },
      {
        heading: "Figure 1(b, c): the input of one sigmoid over training",
        text: [
          "The 15th, 50th and 85th percentiles of one last-hidden-layer unit's input to its sigmoid over the test images, computed as the training network sees them (training mode: BN normalizes with the statistics of the batch, not its running averages). Both charts share the y axis.",
          "The paper explains BN's speed-up by this drift, which it calls internal covariate shift: BN removes it, so each layer sees inputs with a steady distribution. That is the paper's explanation, not an established fact: later work (Santurkar et al., 2018) found BN still helps when a shift is injected back after it, and credits a smoother loss surface instead. The charts measure the drift; they do not show its effect on training.",
        ],
        figures: pctFigs.map((f) => f.svg),
        captions: pctRuns.map((r) => (r ? percentileCaption(r) : "")),
      },
      ...(gb.length
        ? [
            {
              heading: "Gamma and beta: can the network undo BN?",
              text: [
                "BN normalizes a unit's input to mean 0 and variance 1, then scales by gamma and shifts by beta, both learned. With gamma equal to the input's standard deviation and beta equal to its mean, BN would give back its input unchanged, so normalizing costs the network nothing it cannot learn back.",
              ],
              figures: gb.map((f) => f.svg),
              captions: gb.map((f) => gammaBetaCaption(runs.find((r) => f.file === `gamma-beta-${r.name}`)!)),
            },
          ]
        : []),
      { heading: "Training loss", figures: byFile("training-loss").map((f) => f.svg) },
    ];
    return {
      id: "train",
      title: this.title,
      intro: [
        `The MNIST experiment of Ioffe and Szegedy (2015), section 4.1: a ${r0.model === "mlp" ? "784-100-100-100-10 network of sigmoid units" : "small convolutional network of sigmoid units"}, trained with plain SGD (learning rate ${r0.lr}, mini-batches of ${r0.batchSize}) on ${data.train.count.toLocaleString("en-US")} training images, with the normalization after each hidden linear layer and before its sigmoid. All runs start from the same seeded Gaussian weights and see the same batches in the same order (seed ${r0.seed}). Test accuracy (eval mode, running statistics) on ${data.test.count.toLocaleString("en-US")} test images every ${r0.curve[1] ? r0.curve[1].step - r0.curve[0].step : "-"} steps; backend ${r0.backend}. Speed: ${runs.map((r) => `${r.label} ${rateText(r)}`).join("; ")}.`,
        shortNote,
      ],
      verdicts,
      sections,
      figures,
      tables: [summaryTable(runs)],
      json: { runs: runs.map(runJson), wallSeconds: round(wall, 2) },
    };
  },
};

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** One run as --json prints it (JSON has no NaN: missing values are null). */
export function runJson(r: RunResult) {
  const n = (v: number | null, d = 5) => (v === null || !Number.isFinite(v) ? null : round(v, d));
  return {
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
    trainSamplesPerSecSpread: spread(intervalRates(r)),
    trainSeconds: round(r.trainSeconds, 3),
    testAccuracy: r.testAccuracy,
    trainModeAccuracy: n(r.trainModeAccuracy),
    testImages: r.testImages,
    diverged: r.diverged,
    peakTensorBytes: r.peakTensorBytes,
    curve: r.curve.map((p) => ({
      step: p.step,
      testAccuracy: p.testAccuracy,
      trainModeAccuracy: p.trainModeAccuracy,
      loss: n(p.loss),
      p15: n(p.p15),
      p50: n(p.p50),
      p85: n(p.p85),
      gamma: n(p.gamma),
      beta: n(p.beta),
      preMean: n(p.preMean),
      preStd: n(p.preStd),
    })),
  };
}
