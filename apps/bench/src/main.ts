// pnpm bench: runs every workload x implementation (and every W3 case) in its own child process,
// then prints one table per case and a ratios section: minibatch against TF.js wasm and NumPy,
// from this run's numbers only. W3's headline is whole-epoch throughput, warm-up included.
//   --only W1,W3     run a subset (W1 W2 W3 W4 startup size)
//   --impls a,b      only these implementations (minibatch, minibatch-ts, tfjs-cpu, tfjs-wasm, numpy, ...)
//   --quick          a short run while developing: W3 stops after 5 s per case (partial epochs,
//                    marked), W1 only N = 128 and 256. Not for numbers you quote.
//   --json [file]    also write the results as JSON (default bench-results.json)
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type CaseResult, require, W3_CASES, w3CaseName } from "./common";
import { cell, fmt, headline, isPartial, ratioCell, ratioRows, VERSUS } from "./format";
import { segmentRates, steadyStateMedian, warmupCostMs } from "./headline";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.indexOf(name);
const onlyArg = flag("--only") >= 0 ? args[flag("--only") + 1] : "";
const only = onlyArg ? new Set(onlyArg.split(",").map((s) => s.trim())) : null;
const implsArg = flag("--impls") >= 0 ? args[flag("--impls") + 1] : "";
const impls = implsArg ? new Set(implsArg.split(",").map((s) => s.trim())) : null;
const quick = flag("--quick") >= 0;
const jsonAt = flag("--json");
const jsonFile =
  jsonAt >= 0
    ? args[jsonAt + 1] && !args[jsonAt + 1].startsWith("--")
      ? args[jsonAt + 1]
      : "bench-results.json"
    : null;

interface Job {
  workload: string;
  impl: string;
  sizes?: number[];
  budgetMs?: number;
  /** W3: the case (W3_CASES key) this child runs; each case gets a fresh process. */
  w3Case?: string;
  env?: Record<string, string>;
}

const TS = { MINIBATCH_WASM: "0" }; // the plain TypeScript kernels (the fallback), for reference
const W1_SIZES = quick ? [128, 256] : [128, 256, 512, 1024];
/** W3 rows, each case in a fresh process; `bn60`: only the BN batch-60 case (the one with a target). */
const W3_ROWS: { impl: string; budgetMs: number; bn60?: boolean; env?: Record<string, string> }[] = [
  // A full epoch is needed for the test accuracy; slow implementations stop at a time budget
  // (their accuracy is then not reported) so the whole bench stays within minutes on 2 cores.
  { impl: "minibatch", budgetMs: 60_000 },
  // The same net through the module API the READMEs teach (Linear, BatchNorm1d, SGD).
  { impl: "minibatch-modules", budgetMs: 60_000 },
  // The same two steps wrapped in compile() (skipped, with the reason, in a build without it).
  { impl: "minibatch-compiled", budgetMs: 60_000 },
  { impl: "minibatch-modules-compiled", budgetMs: 60_000 },
  { impl: "tfjs-wasm", budgetMs: 60_000 },
  { impl: "tfjs-cpu", budgetMs: 25_000 },
  // The ceiling: NumPy (OpenBLAS, one thread) on the same net, weights and batch order.
  { impl: "numpy", budgetMs: 60_000 },
  { impl: "minibatch-ts", budgetMs: 10_000, bn60: true, env: TS },
  { impl: "minibatch-webgpu", budgetMs: 30_000, bn60: true },
  { impl: "tfjs-webgpu", budgetMs: 30_000, bn60: true },
];
const JOBS: Job[] = [
  ...["minibatch", "minibatch-ts", "tfjs-cpu", "tfjs-wasm"].map((impl) => ({
    workload: "W1",
    impl,
    sizes: W1_SIZES,
    env: impl === "minibatch-ts" ? TS : undefined,
  })),
  ...["minibatch", "minibatch-ts", "tfjs-cpu", "tfjs-wasm"].map((impl) => ({
    workload: "W2",
    impl,
    env: impl === "minibatch-ts" ? TS : undefined,
  })),
  // Case by case, so that every row of a case ran at about the same time on a shared machine.
  ...W3_CASES.flatMap((cs) =>
    W3_ROWS.filter((row) => !row.bn60 || cs.key === "bn60").map((row) => ({
      workload: "W3",
      impl: row.impl,
      w3Case: cs.key,
      budgetMs: quick ? Math.min(row.budgetMs, 5000) : row.budgetMs,
      env: row.env,
    })),
  ),
  ...["plain loop", "minibatch", "tfjs-data"].map((impl) => ({ workload: "W4", impl, sizes: [60, 256] })),
  ...["minibatch", "tfjs-cpu", "tfjs-wasm"].map((impl) => ({ workload: "startup", impl })),
];

interface Missing {
  workload: string;
  /** The W3 case's name, when the job ran one case. */
  case?: string;
  impl: string;
  reason: string;
}

interface Outcome {
  results: CaseResult[];
  /** Rows this build cannot run (compile() missing): reported with the reason, never dropped. */
  skipped: Missing[];
  /** Rows that failed or found no backend. */
  unavailable: Missing[];
}

function runJob(job: Job): Outcome {
  const { env, ...payload } = job;
  const childImpl = job.impl === "tfjs-data" ? "tfjs-cpu" : job.impl;
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [join(here, "child.js"), JSON.stringify({ ...payload, impl: childImpl })],
    {
      env: { ...process.env, ...env },
      encoding: "utf8",
      timeout: job.impl.includes("webgpu") ? 150_000 : 300_000,
      maxBuffer: 64 << 20,
    },
  );
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const out: Outcome = { results: [], skipped: [], unavailable: [] };
  const cs = W3_CASES.find((c) => c.key === job.w3Case);
  const where = { workload: job.workload, case: cs ? w3CaseName(cs) : undefined, impl: job.impl };
  for (const line of (r.stdout ?? "").split("\n")) {
    if (line.startsWith("RESULT ")) {
      const res = JSON.parse(line.slice(7)) as CaseResult;
      if (job.impl === "tfjs-data") res.impl = "tfjs-data";
      out.results.push(res);
    } else if (line.startsWith("UNAVAILABLE ")) {
      out.unavailable.push({ ...where, reason: JSON.parse(line.slice(12)) });
    } else if (line.startsWith("SKIPPED ")) {
      out.skipped.push({ ...where, reason: JSON.parse(line.slice(8)) });
    }
  }
  if (!out.results.length && !out.unavailable.length && !out.skipped.length) {
    const why = r.error
      ? `${r.error.message} (killed at the time limit; a software GPU can be this slow)`
      : `exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-2).join(" ")}`;
    out.unavailable.push({ ...where, reason: why });
  }
  process.stderr.write(`  ${job.workload}${job.w3Case ? ` ${job.w3Case}` : ""} ${job.impl}: ${secs} s\n`);
  return out;
}

function version(pkg: string): string {
  try {
    return require(`${pkg}/package.json`).version;
  } catch {
    return "?";
  }
}

/** Minified + gzipped browser bundles (esbuild) of what an app imports. */
async function bundleSizes(): Promise<CaseResult[]> {
  const { build } = await import("esbuild");
  const entries: [string, string, string[]][] = [
    ["minibatch: tensor + backend-cpu", "minibatch", ["@minibatch/tensor", "@minibatch/backend-cpu"]],
    [
      "minibatch: web demo packages",
      "minibatch",
      [
        "@minibatch/tensor",
        "@minibatch/backend-cpu",
        "@minibatch/backend-webgpu",
        "@minibatch/nn",
        "@minibatch/norm",
        "@minibatch/optim",
        "@minibatch/data",
      ],
    ],
    ["tfjs: core + cpu", "tfjs", ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu"]],
    ["tfjs: core + wasm (+ simd .wasm)", "tfjs", ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-wasm"]],
    [
      "tfjs: core + cpu + wasm + webgpu + data",
      "tfjs",
      [
        "@tensorflow/tfjs-core",
        "@tensorflow/tfjs-backend-cpu",
        "@tensorflow/tfjs-backend-wasm",
        "@tensorflow/tfjs-backend-webgpu",
        "@tensorflow/tfjs-data",
      ],
    ],
  ];
  const out: CaseResult[] = [];
  for (const [name, impl, pkgs] of entries) {
    const used: string[] = [];
    const skipped: string[] = [];
    for (const p of pkgs) {
      try {
        require.resolve(p);
        used.push(p);
      } catch {
        skipped.push(p);
      }
    }
    const contents = used.map((p, i) => `export * as m${i} from "${p}";`).join("\n");
    try {
      const r = await build({
        stdin: { contents, resolveDir: join(here, ".."), loader: "js" },
        bundle: true,
        minify: true,
        format: "esm",
        platform: "browser",
        target: "es2022",
        write: false,
        logLevel: "silent",
      });
      let bytes = gzipSync(r.outputFiles[0].contents, { level: 9 }).length;
      if (name.includes(".wasm")) {
        const { readFileSync } = await import("node:fs");
        const wasmFile = join(
          dirname(require.resolve("@tensorflow/tfjs-backend-wasm")),
          "tfjs-backend-wasm-simd.wasm",
        );
        bytes += gzipSync(readFileSync(wasmFile), { level: 9 }).length;
      }
      const extra: Record<string, string> = {};
      if (skipped.length) extra.note = `not resolvable yet: ${skipped.join(", ")}`;
      out.push({ workload: "size", case: name, impl, metric: "KiB gz", values: [bytes / 1024], extra });
    } catch (e) {
      const msg = (e as { errors?: { text: string }[] }).errors?.[0]?.text ?? String(e);
      out.push({
        workload: "size",
        case: name,
        impl,
        metric: "KiB gz",
        values: [],
        extra: { note: `bundle failed: ${msg}` },
      });
    }
  }
  return out;
}

function extraText(r: CaseResult): string {
  const e = r.extra ?? {};
  const parts: string[] = [];
  if (typeof e.ms === "number") parts.push(`best ${e.ms.toFixed(2)} ms`);
  if (typeof e.maxRelErr === "number") parts.push(`err ${e.maxRelErr.toExponential(1)}`);
  if (typeof e.batchNormNchwErr === "number")
    parts.push(`tf.batchNorm [1,C,1,1] err ${e.batchNormNchwErr.toExponential(1)}`);
  if (typeof e.accuracy === "number") parts.push(`test acc ${e.accuracy.toFixed(2)} %`);
  if (typeof e.note === "string") parts.push(e.note);
  return parts.join(", ");
}

async function main(): Promise<void> {
  const header = {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    versions: Object.fromEntries(
      [
        "@minibatch/tensor",
        "@minibatch/backend-cpu",
        "@tensorflow/tfjs-core",
        "@tensorflow/tfjs-backend-cpu",
        "@tensorflow/tfjs-backend-wasm",
        "@tensorflow/tfjs-backend-webgpu",
        "@tensorflow/tfjs-data",
      ].map((p) => [p, version(p)]),
    ),
    date: new Date().toISOString(),
  };
  const cpu = await import("@minibatch/backend-cpu");
  const wasm = cpu.wasmStatus();
  console.log("minibatch bench");
  console.log(
    `machine: ${header.cpu}, ${header.cores} cores, ${header.memoryGiB} GiB, ${header.os}, Node.js ${header.node}`,
  );
  console.log(
    `versions: ${Object.entries(header.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  console.log(
    `minibatch cpu kernels: ${wasm.enabled ? `WebAssembly ${wasm.variant}, matrix products on ${wasm.threads} thread(s)` : `TypeScript (${wasm.reason})`}; tfjs-wasm runs one thread (its threaded build does not load in Node.js)`,
  );
  console.log("");

  const all: CaseResult[] = [];
  const unavailable: Missing[] = [];
  const skipped: Missing[] = [];
  const t0 = performance.now();
  for (const job of JOBS) {
    if (only && !only.has(job.workload)) continue;
    if (impls && !impls.has(job.impl)) continue;
    const o = runJob(job);
    all.push(...o.results);
    unavailable.push(...o.unavailable);
    skipped.push(...o.skipped);
  }
  if (!only || only.has("size")) all.push(...(await bundleSizes()));
  process.stderr.write(`  total ${((performance.now() - t0) / 1000).toFixed(0)} s\n\n`);
  if (quick) console.log("--quick: W3 epochs stop after 5 s (partial, marked *); numbers not for quoting\n");

  // Group by workload and case, keeping the job order; rows that did not run stay in their case.
  const groups = new Map<string, { rows: CaseResult[]; missing: (Missing & { kind: string })[] }>();
  const group = (key: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { rows: [], missing: [] }));
    return g;
  };
  for (const r of all) group(`${r.workload} ${r.case}`).rows.push(r);
  for (const m of skipped)
    if (m.case) group(`${m.workload} ${m.case}`).missing.push({ ...m, kind: "skipped" });
  for (const m of unavailable)
    if (m.case) group(`${m.workload} ${m.case}`).missing.push({ ...m, kind: "not available" });

  const W = 28;
  for (const [key, { rows, missing }] of groups) {
    const metric = rows[0]?.metric ?? "samples/s";
    const training = rows.some((r) => r.segments?.length);
    if (training) {
      // The headline first: all samples over all the time of an epoch, warm-up included.
      console.log(`${key}  [${metric}]`);
      console.log(
        `  ${"impl".padEnd(W)} ${"HEADLINE: epoch incl. warm-up".padEnd(30)} ${"steady state: median segment (min-max)".padEnd(40)} ${"warm-up cost".padEnd(13)} notes`,
      );
      for (const r of rows) {
        const h = headline(r);
        const head = Number.isFinite(h) ? `${fmt(h)}${isPartial(r) ? " *" : ""}` : "n/a";
        const seg = r.segments ?? [];
        const rates = segmentRates(seg);
        const range = rates.length > 1 ? ` (${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))})` : "";
        const steady = rates.length ? `${fmt(steadyStateMedian(seg))}${range}` : "n/a";
        // With fewer than 3 segments (an epoch cut short early) the median is no steady state.
        const cost = seg.length >= 3 ? `${(warmupCostMs(seg) / 1000).toFixed(2)} s` : "-";
        console.log(
          `  ${r.impl.padEnd(W)} ${head.padEnd(30)} ${steady.padEnd(40)} ${cost.padEnd(13)} ${extraText(r)}`,
        );
      }
    } else {
      console.log(`${key}  [${metric}${rows.some((r) => r.values.length > 1) ? ", median (min-max)" : ""}]`);
      for (const r of rows) console.log(`  ${r.impl.padEnd(W)} ${cell(r).padEnd(30)} ${extraText(r)}`);
    }
    for (const m of missing) console.log(`  ${m.impl.padEnd(W)} ${m.kind}: ${m.reason}`);
    console.log("");
  }
  if (all.some((r) => r.segments?.length))
    console.log(
      "W3: HEADLINE = training samples / wall time of the whole epoch in a fresh process, from the first step to the last, warm-up (JIT, first allocations) included.\n" +
        "    steady state = median of the epoch's ~10 segments (leaves the warm-up out); warm-up cost = epoch time minus the time at the steady-state rate (- under 3 segments).\n" +
        "    * = the epoch stopped at its time budget (partial): the headline then covers the steps run, and its warm-up weighs more.\n",
    );

  // Ratios: each minibatch row against TF.js wasm and NumPy, by headline, from this run only.
  const rr = ratioRows(all);
  // TF.js wasm and NumPy first (the comparisons the bench is for), then any other backend that ran.
  const columns = [...VERSUS];
  for (const row of rr) for (const k of Object.keys(row.vs)) if (!columns.includes(k)) columns.push(k);
  if (rr.length) {
    console.log(
      "RATIOS (this run only; > 1: minibatch is better; W3 by the epoch headline, others by the median)",
    );
    console.log(
      `  ${"case".padEnd(36)} ${"minibatch row".padEnd(W)} ${columns.map((v) => `vs ${v}`.padEnd(14)).join(" ")}`,
    );
    for (const row of rr)
      console.log(
        `  ${row.key.padEnd(36)} ${row.mine.padEnd(W)} ${columns.map((v) => ratioCell(row, v).padEnd(14)).join(" ")}`,
      );
    console.log("  * = an epoch on either side stopped at its time budget; - = no such row in this run\n");
  }
  // One line per implementation and reason (a row skipped in all four W3 cases is one line).
  const byImpl = (ms: Missing[]) => {
    const count = new Map<string, number>();
    for (const u of ms) {
      const k = `${u.workload} ${u.impl}: ${u.reason}`;
      count.set(k, (count.get(k) ?? 0) + 1);
    }
    return [...count].map(([k, n]) => (n > 1 ? `${k} (${n} cases)` : k));
  };
  for (const line of byImpl(skipped)) console.log(`skipped: ${line}`);
  for (const line of byImpl(unavailable)) console.log(`not available: ${line}`);

  if (jsonFile) {
    const ratios: Record<string, Record<string, Record<string, number>>> = {};
    for (const row of rr) (ratios[row.key] ??= {})[row.mine] = row.vs;
    const results = all.map((r) => ({
      ...r,
      headline: headline(r),
      headlineIs: r.segments?.length ? "whole epoch incl. warm-up" : "median",
      ...(r.segments?.length ? { steadyState: steadyStateMedian(r.segments) } : {}),
      partial: isPartial(r),
    }));
    writeFileSync(
      jsonFile,
      `${JSON.stringify({ header, quick, wasm, results, ratios, skipped, unavailable }, null, 2)}\n`,
    );
    console.log(`\nwrote ${jsonFile}`);
  }
}

await main();
