import { checkOptionKeys } from "@minibatch/tensor";
import { type Collated, hostBatchToTensors } from "./collate";
import { collateHost, HostArrayPool, type HostBatch } from "./collate-host";
import { describeDataset, getMany, isMapStyle, type MapStyleDataset } from "./datasets";
import {
  BatchSampler,
  type BatchSamplerLike,
  RandomSampler,
  type Sampler,
  SequentialSampler,
} from "./samplers";
import { drawSeed } from "./seeds";
import { isReason, type WorkerDatasetSpec, type WorkerDescriptor } from "./workers/descriptor";
import type { WorkerPool } from "./workers/pool";

export interface DataLoaderOptions<T = unknown, B = Collated<T>> {
  /** Samples per batch (default 1). Exclusive with `batchSampler`. */
  batchSize?: number;
  /** A new random order every epoch (default false). Exclusive with `sampler` and `batchSampler`. */
  shuffle?: boolean;
  /** Seed of the shuffle; epoch e uses a generator derived from (seed, e). Default: drawn from the default generator. */
  seed?: number;
  /** Custom index order. Exclusive with `shuffle` and `batchSampler`. */
  sampler?: Sampler;
  /** Custom batches of indices. Exclusive with `batchSize`, `shuffle`, `sampler` and `dropLast`. */
  batchSampler?: BatchSamplerLike;
  /** Drop a last batch smaller than batchSize (e.g. a batch of one breaks BatchNorm in training). */
  dropLast?: boolean;
  /** Turns a list of samples into a batch; default `defaultCollate` (stacks into tensors). */
  collate?: (samples: T[]) => B | Promise<B>;
  /** Batches loaded ahead of the consumer, at most (default 2, or 2 per worker). */
  prefetch?: number;
  /** Worker threads loading batches in parallel (default 0: load on this thread). Map-style datasets only. */
  workers?: number;
  /** The module that builds the dataset inside each worker, when the dataset cannot describe itself. */
  workerDataset?: WorkerDatasetSpec;
  /** The worker script (defaults to the one shipped in this package's dist/). */
  workerScript?: string | URL;
  /**
   * Seconds to wait for one batch before failing (PyTorch `timeout`; default 0: wait forever).
   * A dataset whose `get` never settles otherwise hangs the loop; with workers they are then
   * terminated. On the main thread the stuck `get` cannot be cancelled, only abandoned.
   */
  timeout?: number;
}

const KNOWN = new Set([
  "batchSize",
  "shuffle",
  "seed",
  "sampler",
  "batchSampler",
  "dropLast",
  "collate",
  "prefetch",
  "workers",
  "workerDataset",
  "workerScript",
  "timeout",
]);

type Loaded<T> = { host: HostBatch } | { samples: T[] };

function fail(msg: string): never {
  throw new Error(`DataLoader: ${msg}`);
}

/** Up to 8 indices for a message: "[3, 9, 12]" or "[3, 9, ... 12] (40 samples)". */
export function listIndices(indices: readonly number[]): string {
  if (indices.length <= 8) return `[${indices.join(", ")}]`;
  return `[${indices.slice(0, 6).join(", ")}, ..., ${indices[indices.length - 1]}] (${indices.length} samples)`;
}

/** getMany whose errors name the batch and the sample index that failed, keeping the cause. */
async function getManyNamed<T>(
  ds: MapStyleDataset<T>,
  indices: readonly number[],
  seq: number,
): Promise<T[]> {
  return getMany(ds, indices).catch((e) => {
    throw sampleError(e, seq);
  });
}

/** Wraps an error from loading `indices` so that it names the batch (and the sample, when known). */
export function sampleError(e: unknown, seq: number): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  const where = (err as { sampleIndex?: number }).sampleIndex;
  const out = new Error(
    `DataLoader: batch ${seq}${where !== undefined ? `, sample ${where}` : ""}: ${err.message}`,
    { cause: err },
  );
  // Keep the original stack (where the dataset failed), under the new message.
  if (err.stack) out.stack = `${out.name}: ${out.message}\n${err.stack.split("\n").slice(1).join("\n")}`;
  return out;
}

function checkInt(v: unknown, name: string, min: number): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    fail(`${name} must be an integer >= ${min}, got ${String(v)}`);
  }
}

/**
 * Iterates a dataset in batches: `for await (const batch of loader)`. Every iteration is one
 * epoch; with `shuffle`, epoch e uses an order derived from (seed, e), so runs are reproducible
 * and `setEpoch(e)` restores a position (as PyTorch's DistributedSampler.set_epoch).
 */
export class DataLoader<T = unknown, B = Collated<T>> implements AsyncIterable<B> {
  readonly dataset: MapStyleDataset<T> | AsyncIterable<T>;
  readonly batchSize: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly workers: number;
  readonly seed: number | undefined;
  /** Seconds to wait for a batch (0: no limit). */
  readonly timeout: number;
  private readonly batchSampler: BatchSamplerLike | null;
  private readonly collateFn: ((samples: T[]) => B | Promise<B>) | undefined;
  private readonly workerDescriptor: WorkerDescriptor | null;
  private readonly workerScript: string | URL | undefined;
  private nextEpoch = 0;

  constructor(dataset: MapStyleDataset<T> | AsyncIterable<T>, opts: DataLoaderOptions<T, B> = {}) {
    if (typeof opts !== "object" || opts === null) fail("options must be an object");
    checkOptionKeys("DataLoader", opts, [...KNOWN]);
    const mapStyle = isMapStyle(dataset);
    if (!mapStyle && !(typeof (dataset as any)?.[Symbol.asyncIterator] === "function")) {
      fail("dataset must be map-style (length and get(i)) or an AsyncIterable");
    }
    checkInt(opts.batchSize, "batchSize", 1);
    checkInt(opts.prefetch, "prefetch", 1);
    checkInt(opts.workers, "workers", 0);
    checkInt(opts.seed, "seed", 0);
    if (opts.collate !== undefined && typeof opts.collate !== "function") fail("collate must be a function");
    if (
      opts.timeout !== undefined &&
      !(typeof opts.timeout === "number" && opts.timeout >= 0 && opts.timeout < 2 ** 31 / 1000)
    ) {
      fail(`timeout must be a number of seconds >= 0 (0: no timeout), got ${String(opts.timeout)}`);
    }
    if (opts.batchSampler) {
      const clash = (["batchSize", "shuffle", "sampler", "dropLast"] as const).filter(
        (k) => opts[k] !== undefined,
      );
      if (clash.length) {
        fail(
          `batchSampler already decides the batches; it cannot be combined with ${clash.join(", ")} (set those on the batch sampler instead)`,
        );
      }
    }
    if (opts.shuffle && opts.sampler) {
      fail(
        "shuffle cannot be combined with sampler (the sampler decides the order; use a RandomSampler to shuffle)",
      );
    }
    if (opts.seed !== undefined && !opts.shuffle) {
      fail("seed is only used with shuffle: true (pass the seed to your sampler instead)");
    }
    this.dataset = dataset;
    this.batchSize = opts.batchSize ?? 1;
    this.dropLast = opts.dropLast ?? false;
    this.workers = opts.workers ?? 0;
    this.prefetch = opts.prefetch ?? Math.max(2, 2 * this.workers);
    this.collateFn = opts.collate;
    this.workerScript = opts.workerScript;
    this.timeout = opts.timeout ?? 0;

    if (!mapStyle) {
      if (opts.shuffle || opts.sampler || opts.batchSampler) {
        const which = opts.shuffle ? "shuffle" : opts.sampler ? "sampler" : "batchSampler";
        fail(
          `${which} needs random access, which an iterable dataset does not have; shuffle the stream with dataset.shuffle(bufferSize, seed) instead`,
        );
      }
      if (this.workers > 0) {
        fail(
          "workers > 0 needs a map-style dataset; split an iterable source with dataset.shard(numShards, index) (one shard per process) or use workers: 0",
        );
      }
      this.batchSampler = null;
      this.seed = undefined;
    } else {
      const n = (dataset as MapStyleDataset<T>).length;
      if (!Number.isInteger(n) || n < 0) fail(`dataset length must be a non-negative integer, got ${n}`);
      this.seed = opts.shuffle ? (opts.seed ?? drawSeed()) : undefined;
      const sampler: Sampler =
        opts.sampler ?? (opts.shuffle ? new RandomSampler(n, { seed: this.seed }) : new SequentialSampler(n));
      this.batchSampler = opts.batchSampler ?? new BatchSampler(sampler, this.batchSize, this.dropLast);
    }

    this.workerDescriptor = null;
    if (this.workers > 0) {
      const hasNode = typeof process !== "undefined" && !!process.versions?.node;
      if (!hasNode && typeof (globalThis as any).Worker !== "function") {
        fail(
          "workers > 0 needs Node.js worker_threads or Web Workers, and neither is available here; use workers: 0",
        );
      }
      if (opts.workerDataset) {
        const spec = opts.workerDataset;
        if (!spec.module) fail("workerDataset.module must be a module URL or path");
        this.workerDescriptor = {
          kind: "module",
          module: String(spec.module instanceof URL ? spec.module.href : spec.module),
          export: spec.export ?? "default",
          args: spec.args ?? [],
        };
      } else {
        const d = describeDataset(dataset as MapStyleDataset);
        if (isReason(d)) {
          fail(
            `workers: ${this.workers} needs a dataset that each worker thread can rebuild, but ${d.reason}`,
          );
        }
        this.workerDescriptor = d;
      }
    }
  }

  /** Batches per epoch: ceil(N / batchSize), or floor with dropLast. Iterable datasets have none. */
  get length(): number {
    if (!this.batchSampler) {
      throw new Error("DataLoader: an iterable dataset has no length, so neither does its loader");
    }
    return this.batchSampler.length;
  }

  /** The epoch the next iteration will use (each iteration advances it by one). */
  get epoch(): number {
    return this.nextEpoch;
  }

  /** Makes the next iteration use epoch `e` (its order is then fixed by seed and e). */
  setEpoch(e: number): void {
    checkInt(e, "epoch", 0);
    this.nextEpoch = e;
  }

  [Symbol.asyncIterator](): AsyncIterator<B> {
    const epoch = this.nextEpoch++;
    return this.batchSampler ? this.iterateMap(epoch) : this.iterateStream(epoch);
  }

  private finish(l: Loaded<T>, pool: HostArrayPool | null): B | Promise<B> {
    if ("host" in l) {
      const out = hostBatchToTensors(l.host) as B;
      // The tensors hold copies now, so the next batches can reuse the host arrays.
      pool?.release(l.host);
      return out;
    }
    return this.collateFn!(l.samples);
  }

  private async *iterateMap(epoch: number): AsyncGenerator<B> {
    const ds = this.dataset as MapStyleDataset<T>;
    const batches = this.batchSampler!.batches(epoch)[Symbol.iterator]();
    let pool: WorkerPool | null = null;
    let hostPool: HostArrayPool | null = null;
    let load: (indices: readonly number[], seq: number) => Promise<Loaded<T>>;
    if (this.workers > 0) {
      const { WorkerPool } = await import("./workers/pool");
      pool = await WorkerPool.start(this.workers, this.workerDescriptor!, this.workerScript);
      if (pool.datasetLength !== ds.length) {
        await pool.terminate();
        fail(
          `the dataset rebuilt in the workers has length ${pool.datasetLength}, but the dataset given to the loader has length ${ds.length}`,
        );
      }
      const p = pool;
      const raw = !!this.collateFn;
      load = (indices, seq) => p.load(seq, indices, raw) as Promise<Loaded<T>>;
    } else if (this.collateFn) {
      load = async (indices, seq) => ({ samples: await getManyNamed(ds, indices, seq) });
    } else {
      // Batches of the default collate are built in recycled arrays (at most prefetch + 1 in use).
      const arrays = new HostArrayPool();
      hostPool = arrays;
      load = async (indices, seq) => {
        // Datasets that can collate a whole batch themselves (preloaded IDX files, zips of them)
        // skip the per-sample objects of getMany + collateHost.
        const direct = ds.getBatch?.(indices, arrays.alloc) ?? null;
        if (direct) return { host: direct };
        return { host: collateHost(await getManyNamed(ds, indices, seq), "", arrays.alloc) };
      };
    }
    if (this.timeout > 0) {
      const inner = load;
      const ms = this.timeout * 1000;
      load = (indices, seq) =>
        new Promise<Loaded<T>>((resolve, reject) => {
          const timer = setTimeout(() => {
            const where = pool ? `from worker ${seq % this.workers}` : "from the dataset";
            reject(
              new Error(
                `DataLoader: timed out after ${this.timeout} s waiting for batch ${seq} (samples ${listIndices(indices)}) ${where} (timeout: ${this.timeout})`,
              ),
            );
          }, ms);
          inner(indices, seq).then(
            (v) => {
              clearTimeout(timer);
              resolve(v);
            },
            (e) => {
              clearTimeout(timer);
              reject(e);
            },
          );
        });
    }
    const queue: Promise<Loaded<T>>[] = [];
    let seq = 0;
    const fill = () => {
      while (queue.length < this.prefetch) {
        const next = batches.next();
        if (next.done) return;
        const p = load(next.value, seq++);
        p.catch(() => {}); // awaited in order below; this only silences early unhandled-rejection reports
        queue.push(p);
      }
    };
    try {
      fill();
      while (queue.length > 0) {
        const loaded = await queue.shift()!;
        fill();
        yield await this.finish(loaded, hostPool);
      }
    } finally {
      if (pool) await pool.terminate();
    }
  }

  private async *iterateStream(epoch: number): AsyncGenerator<B> {
    const ds = this.dataset as AsyncIterable<T> & { iterate?: (e: number) => AsyncIterable<T> };
    const it = (typeof ds.iterate === "function" ? ds.iterate(epoch) : ds)[Symbol.asyncIterator]();
    let done = false;
    const readBatch = async (): Promise<T[]> => {
      const out: T[] = [];
      while (!done && out.length < this.batchSize) {
        const r = await it.next();
        if (r.done) done = true;
        else out.push(r.value);
      }
      return out;
    };
    // Batches are read ahead one after another (chained, so samples never interleave), at most
    // `prefetch` of them; collation waits until a batch is handed out.
    let tail: Promise<T[]> = Promise.resolve([]);
    const queue: Promise<T[]>[] = [];
    const fill = () => {
      while (!done && queue.length < this.prefetch) {
        tail = tail.then(readBatch);
        tail.catch(() => {});
        queue.push(tail);
      }
    };
    const arrays = this.collateFn ? null : new HostArrayPool();
    try {
      fill();
      while (queue.length > 0) {
        const samples = await queue.shift()!;
        if (samples.length === 0) break;
        if (samples.length < this.batchSize && this.dropLast) break;
        fill();
        yield arrays
          ? await this.finish({ host: collateHost(samples, "", arrays.alloc) }, arrays)
          : await this.collateFn!(samples);
      }
    } finally {
      if (!done) await it.return?.(undefined);
    }
  }
}
