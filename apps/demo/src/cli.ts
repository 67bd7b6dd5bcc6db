#!/usr/bin/env node
import { availableParallelism, tmpdir } from "node:os";
import { isAbsolute, relative, resolve } from "node:path";
import { ArgError, type CliOptions, HELP, parseArgs, withDefaultParallel } from "./args";
import { useBackend } from "./backend";
import { verdictLine } from "./claims";
import { DEFAULTS } from "./config";
import { dataParallelRun } from "./data-parallel";
import type { MnistData } from "./mnist";
import { loadMnist } from "./mnist-node";
import { formatDuration } from "./progress";
import { prepareOutDir } from "./report/out-dir";
import { allPage, studyPage, verdictTable } from "./report/study-report";
import { textTable } from "./report/table";
import { writeReport } from "./report/write";
import { PAPER_STEPS } from "./studies/figure1";
import { head } from "./studies/gradient-noise";
import { STUDIES, type Study, type StudyResult, studyById } from "./studies/index";
import { type Console, ESTIMATE_STEPS, estimateSeconds } from "./train";

// Progress, notes and tables go to stderr; stdout carries only what the user asked for (the
// --json document, or the final tables and report path), so `> out.json` gets valid JSON.
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

function shownPath(abs: string): string {
  const rel = relative(userCwd(), abs);
  return rel && !rel.startsWith("..") ? rel : abs;
}

/** The options one study runs with: --quick shrinks the data, --paper sets the Figure 1 length. */
function studyOptions(o: CliOptions, study: Study): CliOptions {
  if (study.id === "train") return o.paper ? { ...o, steps: PAPER_STEPS } : o;
  // Flags of the Figure 1 run that would distort another study's own design are left to it.
  return o.command === "all" ? { ...o, steps: null, epochs: null, evalEvery: null } : o;
}

function testView(data: MnistData, o: CliOptions, study: Study): MnistData {
  const n = o.testSize ?? (o.quick ? 500 : study.defaultTestSize);
  return n === null ? data : { train: data.train, test: head(data.test, n) };
}

/** Where the report goes when --out is not given. */
function defaultOut(o: CliOptions): string {
  if (o.command === "all") return "demo-report/all";
  return o.command === "train" ? "demo-report" : `demo-report/${o.command}`;
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
  o = withDefaultParallel(o, availableParallelism());
  // An unwritable --out must fail now, not after training (the results would be lost).
  const reportDir = resolve(userCwd(), o.out ?? defaultOut(o));
  try {
    prepareOutDir(reportDir);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message} (nothing was trained)\n`);
    return 2;
  }
  const t0 = performance.now();
  const note = (s: string) => o.json || io.err.write(`${s}\n`);
  const studies = o.command === "all" ? [...STUDIES] : [studyById(o.command)];
  const device = await useBackend(o.backend);
  note(
    `minibatch demo: ${o.command === "all" ? "every study" : studies[0].title}, backend ${device}, seed ${o.seed}`,
  );
  const data: MnistData = await loadMnist({
    dir: o.data ? resolve(userCwd(), o.data) : null,
    trainSize: o.trainSize ?? (o.quick ? 3000 : null),
    testSize: o.testSize ?? (o.quick ? 500 : null),
  });
  note(
    `MNIST: ${data.train.count.toLocaleString("en-US")} training and ${data.test.count.toLocaleString("en-US")} test images`,
  );
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

  const results: StudyResult[] = [];
  for (const study of studies) {
    const so = studyOptions(o, study);
    const view = testView(data, o, study);
    if (study.id === "train") {
      const steps = so.steps ?? Math.max(1, Math.floor(view.train.count / so.batchSize));
      if (so.epochs === null && steps < PAPER_STEPS && !o.paper)
        note(
          `Short version: ${steps.toLocaleString("en-US")} steps per run; the paper trains ${PAPER_STEPS.toLocaleString("en-US")} (add --paper).`,
        );
      if (o.paper) {
        const est = await estimateSeconds({ ...so, steps }, view, steps);
        note(
          `--paper: ${steps.toLocaleString("en-US")} steps per run, ${so.norms.length} runs${so.parallel ? " at the same time (--sequential: one after the other)" : ""}; estimated ${formatDuration(est)} on this machine (from ${ESTIMATE_STEPS} timed steps and one evaluation per run).`,
        );
      }
    }
    if (o.command === "all") note(`\n== ${study.title} (claims ${study.claims.join(", ")})`);
    const s0 = performance.now();
    const result = await study.run({ o: so, data: view, io, quiet: o.json, scratchDir: tmpdir() });
    result.json.seconds = Math.round((performance.now() - s0) / 100) / 10;
    results.push(result);
    if (!o.json) for (const v of result.verdicts) note(verdictLine(v));
  }
  const wall = (performance.now() - t0) / 1000;
  const page = o.command === "all" ? allPage(results, command, wall) : studyPage(results[0], command, wall);
  const json =
    o.command === "all"
      ? {
          command,
          seed: o.seed,
          wallSeconds: Math.round(wall * 10) / 10,
          verdicts: results.flatMap((r) => r.verdicts.map((v) => ({ study: r.id, ...v }))),
          studies: results.map((r) => ({ id: r.id, title: r.title, verdicts: r.verdicts, ...r.json })),
        }
      : { study: results[0].id, command, seed: o.seed, verdicts: results[0].verdicts, ...results[0].json };
  const dir = writeReport(reportDir, page.html, page.figures, json);
  if (o.json) {
    io.out.write(`${JSON.stringify(json)}\n`);
    return 0;
  }
  for (const r of results) for (const t of r.tables) io.out.write(`\n${textTable(t)}\n`);
  if (o.command === "all") io.out.write(`\n${textTable(verdictTable(results))}\n`);
  io.out.write(
    `\nFinished in ${formatDuration(wall)}. Report: ${shownPath(dir)}/index.html (figures as SVG files in the same folder)\n`,
  );
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
