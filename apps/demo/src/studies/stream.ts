import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DataLoader, ZipDataset } from "@minibatch/data";
import { IdxDataset } from "@minibatch/data/node";
import { crossEntropy } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { fromArray, memory, noGrad, type Tensor, tidy } from "@minibatch/tensor";
import { lineChart } from "../charts/svg";
import type { Verdict } from "../claims";
import { DEFAULTS, type NormKind, RUN_LABELS } from "../config";
import type { MnistSplit } from "../mnist";
import { buildModel } from "../model";
import { ProgressBar } from "../progress";
import { htmlTable, mib, pct, type Table } from "../report/table";
import type { Study, StudyContext, StudyResult } from "./study";

const MiB = 2 ** 20;

/** Writes `copies` copies of a split as two IDX files (unsigned bytes), a chunk at a time. */
export function writeRepeatedIdx(
  split: MnistSplit,
  copies: number,
  dir: string,
): { images: string; labels: string } {
  const images = join(dir, "train-images-repeated-idx3-ubyte");
  const labels = join(dir, "train-labels-repeated-idx1-ubyte");
  const n = split.count * copies;
  const header = (magic: number, dims: number[]) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    for (let i = 0; i < dims.length; i++) b.writeUInt32BE(dims[i], 4 + 4 * i);
    return b;
  };
  const fi = openSync(images, "w");
  const fl = openSync(labels, "w");
  try {
    writeSync(fi, header(0x00000803, [n, 28, 28]));
    writeSync(fl, header(0x00000801, [n]));
    const chunk = 1000;
    const bytes = new Uint8Array(chunk * 784);
    const lab = Uint8Array.from(split.labels);
    for (let c = 0; c < copies; c++) {
      for (let s = 0; s < split.count; s += chunk) {
        const k = Math.min(chunk, split.count - s);
        const src = split.images.subarray(s * 784, (s + k) * 784);
        for (let i = 0; i < src.length; i++) bytes[i] = Math.round(src[i] * 255);
        writeSync(fi, bytes, 0, k * 784);
      }
      writeSync(fl, lab);
    }
  } finally {
    closeSync(fi);
    closeSync(fl);
  }
  return { images, labels };
}

export interface StreamResult {
  fileBytes: number;
  records: number;
  capBytes: number;
  rssStart: number;
  peakRssGrowth: number;
  peakTensorBytes: number;
  samplesSeen: number;
  steps: number;
  trainSeconds: number;
  testAccuracy: number;
  /** [bytes of the file read so far, RSS growth] every few steps. */
  trace: [number, number][];
}

export function streamVerdict(r: StreamResult): Verdict {
  const ratio = r.fileBytes / r.capBytes;
  const under = r.peakRssGrowth <= r.capBytes;
  const whole = r.samplesSeen >= r.records - 60;
  const evidence = `The file held ${r.records.toLocaleString("en-US")} images, ${mib(r.fileBytes)}, ${ratio.toFixed(1)}x the ${mib(r.capBytes)} cap the run set. One epoch read ${r.samplesSeen.toLocaleString("en-US")} of them in shuffled batches with positioned reads; RSS rose at most ${mib(r.peakRssGrowth)} above its lowest value so far (${under ? "under" : "over"} the cap), and live tensors peaked at ${mib(r.peakTensorBytes)}. Test accuracy after the epoch: ${pct(r.testAccuracy, 1)}.`;
  return {
    claim: 4,
    aspect: "batching lets data larger than memory be trained on",
    outcome: ratio < 1.5 ? "not measured" : under && whole ? "holds" : "does not hold",
    evidence:
      ratio < 1.5
        ? `${evidence} The file is not several times the cap (a quick run), so this does not test the claim.`
        : evidence,
  };
}

export const streamStudy: Study = {
  id: "stream",
  claims: [4],
  title: "Training from a file larger than the memory allowed",
  summary: "one epoch over MNIST repeated into a file several times a memory cap, read batch by batch",
  defaultTestSize: 2000,
  async run(ctx: StudyContext): Promise<StudyResult> {
    const { o, data, io, quiet } = ctx;
    const copies = o.copies ?? (o.quick ? 2 : 8);
    const capBytes = (o.memoryCapMb ?? 96) * MiB;
    const norm: NormKind = o.norms.includes("batch") ? "batch" : o.norms[0];
    const dir = mkdtempSync(join(ctx.scratchDir, "minibatch-stream-"));
    try {
      if (!quiet)
        io.err.write(
          `stream: writing ${copies} copies of ${data.train.count.toLocaleString("en-US")} images to ${dir}\n`,
        );
      const files = writeRepeatedIdx(data.train, copies, dir);
      const fileBytes = statSync(files.images).size + statSync(files.labels).size;
      const images = await IdxDataset.open(files.images, { scale: 1 / 255, recordShape: [784] });
      const labels = await IdxDataset.open(files.labels, { dtype: "int32" });
      const records = images.length;
      const loader = new DataLoader<unknown, [Tensor, Tensor]>(new ZipDataset([images, labels]), {
        batchSize: o.batchSize,
        shuffle: true,
        seed: o.seed,
        dropLast: true,
      });
      const model = buildModel({
        model: "mlp",
        norm,
        seed: o.seed,
        initStd: DEFAULTS.initStd,
        batchSize: o.batchSize,
      });
      model.train();
      const opt = new SGD(model.parameters(), { lr: o.lr });
      const steps = Math.floor(records / o.batchSize);
      const bar = quiet ? null : new ProgressBar(io.err, "stream", steps);
      const rssStart = process.memoryUsage.rss();
      let peak = 0;
      let floor = 0;
      let peakTensor = 0;
      let step = 0;
      let trainSeconds = 0;
      const trace: [number, number][] = [[0, 0]];
      let loss: number | null = null;
      try {
        for await (const [x, y] of loader) {
          const t0 = performance.now();
          const l = tidy(() => {
            opt.zeroGrad();
            const out = crossEntropy(model.call(x), y);
            out.backward();
            peakTensor = Math.max(peakTensor, memory().bytes);
            opt.step();
            return out;
          });
          x.dispose();
          y.dispose();
          step++;
          if (step % 50 === 0 || step === steps) loss = (await l.data())[0];
          l.dispose();
          trainSeconds += (performance.now() - t0) / 1000;
          if (step % 20 === 0 || step === steps) {
            const g = process.memoryUsage.rss() - rssStart;
            // The rise above the lowest RSS seen so far: garbage left by earlier work, freed by
            // the collector during the run, must not hide what the streaming itself holds.
            floor = Math.min(floor, g);
            peak = Math.max(peak, g - floor);
            trace.push([step * o.batchSize * 785, g]);
          }
          bar?.update({ step, loss, samplesPerSec: (step * o.batchSize) / Math.max(trainSeconds, 1e-9) });
        }
      } finally {
        await images.close();
        await labels.close();
      }
      // Test accuracy with the running statistics, on the in-memory test images.
      model.eval();
      let hits = 0;
      for (let s = 0; s < data.test.count; s += 1000) {
        const n = Math.min(1000, data.test.count - s);
        const pred = noGrad(() =>
          tidy(() =>
            model
              .call(fromArray(data.test.images.subarray(s * 784, (s + n) * 784), [n, 784], "float32"))
              .argmax(1),
          ),
        );
        const p = await pred.data();
        pred.dispose();
        for (let i = 0; i < n; i++) if (p[i] === data.test.labels[s + i]) hits++;
      }
      model.dispose();
      const result: StreamResult = {
        fileBytes,
        records,
        capBytes,
        rssStart,
        peakRssGrowth: peak,
        peakTensorBytes: peakTensor,
        samplesSeen: step * o.batchSize,
        steps: step,
        trainSeconds,
        testAccuracy: hits / data.test.count,
        trace,
      };
      bar?.done({
        step,
        loss,
        samplesPerSec: (step * o.batchSize) / Math.max(trainSeconds, 1e-9),
        accuracy: result.testAccuracy,
      });
      return report(ctx, result, norm);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

function report(ctx: StudyContext, r: StreamResult, norm: NormKind): StudyResult {
  const v = streamVerdict(r);
  const lowest = Math.min(0, ...r.trace.map(([, g]) => g));
  const fig = lineChart({
    title: "Memory while streaming one epoch from the file",
    subtitle: `${RUN_LABELS[norm]}, batch ${ctx.o.batchSize}; shuffled positioned reads`,
    xLabel: "bytes of the file read so far (MiB)",
    yLabel: "MiB",
    xDomain: [0, (r.fileBytes / MiB) * 1.02],
    // RSS can drop below its starting value when the garbage collector frees earlier garbage: keep that in view.
    yDomain: [Math.min(0, lowest / MiB) * 1.1, (Math.max(r.fileBytes, r.capBytes) / MiB) * 1.05],
    yRule: { value: r.capBytes / MiB, label: `memory cap ${mib(r.capBytes)}` },
    series: [
      {
        name: "RSS growth since the first step",
        color: "#1f77b4",
        points: r.trace.map(([b, g]) => [b / MiB, g / MiB] as const),
      },
      {
        name: "the data read so far (what loading it whole would hold)",
        color: "#d62728",
        dash: "6 4",
        points: [
          [0, 0],
          [r.fileBytes / MiB, r.fileBytes / MiB],
        ],
      },
    ],
  });
  const table: Table = {
    headers: [
      "file",
      "records",
      "memory cap",
      "peak RSS growth",
      "peak live tensors",
      "samples trained",
      "train time",
      "test acc",
    ],
    numeric: [true, true, true, true, true, true, true, true],
    rows: [
      [
        mib(r.fileBytes),
        r.records.toLocaleString("en-US"),
        mib(r.capBytes),
        mib(r.peakRssGrowth),
        mib(r.peakTensorBytes),
        r.samplesSeen.toLocaleString("en-US"),
        `${r.trainSeconds.toFixed(1)} s`,
        pct(r.testAccuracy, 1),
      ],
    ],
  };
  return {
    id: "stream",
    title: streamStudy.title,
    intro: [
      `The training images are written ${Math.round(r.records / ctx.data.train.count)} times into one IDX file, and the run sets itself a memory cap. It then trains one epoch over the file with @minibatch/data's IdxDataset, which reads only the records of each shuffled batch from disk (positioned reads; nothing is preloaded), and samples the process RSS every 20 steps. The cap is checked, not enforced by the operating system: the verdict compares with it the largest rise of the RSS above the lowest value it had so far in the run (so memory freed by the garbage collector from earlier work cannot hide what the streaming holds).`,
    ],
    verdicts: [v],
    sections: [
      {
        heading: "Memory against the data read",
        verdicts: [{ outcome: v.outcome, text: v.evidence }],
        figures: [fig],
        captions: [
          `RSS rose at most ${mib(r.peakRssGrowth)} above its lowest value so far while ${mib(r.fileBytes)} of data went through the model: ${(r.fileBytes / Math.max(r.peakRssGrowth, 1)).toFixed(0)}x less than loading the file whole would hold.${lowest < 0 ? ` It also fell ${mib(-lowest)} below its starting value when the garbage collector freed memory left from before the run.` : ""}`,
        ],
        html: htmlTable(table),
      },
    ],
    figures: [{ file: "stream-memory", svg: fig }],
    tables: [table],
    json: { ...r, norm },
  };
}
