import { keep, type Tensor } from "@minibatch/tensor";
import type { Module } from "./module";
import { loadSafetensors, saveSafetensors } from "./safetensors";

/**
 * Training checkpoints as one safetensors file. The model's state dict is stored under PyTorch's
 * keys ("0.weight", "1.running_mean", "1.num_batches_tracked": the camelCase buffer names of the
 * normalization layers are written in snake_case), so PyTorch can read the weights with
 * `safetensors.torch.load_file` and load them with a strict `load_state_dict`;
 * optimizer tensors go under "optimizer.state.<paramIndex>.<name>" and extra tensors under
 * "extra.<key>"; everything else (optimizer scalars and param groups, extra JSON) is JSON in the
 * metadata.
 */

/** What an optimizer must offer to be checkpointed (`@minibatch/optim`'s optimizers do). */
export interface OptimizerLike {
  stateDict(): OptimizerState;
  /** Receives freshly loaded tensors and owns them from then on (it may keep or dispose them). */
  loadStateDict(state: OptimizerState): void;
}

export interface OptimizerState {
  state: Record<string, Record<string, Tensor | number>>;
  paramGroups: Record<string, unknown>[];
}

export interface CheckpointContents {
  model: Module;
  optimizer?: OptimizerLike;
  /** JSON-serializable values (epoch, step, config...); Tensor values are stored as tensors. */
  extra?: Record<string, unknown>;
}

const FORMAT = "minibatch.checkpoint";
const VERSION = "1";
const OPT_PREFIX = "optimizer.state.";
const EXTRA_PREFIX = "extra.";

/** Buffer names that differ from PyTorch's; parameter names (weight, bias) match already. */
const TO_TORCH: Record<string, string> = {
  runningMean: "running_mean",
  runningVar: "running_var",
  numBatchesTracked: "num_batches_tracked",
};
const FROM_TORCH: Record<string, string> = Object.fromEntries(
  Object.entries(TO_TORCH).map(([a, b]) => [b, a]),
);

function renameLast(key: string, table: Record<string, string>): string {
  const i = key.lastIndexOf(".");
  const last = key.slice(i + 1);
  return Object.hasOwn(table, last) ? key.slice(0, i + 1) + table[last] : key;
}

/** The key PyTorch uses for one of our state dict keys (`bn.runningMean` -> `bn.running_mean`). */
export function toPyTorchKey(key: string): string {
  return renameLast(key, TO_TORCH);
}

/** Our key for one of PyTorch's state dict keys (`bn.running_mean` -> `bn.runningMean`). */
export function fromPyTorchKey(key: string): string {
  return renameLast(key, FROM_TORCH);
}

/** Serializes model, optimizer and extra state to safetensors bytes (works in browsers). */
export async function checkpointToBytes(contents: CheckpointContents): Promise<Uint8Array> {
  const { model, optimizer, extra } = contents;
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(model.stateDict())) {
    if (k.startsWith(OPT_PREFIX) || k.startsWith(EXTRA_PREFIX)) {
      throw new Error(
        `checkpoint: model key '${k}' collides with the reserved prefixes 'optimizer.' / 'extra.'`,
      );
    }
    const torchKey = toPyTorchKey(k);
    if (torchKey in tensors) throw new Error(`checkpoint: model keys '${k}' and '${torchKey}' collide`);
    tensors[torchKey] = t;
  }
  const metadata: Record<string, string> = { format: FORMAT, version: VERSION };
  if (optimizer) {
    const sd = optimizer.stateDict();
    const scalars: Record<string, Record<string, unknown>> = {};
    for (const [idx, slots] of Object.entries(sd.state)) {
      for (const [name, v] of Object.entries(slots)) {
        if (isTensor(v)) tensors[`${OPT_PREFIX}${idx}.${name}`] = v;
        else (scalars[idx] ??= {})[name] = v;
      }
    }
    metadata.optimizer = toJson({ scalars, paramGroups: sd.paramGroups });
  }
  if (extra) {
    const json: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(extra)) {
      if (isTensor(v)) tensors[EXTRA_PREFIX + k] = v;
      else json[k] = v;
    }
    metadata.extra = toJson(json);
  }
  return saveSafetensors(tensors, metadata);
}

export interface LoadCheckpointOptions {
  model: Module;
  optimizer?: OptimizerLike;
  /** Require the file's model keys to match the model's exactly (default true). */
  strict?: boolean;
}

export interface LoadedCheckpoint {
  /** The `extra` values saved with the checkpoint; tensor values are yours to dispose. */
  extra: Record<string, unknown>;
  metadata: Record<string, string>;
}

/**
 * Restores a checkpoint made by `checkpointToBytes` into `model` (in place) and, when given and
 * present in the file, `optimizer`. A plain safetensors file of weights (from PyTorch) loads too.
 */
export function checkpointFromBytes(
  bytes: Uint8Array | ArrayBuffer,
  opts: LoadCheckpointOptions,
): LoadedCheckpoint {
  for (const k of Object.keys(opts ?? {})) {
    if (!["model", "optimizer", "strict"].includes(k)) {
      throw new Error(`checkpointFromBytes: unknown option '${k}'; expected model, optimizer, strict`);
    }
  }
  const { model, optimizer } = opts;
  const backend = backendOf(model);
  const { tensors, metadata } = loadSafetensors(bytes, { backend });
  const own = model.stateDict();
  const modelState: Record<string, Tensor> = {};
  const optTensors: [string, string, Tensor][] = [];
  const extra: Record<string, unknown> = {};
  const handedOff = new Set<Tensor>();
  try {
    for (const [k, t] of Object.entries(tensors)) {
      if (k.startsWith(OPT_PREFIX)) {
        const rest = k.slice(OPT_PREFIX.length);
        const dot = rest.indexOf(".");
        if (dot <= 0) throw new Error(`checkpoint: malformed optimizer key '${k}'`);
        optTensors.push([rest.slice(0, dot), rest.slice(dot + 1), t]);
      } else if (k.startsWith(EXTRA_PREFIX)) {
        extra[k.slice(EXTRA_PREFIX.length)] = t;
        handedOff.add(keep(t));
      } else {
        // PyTorch's names (and files from PyTorch) map back to ours; older files used ours.
        const ours = fromPyTorchKey(k);
        modelState[ours in own && !(k in own) ? ours : k] = t;
      }
    }
    // Validate everything before changing anything: a failure leaves model and optimizer as they were.
    checkModelState(own, modelState, opts.strict ?? true);
    const savedExtra = metadata.extra ? fromJson(metadata.extra, "extra") : {};
    let optState: OptimizerState | null = null;
    if (optimizer) {
      if (metadata.optimizer === undefined) {
        throw new Error("checkpoint: an optimizer was given but the file holds no optimizer state");
      }
      const saved = fromJson(metadata.optimizer, "optimizer") as {
        scalars: Record<string, Record<string, number>>;
        paramGroups: Record<string, unknown>[];
      };
      const state: OptimizerState["state"] = {};
      for (const [idx, slots] of Object.entries(saved.scalars ?? {})) state[idx] = { ...slots };
      for (const [idx, name, t] of optTensors) (state[idx] ??= {})[name] = t;
      optState = { state, paramGroups: saved.paramGroups ?? [] };
    }
    // The optimizer validates its own state as it loads it: load it first, the model (validated
    // above) cannot fail after it.
    if (optimizer && optState) {
      for (const [, , t] of optTensors) handedOff.add(keep(t));
      optimizer.loadStateDict(optState);
    }
    model.loadStateDict(modelState, { strict: opts.strict ?? true });
    Object.assign(extra, savedExtra);
  } catch (e) {
    for (const t of handedOff) t.dispose();
    throw e;
  } finally {
    // The model copied what it needed (loadStateDict assigns); the optimizer owns what it got.
    for (const t of Object.values(tensors)) if (!handedOff.has(t)) t.dispose();
  }
  return { extra, metadata };
}

// A variable specifier keeps browser bundlers from resolving Node's fs: only these two
// Node-only functions load it, when called.
const NODE_FS = "node:fs/promises";
const nodeFs = (): Promise<typeof import("node:fs/promises")> => import(/* @vite-ignore */ NODE_FS);

/** Writes a checkpoint file (Node.js; through a temporary file, so a crash never leaves half a checkpoint). */
export async function saveCheckpoint(path: string, contents: CheckpointContents): Promise<void> {
  const bytes = await checkpointToBytes(contents);
  const fs = await nodeFs();
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, path);
  } catch (e) {
    // A failed write or rename (path is a directory, another device, no permission) must not
    // leave the temporary file behind.
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

/** Reads a checkpoint file (Node.js) into `model` and, when given, `optimizer`. */
export async function loadCheckpoint(path: string, opts: LoadCheckpointOptions): Promise<LoadedCheckpoint> {
  const fs = await nodeFs();
  const bytes = await fs.readFile(path);
  return checkpointFromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), opts);
}

/** The checks `loadStateDict` makes (keys, shapes, backends), without changing anything. */
function checkModelState(own: Record<string, Tensor>, state: Record<string, Tensor>, strict: boolean): void {
  const missing = Object.keys(own).filter((k) => !(k in state));
  const unexpected = Object.keys(state).filter((k) => !(k in own));
  const shapes: string[] = [];
  const backends: string[] = [];
  for (const [k, t] of Object.entries(own)) {
    const v = state[k];
    if (!v) continue;
    if (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i])) {
      shapes.push(`${k}: expected [${t.shape.join(", ")}], got [${v.shape.join(", ")}]`);
    } else if (v.backend !== t.backend) {
      backends.push(`${k}: lives on '${v.backend.name}' but the module is on '${t.backend.name}'`);
    }
  }
  if (shapes.length || backends.length || (strict && (missing.length || unexpected.length))) {
    const parts = [
      missing.length ? `missing keys: ${missing.join(", ")}` : "",
      unexpected.length ? `unexpected keys: ${unexpected.join(", ")}` : "",
      shapes.length ? `shape mismatches: ${shapes.join("; ")}` : "",
      backends.length ? `backend mismatches: ${backends.join("; ")}` : "",
    ].filter(Boolean);
    throw new Error(`checkpoint: the file does not fit the model (nothing was loaded): ${parts.join("; ")}`);
  }
}

function backendOf(model: Module): string | undefined {
  const t = model.parameters()[0] ?? model.buffers()[0];
  return t?.backend.name;
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && typeof (v as Tensor).data === "function" && "dtype" in v;
}

// JSON has no NaN or Infinity, which optimizer state can hold (e.g. a best loss of Infinity).
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === "number" && !Number.isFinite(x) ? { __number__: String(x) } : x,
  );
}

function fromJson(s: string, what: string): any {
  try {
    return JSON.parse(s, (_k, x) =>
      x && typeof x === "object" && typeof x.__number__ === "string" && Object.keys(x).length === 1
        ? Number(x.__number__)
        : x,
    );
  } catch (e) {
    throw new Error(`checkpoint: the '${what}' metadata is not valid JSON (${(e as Error).message})`);
  }
}
