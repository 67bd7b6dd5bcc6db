import { crossEntropy } from "@minibatch/nn";
import { fromArray, type Tensor, tidy } from "@minibatch/tensor";
import { lineChart } from "../charts/svg";
import type { Verdict } from "../claims";
import { type NormKind, RUN_LABELS, RUN_NAMES } from "../config";
import { Trainer } from "../experiment";
import type { MnistData, MnistSplit } from "../mnist";
import { runColor } from "../report/figures";
import { htmlTable, type Table } from "../report/table";
import { runConfig } from "../run-config";
import { linearFit, variance } from "../stats";
import type { Study, StudyContext, StudyResult } from "./study";

export const DEFAULT_NOISE_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const LOSS_SIZES = [8, 32, 128, 512];

export interface NoiseRow {
  name: string;
  norm: NormKind;
  batchSize: number;
  /** Mean over trials of |g_B - g|^2, the squared distance of the mini-batch gradient from the full one. */
  variance: number;
  /** The 1/B law through this run's larger batches (with the finite-population factor). */
  law: number;
  trials: number;
}

export interface LossNoiseRow {
  name: string;
  norm: NormKind;
  batchSize: number;
  steps: number;
  /** Variance of the change of the loss from one step to the next, halved (the per-step noise). */
  stepVariance: number;
}

/** The first `n` images of a split, without copying. */
export function head(split: MnistSplit, n: number): MnistSplit {
  const k = Math.min(n, split.count);
  return { images: split.images.subarray(0, k * 784), labels: split.labels.subarray(0, k), count: k };
}

/** A small seeded generator for choosing batches (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `k` distinct indices below `n` (partial Fisher-Yates). */
function sample(n: number, k: number, rand: () => number, scratch: Int32Array): Int32Array {
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = scratch[i];
    scratch[i] = scratch[j];
    scratch[j] = t;
  }
  return scratch.slice(0, k);
}

/** The gradient of the mean loss over the given samples, flattened to float64, in training mode. */
async function gradientOf(t: Trainer, split: MnistSplit, idx: Int32Array): Promise<Float64Array> {
  const x = new Float32Array(idx.length * 784);
  const y = new Int32Array(idx.length);
  idx.forEach((i, j) => {
    x.set(split.images.subarray(i * 784, (i + 1) * 784), j * 784);
    y[j] = split.labels[i];
  });
  const params = t.model.parameters();
  t.model.train();
  t.optimizer.zeroGrad();
  tidy(() => {
    crossEntropy(
      t.model.call(fromArray(x, [idx.length, 784], "float32")),
      fromArray(y, [idx.length], "int32"),
    ).backward();
  });
  const parts = await Promise.all(params.map((p) => (p.grad as Tensor).data()));
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Float64Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  t.optimizer.zeroGrad();
  return out;
}

function sqDist(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

/** Log-log slope of variance against batch size, after removing the finite-population factor. */
export function noiseSlope(rows: readonly NoiseRow[], population: number): number {
  const ok = rows.filter((r) => r.variance > 0 && r.batchSize < population);
  return linearFit(
    ok.map((r) => Math.log(r.batchSize)),
    ok.map((r) => Math.log(r.variance / fpc(r.batchSize, population))),
  ).slope;
}

/** Sampling without replacement from N shrinks the variance of a mean by (N - B) / (N - 1). */
const fpc = (b: number, n: number) => (n - b) / (n - 1);

export function noiseVerdicts(
  rows: readonly NoiseRow[],
  loss: readonly LossNoiseRow[],
  population: number,
): Verdict[] {
  const out: Verdict[] = [];
  const e = (v: number) => v.toExponential(2);
  for (const name of [...new Set(rows.map((r) => r.name))]) {
    const rs = rows.filter((r) => r.name === name).sort((a, b) => a.batchSize - b.batchSize);
    if (rs.length < 2) continue;
    const slope = noiseSlope(rs, population);
    const lo = rs[0];
    const hi = rs.at(-1)!;
    const bn = rs[0].norm !== "none" && rs[0].norm !== "layer" && rs[0].norm !== "group";
    const ratioLo = lo.variance / lo.law;
    const lawLike = slope <= -0.75 && slope >= -1.25;
    out.push({
      claim: 3,
      aspect: bn
        ? `the averaged gradient is more stable, ${RUN_LABELS[rs[0].norm]}`
        : "the averaged gradient is more stable",
      outcome: hi.variance < lo.variance ? (bn || lawLike ? "holds" : "partly") : "does not hold",
      evidence:
        `${RUN_LABELS[rs[0].norm]}: the squared distance of the mini-batch gradient from the full-data gradient fell from ${e(lo.variance)} at batch ${lo.batchSize} to ${e(hi.variance)} at batch ${hi.batchSize} (${(lo.variance / hi.variance).toFixed(0)}x less for a ${hi.batchSize / lo.batchSize}x larger batch); on log axes it falls with slope ${slope.toFixed(2)}, where the 1/B law for independent samples predicts -1.` +
        (bn
          ? ` With BN each sample is normalized with its batch's mean and variance, so the samples of a batch are not independent and the law need not hold: at batch ${lo.batchSize} the variance is ${ratioLo.toFixed(1)}x what the 1/B line through the larger batches predicts.`
          : ""),
    });
  }
  for (const name of [...new Set(loss.map((r) => r.name))]) {
    const rs = loss.filter((r) => r.name === name).sort((a, b) => a.batchSize - b.batchSize);
    if (rs.length < 2) continue;
    const falling = rs.every((r, i) => i === 0 || r.stepVariance < rs[i - 1].stepVariance);
    out.push({
      claim: 3,
      aspect: `the loss is steadier from step to step, ${RUN_LABELS[rs[0].norm]}`,
      outcome: falling ? "holds" : rs.at(-1)!.stepVariance < rs[0].stepVariance ? "partly" : "does not hold",
      evidence: `Step-to-step loss variance over the second half of ${rs[0].steps} steps: ${rs.map((r) => `${e(r.stepVariance)} at batch ${r.batchSize}`).join(", ")}.`,
    });
  }
  return out;
}

export const gradientNoiseStudy: Study = {
  id: "gradient-noise",
  claims: [3],
  title: "Gradient noise: the mini-batch gradient around the full-data gradient",
  summary: "variance of the mini-batch gradient against batch size (1/B law), with and without BN",
  defaultTestSize: 1000,
  async run(ctx: StudyContext): Promise<StudyResult> {
    const { o, io, quiet } = ctx;
    const population = Math.min(ctx.data.train.count, o.quick ? 1200 : 6000);
    const pop = head(ctx.data.train, population);
    const data: MnistData = { train: pop, test: ctx.data.test };
    const warm = o.steps ?? (o.quick ? 20 : 100);
    const trials = o.quick ? 6 : 24;
    const sizes = (o.batchSizes ?? DEFAULT_NOISE_SIZES).filter((b) => b < population);
    const lossSteps = o.quick ? 30 : 150;
    const lossSizes = LOSS_SIZES.filter((b) => b <= population / 2);
    const log = (s: string) => quiet || io.err.write(`${s}\n`);
    const rows: NoiseRow[] = [];
    const loss: LossNoiseRow[] = [];
    for (const norm of o.norms) {
      const name = RUN_NAMES[norm];
      const needsBatch = norm === "batch" || norm === "renorm" || norm === "ghost";
      const t = new Trainer(runConfig({ ...o, batchSize: 60 }, norm, warm), data);
      try {
        for (let i = 0; i < warm; i++) await t.step();
        const all = Int32Array.from({ length: population }, (_, i) => i);
        const full = await gradientOf(t, pop, all);
        const rand = rng(o.seed * 7919 + 1);
        const scratch = all.slice();
        const mine: NoiseRow[] = [];
        for (const b of sizes) {
          if (b < 2 && needsBatch) continue;
          let sum = 0;
          for (let k = 0; k < trials; k++)
            sum += sqDist(await gradientOf(t, pop, sample(population, b, rand, scratch)), full);
          mine.push({ name, norm, batchSize: b, variance: sum / trials, law: Number.NaN, trials });
          log(
            `gradient noise  ${name.padEnd(8)}  batch ${String(b).padStart(4)}  ${(sum / trials).toExponential(3)}`,
          );
        }
        // The law c (N - B) / ((N - 1) B), with c from the larger half of the batch sizes.
        const upper = mine.slice(Math.floor(mine.length / 2));
        const logC =
          upper.reduce((a, r) => a + Math.log((r.variance * r.batchSize) / fpc(r.batchSize, population)), 0) /
          upper.length;
        for (const r of mine) r.law = (Math.exp(logC) * fpc(r.batchSize, population)) / r.batchSize;
        rows.push(...mine);
      } finally {
        t.dispose();
      }
      for (const b of lossSizes) {
        const lt = new Trainer(runConfig({ ...o, batchSize: b }, norm, lossSteps), data);
        try {
          for (let i = 0; i < lossSteps; i++) await lt.step();
          const second = lt.stepLosses.slice(Math.floor(lt.stepLosses.length / 2));
          const diffs = second.slice(1).map((v, i) => v - second[i]);
          loss.push({ name, norm, batchSize: b, steps: lossSteps, stepVariance: variance(diffs) / 2 });
        } finally {
          lt.dispose();
        }
      }
    }
    const verdicts = noiseVerdicts(rows, loss, population);
    const names = [...new Set(rows.map((r) => r.name))];
    const gradFig = lineChart({
      title: "Mini-batch gradient noise against batch size",
      subtitle: `mean |g_B - g|² over ${trials} batches; dashed: the 1/B law through the larger batches`,
      xLabel: "batch size (log scale)",
      yLabel: "squared distance (log scale)",
      logX: true,
      logY: true,
      xTicks: sizes,
      xDomain: [sizes[0] * 0.8, sizes.at(-1)! * 1.25],
      series: names.flatMap((name, i) => {
        const rs = rows.filter((r) => r.name === name);
        const color = runColor(name, i);
        const label = RUN_LABELS[rs[0].norm];
        return [
          { name: label, color, markers: true, points: rs.map((r) => [r.batchSize, r.variance] as const) },
          {
            name: `${label}: 1/B law`,
            color,
            dash: "6 4",
            points: rs.map((r) => [r.batchSize, r.law] as const),
          },
        ];
      }),
    });
    const lossNames = [...new Set(loss.map((r) => r.name))];
    const lossFig = lineChart({
      title: "Step-to-step loss variance against batch size",
      subtitle: `variance of the loss change between steps, second half of ${lossSteps} steps`,
      xLabel: "batch size (log scale)",
      yLabel: "variance (log scale)",
      logX: true,
      logY: true,
      xTicks: lossSizes,
      xDomain: [lossSizes[0] * 0.8, lossSizes.at(-1)! * 1.25],
      series: lossNames.map((name, i) => ({
        name: RUN_LABELS[loss.find((r) => r.name === name)!.norm],
        color: runColor(name, i),
        markers: true,
        points: loss.filter((r) => r.name === name).map((r) => [r.batchSize, r.stepVariance] as const),
      })),
    });
    const table: Table = {
      headers: ["run", "batch", "gradient variance", "1/B law", "measured / law"],
      numeric: [false, true, true, true, true],
      rows: rows.map((r) => [
        r.name,
        String(r.batchSize),
        r.variance.toExponential(3),
        r.law.toExponential(3),
        (r.variance / r.law).toFixed(2),
      ]),
    };
    const lossTable: Table = {
      headers: ["run", "batch", "steps", "step-to-step loss variance"],
      numeric: [false, true, true, true],
      rows: loss.map((r) => [r.name, String(r.batchSize), String(r.steps), r.stepVariance.toExponential(3)]),
    };
    const gradV = verdicts.filter((v) => !v.aspect.startsWith("the loss"));
    const lossV = verdicts.filter((v) => v.aspect.startsWith("the loss"));
    return {
      id: "gradient-noise",
      title: this.title,
      intro: [
        `Each network (the paper's MLP, ${o.norms.map((n) => RUN_LABELS[n]).join(" and ")}) first trains ${warm} steps at batch 60 and lr ${o.lr} from seed ${o.seed}. Then, with its weights fixed, the gradient of the loss over ${population.toLocaleString("en-US")} training images (one batch, training mode) is the full-data gradient g; for each batch size B, ${trials} batches drawn without replacement give gradients g_B. The mean of |g_B - g|² is the variance of the mini-batch gradient. For independent samples it is (N - B) / (N - 1) times sigma²/B: the 1/B law, a straight line of slope -1 on log axes. The loss part trains from the start at each batch size and measures how much the loss jumps between steps.`,
      ],
      verdicts,
      sections: [
        {
          heading: "Gradient variance and the 1/B law",
          verdicts: gradV.map((v) => ({ outcome: v.outcome, text: v.evidence })),
          figures: [gradFig],
          captions: [gradV.map((v) => v.evidence).join(" ")],
          html: htmlTable(table),
        },
        {
          heading: "Step-to-step loss variance",
          verdicts: lossV.map((v) => ({ outcome: v.outcome, text: v.evidence })),
          figures: [lossFig],
          captions: [lossV.map((v) => v.evidence).join(" ")],
          html: htmlTable(lossTable),
        },
      ],
      figures: [
        { file: "gradient-variance", svg: gradFig },
        { file: "loss-variance", svg: lossFig },
      ],
      tables: [table, lossTable],
      json: { population, warmSteps: warm, trials, gradient: rows, loss },
    };
  },
};
