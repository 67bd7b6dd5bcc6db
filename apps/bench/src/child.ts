// One implementation of one workload, in its own process (so JIT state, memory and global
// backend registries never leak between implementations). Prints `RESULT <json>` lines.
import { join } from "node:path";
import { type CaseResult, gatherBatch, loadMnist, mnistDir, permutation, readIdx } from "./common";

interface Job {
  workload: string;
  impl: string;
  sizes?: number[];
  budgetMs?: number;
  onlyBn?: boolean;
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

async function main(): Promise<void> {
  const { workload, impl } = job;
  let results: CaseResult[];
  if (impl === "plain loop") results = await plainLoop(job.sizes ?? [60, 256]);
  else if (workload === "startup") results = await startup(impl);
  else {
    const lib: any = impl.startsWith("tfjs") ? await import("./tf") : await import("./mb");
    await lib.setup(impl);
    if (workload === "W1") results = await lib.w1(impl, job.sizes);
    else if (workload === "W2") results = await lib.w2(impl);
    else if (workload === "W3") results = await lib.w3(impl, job.budgetMs ?? 60_000, job.onlyBn ?? false);
    else if (workload === "W4") results = await lib.w4(impl, job.sizes);
    else throw new Error(`unknown workload ${workload}`);
  }
  for (const r of results) process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stdout.write(`UNAVAILABLE ${JSON.stringify(String(e?.message ?? e).split("\n")[0])}\n`);
    process.exit(0);
  },
);
