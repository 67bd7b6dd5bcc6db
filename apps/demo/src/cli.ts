#!/usr/bin/env node
import { isAbsolute, relative, resolve } from "node:path";
import { ArgError, type CliOptions, HELP, parseArgs } from "./args";
import { useBackend } from "./backend";
import { DEFAULTS } from "./config";
import { dataParallelRun } from "./data-parallel";
import type { MnistData } from "./mnist";
import { loadMnist } from "./mnist-node";
import { formatDuration } from "./progress";
import { prepareOutDir } from "./report/out-dir";
import { textTable } from "./report/table";
import { trainingReport } from "./report/training";
import { writeReport } from "./report/write";
import { batchSizeReport, batchSizeStudy } from "./studies/batch-sizes";
import { lrReport, lrStudy, lrTable } from "./studies/lr";
import { type Console, jsonSummary, trainAll } from "./train";

const io: Console = { err: process.stderr, out: process.stdout };

/**
 * The directory the user ran the command from. `pnpm demo` runs this CLI as the package's
 * start script inside apps/demo; pnpm keeps the caller's directory in INIT_CWD, so a relative
 * --out (and the default demo-report/) lands where the user is, not in apps/demo.
 */
function userCwd(): string {
  const init = process.env.INIT_CWD;
  return process.env.npm_lifecycle_event === "start" && init && isAbsolute(init) ? init : process.cwd();
}

function outDir(given: string | null, fallback: string): string {
  return resolve(userCwd(), given ?? fallback);
}

function shownPath(abs: string): string {
  const rel = relative(userCwd(), abs);
  return rel && !rel.startsWith("..") ? rel : abs;
}

async function main(argv: string[]): Promise<number> {
  let o: CliOptions;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    process.stderr.write(`error: ${e.message}\n\n${HELP}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // An unwritable --out must fail now, not after training (the results would be lost).
  const fallbackOut = o.command === "train" ? "demo-report" : `demo-report/${o.command}`;
  try {
    prepareOutDir(outDir(o.out, fallbackOut));
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message} (nothing was trained)\n`);
    return 2;
  }
  const t0 = performance.now();
  const note = (s: string) => io.err.write(`${s}\n`);
  const device = await useBackend(o.backend);
  // The studies evaluate more often than the main run, so by default they use 2,000 test images.
  const studyTestSize = o.command === "train" ? o.testSize : (o.testSize ?? 2000);
  if (!o.json)
    note(
      `minibatch demo: ${o.command === "train" ? "BN vs no BN on MNIST" : `${o.command} study`}, backend ${device}`,
    );
  const data: MnistData = await loadMnist({
    dir: o.data ? resolve(userCwd(), o.data) : null,
    trainSize: o.trainSize,
    testSize: studyTestSize,
  });
  if (!o.json)
    note(
      `MNIST: ${data.train.count.toLocaleString("en-US")} training and ${data.test.count.toLocaleString("en-US")} test images`,
    );
  const elapsed = () => (performance.now() - t0) / 1000;
  const command = `pnpm demo ${argv.join(" ")}`.trim();

  if (o.command === "train" && o.workersTrain !== null) {
    const r = await dataParallelRun(
      data,
      {
        workers: o.workersTrain,
        steps: o.steps ?? (o.epochs ?? 1) * Math.floor(data.train.count / o.batchSize),
        batchSize: o.batchSize,
        lr: o.lr,
        seed: o.seed,
        initStd: DEFAULTS.initStd,
      },
      note,
    );
    const pct = (a: number) => `${(a * 100).toFixed(2)}%`;
    io.out.write(
      o.json
        ? `${JSON.stringify(r, null, 2)}\n`
        : `\nBN model, ${o.workersTrain} workers vs 1 process from seed ${o.seed}:\n` +
            `  single process: test accuracy ${pct(r.single.testAccuracy)}, ${r.single.trainSeconds.toFixed(1)} s\n` +
            `  data-parallel : test accuracy ${pct(r.parallel.testAccuracy)}, ${r.parallel.trainSeconds.toFixed(1)} s ` +
            `(gradient all-reduce ${r.parallel.allReduceMs.toFixed(2)} ms/step)\n` +
            `  speedup ${r.speedup.toFixed(2)}x; largest weight difference ${r.worstWeightDiff.toExponential(2)}\n`,
    );
    return 0;
  }

  if (o.command === "train") {
    const runs = await trainAll(o, data, io, o.json);
    const report = trainingReport(runs, {
      probeUnit: 0,
      wallSeconds: elapsed(),
      trainCount: data.train.count,
      testCount: data.test.count,
      command,
    });
    const summary = jsonSummary(runs);
    const dir = writeReport(outDir(o.out, "demo-report"), report.html, report.figures, summary);
    if (o.json) {
      io.out.write(`${JSON.stringify(summary, null, 2)}\n`);
      return 0;
    }
    io.out.write(`\n${textTable(report.table)}\n\n`);
    io.out.write(
      `Finished in ${formatDuration(elapsed())}. Report: ${shownPath(dir)}/index.html (figures as SVG files in the same folder)\n`,
    );
    return 0;
  }

  if (o.command === "batch-sizes") {
    const rows = await batchSizeStudy(o, data, io, o.json);
    const report = batchSizeReport(rows, o, data.test.count, elapsed());
    const dir = writeReport(outDir(o.out, "demo-report/batch-sizes"), report.html, report.figures, { rows });
    if (o.json) {
      io.out.write(`${JSON.stringify({ rows }, null, 2)}\n`);
      return 0;
    }
    io.out.write(`\n${textTable(report.table)}\n\n`);
    io.out.write(`Finished in ${formatDuration(elapsed())}. Report: ${shownPath(dir)}/index.html\n`);
    return 0;
  }

  const runs = await lrStudy(o, data, io, o.json);
  const report = lrReport(runs, o, data.test.count, elapsed());
  const summary = jsonSummary(runs);
  const dir = writeReport(outDir(o.out, "demo-report/lr"), report.html, report.figures, summary);
  if (o.json) {
    io.out.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  }
  io.out.write(`\n${textTable(lrTable(runs))}\n\n`);
  io.out.write(`Finished in ${formatDuration(elapsed())}. Report: ${shownPath(dir)}/index.html\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`\nerror: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.MINIBATCH_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  },
);
