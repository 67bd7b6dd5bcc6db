// pnpm bench: runs every workload x implementation in its own child process, then prints a table
// of medians (min-max) and the speed ratio of minibatch to each TF.js backend.
//   --only W1,W3     run a subset (W1 W2 W3 W4 startup size)
//   --impls a,b      only these implementations (minibatch, minibatch-ts, tfjs-cpu, tfjs-wasm, numpy, ...)
//   --json [file]    also write the results as JSON (default bench-results.json)
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type CaseResult, require } from "./common";
import { cell, speedRatio } from "./format";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.indexOf(name);
const onlyArg = flag("--only") >= 0 ? args[flag("--only") + 1] : "";
const only = onlyArg ? new Set(onlyArg.split(",").map((s) => s.trim())) : null;
const implsArg = flag("--impls") >= 0 ? args[flag("--impls") + 1] : "";
const impls = implsArg ? new Set(implsArg.split(",").map((s) => s.trim())) : null;
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
  onlyBn?: boolean;
  env?: Record<string, string>;
}

const TS = { MINIBATCH_WASM: "0" }; // the plain TypeScript kernels (the fallback), for reference
const W1_SIZES = [128, 256, 512, 1024];
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
  // A full epoch is needed for the test accuracy; slow implementations stop at a time budget
  // (their accuracy is then not reported) so the whole bench stays within minutes on 2 cores.
  { workload: "W3", impl: "minibatch", budgetMs: 60_000 },
  // The same net through the module API the READMEs teach (Linear, BatchNorm1d, SGD).
  { workload: "W3", impl: "minibatch-modules", budgetMs: 60_000 },
  { workload: "W3", impl: "tfjs-wasm", budgetMs: 60_000 },
  { workload: "W3", impl: "tfjs-cpu", budgetMs: 25_000 },
  // The ceiling: NumPy (OpenBLAS, one thread) on the same net, weights and batch order.
  { workload: "W3", impl: "numpy", budgetMs: 60_000 },
  // onlyBn: just the BN batch-60 case (the one with a target).
  { workload: "W3", impl: "minibatch-ts", budgetMs: 10_000, onlyBn: true, env: TS },
  { workload: "W3", impl: "minibatch-webgpu", budgetMs: 30_000, onlyBn: true },
  { workload: "W3", impl: "tfjs-webgpu", budgetMs: 30_000, onlyBn: true },
  ...["plain loop", "minibatch", "tfjs-data"].map((impl) => ({ workload: "W4", impl, sizes: [60, 256] })),
  ...["minibatch", "tfjs-cpu", "tfjs-wasm"].map((impl) => ({ workload: "startup", impl })),
];

interface Outcome {
  results: CaseResult[];
  unavailable: { workload: string; impl: string; reason: string }[];
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
  const out: Outcome = { results: [], unavailable: [] };
  for (const line of (r.stdout ?? "").split("\n")) {
    if (line.startsWith("RESULT ")) {
      const res = JSON.parse(line.slice(7)) as CaseResult;
      if (job.impl === "tfjs-data") res.impl = "tfjs-data";
      out.results.push(res);
    } else if (line.startsWith("UNAVAILABLE ")) {
      out.unavailable.push({ workload: job.workload, impl: job.impl, reason: JSON.parse(line.slice(12)) });
    }
  }
  if (!out.results.length && !out.unavailable.length) {
    const why = r.error
      ? `${r.error.message} (killed at the time limit; a software GPU can be this slow)`
      : `exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-2).join(" ")}`;
    out.unavailable.push({ workload: job.workload, impl: job.impl, reason: why });
  }
  process.stderr.write(`  ${job.workload} ${job.impl}: ${secs} s\n`);
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
    `minibatch cpu kernels: ${wasm.enabled ? "WebAssembly SIMD" : `TypeScript (${wasm.reason})`}; tfjs-wasm runs one thread`,
  );
  console.log("");

  const all: CaseResult[] = [];
  const unavailable: Outcome["unavailable"] = [];
  const t0 = performance.now();
  for (const job of JOBS) {
    if (only && !only.has(job.workload)) continue;
    if (impls && !impls.has(job.impl)) continue;
    const o = runJob(job);
    all.push(...o.results);
    unavailable.push(...o.unavailable);
  }
  if (!only || only.has("size")) all.push(...(await bundleSizes()));
  process.stderr.write(`  total ${((performance.now() - t0) / 1000).toFixed(0)} s\n\n`);

  // Group by workload and case, keeping the job order.
  const groups = new Map<string, CaseResult[]>();
  for (const r of all) {
    const key = `${r.workload} ${r.case}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const ratios: Record<string, Record<string, number>> = {};
  for (const [key, rs] of groups) {
    const metric = rs[0].metric;
    const lowerIsBetter = metric === "ms" || metric === "KiB gz";
    console.log(`${key}  [${metric}${rs[0].values.length > 1 ? ", median (min-max)" : ""}]`);
    for (const r of rs) console.log(`  ${r.impl.padEnd(18)} ${cell(r).padEnd(28)} ${extraText(r)}`);
    const mine = rs.find((r) => r.impl === "minibatch");
    const parts: string[] = [];
    for (const r of rs) {
      if (
        !mine ||
        !(r.impl.startsWith("tfjs") || r.impl === "numpy") ||
        !r.values.length ||
        !mine.values.length
      )
        continue;
      const ratio = speedRatio(mine.values, r.values, lowerIsBetter);
      (ratios[key] ??= {})[r.impl] = ratio;
      parts.push(`vs ${r.impl} ${ratio.toFixed(2)}x`);
    }
    if (parts.length)
      console.log(
        `  minibatch ${lowerIsBetter ? "(smaller/faster by)" : "speed ratio"}: ${parts.join(", ")}`,
      );
    console.log("");
  }
  for (const u of unavailable) console.log(`not available: ${u.workload} ${u.impl}: ${u.reason}`);

  if (jsonFile) {
    writeFileSync(
      jsonFile,
      `${JSON.stringify({ header, wasm, results: all, ratios, unavailable }, null, 2)}\n`,
    );
    console.log(`\nwrote ${jsonFile}`);
  }
}

await main();
