import { MinMaxScaler, StandardScaler } from "@minibatch/norm";
import { fromArray, noGrad } from "@minibatch/tensor";
import { lineChart } from "../charts/svg";
import type { Verdict } from "../claims";
import { type NormKind, RUN_LABELS, type RunResult } from "../config";
import { runExperiment } from "../experiment";
import type { MnistData, MnistSplit } from "../mnist";
import { htmlTable, pct, type Table } from "../report/table";
import { runConfig } from "../run-config";
import type { Study, StudyContext, StudyResult } from "./study";

export const SCALINGS = ["raw", "minmax", "zscore"] as const;
export type Scaling = (typeof SCALINGS)[number];
const SCALING_LABELS: Record<Scaling, string> = {
  raw: "raw pixels 0-255",
  minmax: "Min-Max to [0, 1]",
  zscore: "Z-score",
};

/** Pixels as stored in the IDX file (0-255), from the [0, 1] images the loader made. */
function rawPixels(split: MnistSplit): MnistSplit {
  const images = new Float32Array(split.images.length);
  for (let i = 0; i < images.length; i++) images[i] = Math.round(split.images[i] * 255);
  return { ...split, images };
}

async function transform(scaler: MinMaxScaler | StandardScaler, split: MnistSplit): Promise<MnistSplit> {
  const x = fromArray(split.images, [split.count, 784], "float32");
  const y = noGrad(() => scaler.transform(x));
  const images = (await y.data()) as Float32Array;
  x.dispose();
  y.dispose();
  return { ...split, images: Float32Array.from(images) };
}

/** The three inputs: raw, and scaled with a scaler fitted on the training split only. */
export async function scaledData(data: MnistData, scaling: Scaling): Promise<MnistData> {
  const train = rawPixels(data.train);
  const test = rawPixels(data.test);
  if (scaling === "raw") return { train, test };
  const scaler = scaling === "minmax" ? new MinMaxScaler() : new StandardScaler();
  await scaler.fit({ values: train.images, shape: [train.count, 784] });
  return { train: await transform(scaler, train), test: await transform(scaler, test) };
}

export interface InputRow {
  scaling: Scaling;
  norm: NormKind;
  run: RunResult;
}

export function inputVerdicts(rows: readonly InputRow[]): Verdict[] {
  const out: Verdict[] = [];
  for (const norm of [...new Set(rows.map((r) => r.norm))]) {
    const acc = (s: Scaling) =>
      rows.find((r) => r.norm === norm && r.scaling === s)?.run.testAccuracy ?? Number.NaN;
    const raw = acc("raw");
    const best = Math.max(acc("minmax"), acc("zscore"));
    const gain = best - raw;
    out.push({
      claim: 5,
      aspect: `normalizing the inputs helps, ${RUN_LABELS[norm]}`,
      outcome: gain > 0.02 ? "holds" : gain > 0.005 ? "partly" : "does not hold",
      evidence: `${RUN_LABELS[norm]}: raw pixels ${pct(raw, 1)}, Min-Max ${pct(acc("minmax"), 1)}, Z-score ${pct(acc("zscore"), 1)} (the better scaling is ${(gain * 100).toFixed(1)} points ${gain >= 0 ? "above" : "below"} raw).`,
    });
  }
  return out;
}

export const inputsStudy: Study = {
  id: "inputs",
  claims: [5],
  title: "Normalizing the inputs: raw vs Min-Max vs Z-score",
  summary: "raw 0-255 pixels vs MinMaxScaler vs StandardScaler inputs, with and without BN",
  defaultTestSize: 2000,
  async run(ctx: StudyContext): Promise<StudyResult> {
    const { o, io, quiet } = ctx;
    const steps = o.steps ?? (o.quick ? 40 : 600);
    const rows: InputRow[] = [];
    for (const scaling of SCALINGS) {
      const data = await scaledData(ctx.data, scaling);
      for (const norm of o.norms) {
        const cfg = runConfig(o, norm, steps, {
          name: `${norm === "none" ? "baseline" : norm}-${scaling}`,
          label: `${RUN_LABELS[norm]}, ${SCALING_LABELS[scaling]}`,
          evalEvery: o.evalEvery ?? Math.max(1, Math.round(steps / 10)),
          stopOnDivergence: true,
        });
        const run = await runExperiment(cfg, data);
        rows.push({ scaling, norm, run });
        if (!quiet)
          io.err.write(
            `inputs  ${SCALING_LABELS[scaling].padEnd(18)}  ${RUN_LABELS[norm].padEnd(22)}  ${pct(run.testAccuracy, 1)}${run.diverged ? " (diverged)" : ""}\n`,
          );
      }
    }
    const verdicts = inputVerdicts(rows);
    const colors: Record<Scaling, string> = { raw: "#d62728", minmax: "#1f77b4", zscore: "#2ca02c" };
    const figs = o.norms.map((norm) =>
      lineChart({
        title: `Test accuracy by input scaling, ${RUN_LABELS[norm]}`,
        subtitle: `batch ${o.batchSize}, lr ${o.lr}, ${steps} steps; scalers fitted on the training split only`,
        xLabel: "training steps",
        yLabel: "test accuracy",
        yDomain: [0, 1],
        yFormat: (v) => `${Math.round(v * 100)}%`,
        series: rows
          .filter((r) => r.norm === norm)
          .map((r) => ({
            name: SCALING_LABELS[r.scaling],
            color: colors[r.scaling],
            points: r.run.curve.map((p) => [p.step, p.testAccuracy] as const),
          })),
      }),
    );
    const table: Table = {
      headers: ["network", ...SCALINGS.map((s) => SCALING_LABELS[s])],
      numeric: [false, true, true, true],
      rows: o.norms.map((norm) => [
        RUN_LABELS[norm],
        ...SCALINGS.map((s) => {
          const r = rows.find((x) => x.norm === norm && x.scaling === s)!.run;
          return `${pct(r.testAccuracy, 1)}${r.diverged ? " (diverged)" : ""}`;
        }),
      ]),
    };
    return {
      id: "inputs",
      title: this.title,
      intro: [
        `The same network and seed (${seedText(o.seed)}) trained ${steps} steps at batch ${o.batchSize} and lr ${o.lr} on three versions of the images: the raw bytes (0-255), Min-Max scaled to [0, 1] (@minibatch/norm's MinMaxScaler) and Z-scored per pixel (StandardScaler). Both scalers are fitted on the training images only and then applied to the test images, so no test statistics leak into training. A pixel that is constant in the training set (the border) gets scale 1, as in scikit-learn.`,
      ],
      verdicts,
      sections: [
        {
          heading: "Results",
          verdicts: verdicts.map((v) => ({ outcome: v.outcome, text: v.evidence })),
          html: htmlTable(table),
          figures: figs,
          captions: verdicts.map((v) => v.evidence),
        },
      ],
      figures: figs.map((svg, i) => ({ file: `inputs-${o.norms[i]}`, svg })),
      tables: [table],
      json: {
        steps,
        runs: rows.map((r) => ({
          scaling: r.scaling,
          norm: r.norm,
          testAccuracy: r.run.testAccuracy,
          diverged: r.run.diverged,
          curve: r.run.curve.map((p) => ({ step: p.step, testAccuracy: p.testAccuracy })),
        })),
      },
    };
  },
};

const seedText = (seed: number) => `seed ${seed}`;
