// One implementation of one workload, in its own process (so JIT state, memory and global
// backend registries never leak between implementations). Prints `RESULT <json>` lines.
import { join } from "node:path";
import { type CaseResult, gatherBatch, loadMnist, mnistDir, permutation, readIdx } from "./common";

interface Job {
  workload: string;
  impl: string;
  sizes?: number[];
  budgetMs?: number;
  /** W3: the one case (W3_CASES key) this process runs, so that its epoch includes its own warm-up. */
  w3Case?: string;
}

const job: Job = JSON.parse(process.argv[2]);

/** W4 floor: a plain typed-array loop, no library. */
async function plainLoop(sizes: number[]): Promise<CaseResult[]> {
  const { measure } = await import("./common");
  const out: CaseResult[] = [];
  for (const b of sizes) {
    let epoch = 0;
    const times = await measure(
      () => {
        const images = readIdx(join(mnistDir(), "train-images-idx3-ubyte")).data;
        const labels = readIdx(join(mnistDir(), "train-labels-idx1-ubyte")).data;
        const order = permutation(60000, 42 + epoch++);
        for (let s = 0; s + b <= 60000; s += b) gatherBatch(images, labels, order, s, b);
      },
      { warmup: 1, reps: 7, budgetMs: 3000 },
    );
    out.push({
      workload: "W4",
      case: `pipeline B=${b}`,
      impl: "plain loop",
      metric: "samples/s",
      values: times.map((t) => 60000 / (t / 1000)),
    });
  }
  return out;
}

/** Startup: process start (performance.timeOrigin) to the end of the first W3 training step. */
async function startup(impl: string): Promise<CaseResult[]> {
  const isTf = impl.startsWith("tfjs");
  const lib: any = isTf ? await import("./tf") : await import("./mb");
  await lib.setup(impl);
  const data = loadMnist();
  const { x, y } = gatherBatch(data.trainX, data.trainY, permutation(60000, 42), 0, 60);
  const net = isTf ? new lib.TfNet(true, 7) : new lib.MbNet(true, 7);
  net.step(x, y, 60);
  await (isTf ? net.settle() : net.W[0].data());
  const ms = performance.now();
  return [{ workload: "startup", case: "process start to first step", impl, metric: "ms", values: [ms] }];
}

/**
 * W3's ceiling row: the same net, initial weights and batch order in NumPy (python/w3_numpy.py),
 * float32 on one thread. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this child alone:
 * some machines set them for old OpenBLAS builds, and they slow a current NumPy down.
 */
async function numpyW3(budgetMs: number, caseKey: string): Promise<CaseResult[]> {
  const { spawnSync } = await import("node:child_process");
  const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { dirname } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const { initialParams } = await import("./common");
  const dir = mkdtempSync(join(tmpdir(), "minibatch-numpy-"));
  try {
    const p = initialParams(7);
    for (const [l, w] of p.W.entries()) writeFileSync(join(dir, `W${l}.bin`), new Uint8Array(w.buffer));
    writeFileSync(join(dir, "order.bin"), new Uint8Array(permutation(60000, 42).buffer));
    writeFileSync(join(dir, "mnist-dir"), mnistDir());
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OPENBLAS_NUM_THREADS: "1",
      OMP_NUM_THREADS: "1",
      MKL_NUM_THREADS: "1",
    };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const script = join(dirname(fileURLToPath(import.meta.url)), "..", "python", "w3_numpy.py");
    const r = spawnSync("python3", [script, dir, String(budgetMs), caseKey], {
      env,
      encoding: "utf8",
      timeout: 300_000,
    });
    if (r.error) throw new Error(`python3 could not run: ${r.error.message}`);
    if (r.status !== 0)
      throw new Error(`python3 ${script} failed: ${(r.stderr ?? "").trim().split("\n").pop()}`);
    return (r.stdout ?? "")
      .split("\n")
      .filter((l) => l.startsWith("RESULT "))
      .map((l) => JSON.parse(l.slice(7)) as CaseResult);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { workload, impl } = job;
  let results: CaseResult[];
  if (impl === "plain loop") results = await plainLoop(job.sizes ?? [60, 256]);
  else if (impl === "numpy") results = await numpyW3(job.budgetMs ?? 60_000, job.w3Case ?? "");
  else if (workload === "startup") results = await startup(impl);
  else {
    const lib: any = impl.startsWith("tfjs") ? await import("./tf") : await import("./mb");
    await lib.setup(impl);
    if (workload === "W1") results = await lib.w1(impl, job.sizes);
    else if (workload === "W2") results = await lib.w2(impl);
    else if (workload === "W3") results = await lib.w3(impl, job.budgetMs ?? 60_000, job.w3Case);
    else if (workload === "W4") results = await lib.w4(impl, job.sizes);
    else throw new Error(`unknown workload ${workload}`);
  }
  for (const r of results) process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    // A row this build cannot run (compile() missing) is skipped, with the reason; any other
    // failure is reported as unavailable. Neither ever passes silently.
    if (e?.name === "Skip") {
      process.stdout.write(`SKIPPED ${JSON.stringify(String(e.message))}\n`);
      process.exit(0);
    }
    process.stdout.write(`UNAVAILABLE ${JSON.stringify(String(e?.message ?? e).split("\n")[0])}\n`);
    process.exit(0);
  },
);
