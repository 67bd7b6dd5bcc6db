import { checkOptionKeys } from "@minibatch/tensor";
import type { Sampler } from "./samplers";
import { checkSeed, epochGenerator } from "./seeds";

export interface DistributedSamplerOptions {
  /** Number of ranks (processes, machines or workers) sharing the data set. */
  numReplicas: number;
  /** This rank, in [0, numReplicas). */
  rank: number;
  /** A new random order every epoch (default true, as in PyTorch). */
  shuffle?: boolean;
  /** Shared by every rank (default 0); the order of epoch e depends on (seed, epoch). */
  seed?: number;
  /** Drop the tail so ranks have equal length without repeats (default false: pad by repeating). */
  dropLast?: boolean;
}

const OPTION_NAMES = ["numReplicas", "rank", "shuffle", "seed", "dropLast"];

/**
 * PyTorch's `DistributedSampler`: every rank gets `ceil(n / numReplicas)` indices (or
 * `floor` with `dropLast`), rank r taking positions r, r + numReplicas, ... of the epoch's order.
 * Without `dropLast` the order is padded by repeating its start, so each rank has the same number
 * of samples (some appear twice in an epoch); with it, the tail is dropped. Ranks never overlap
 * otherwise. The shuffled order comes from this library's generator, not PyTorch's: the same
 * seed gives the same order here on every rank, not the order torch.randperm would give.
 * Pass the epoch to `indices(epoch)` (the DataLoader's `setEpoch`) on every rank alike.
 */
export class DistributedSampler implements Sampler {
  readonly numReplicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** Indices per rank per epoch. */
  readonly length: number;
  /** length * numReplicas. */
  readonly totalSize: number;

  constructor(
    readonly n: number,
    opts: DistributedSamplerOptions,
  ) {
    const who = "DistributedSampler";
    checkOptionKeys(who, opts, OPTION_NAMES);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`${who}: the dataset length must be an integer >= 0, got ${n}`);
    if (!Number.isInteger(opts.numReplicas) || opts.numReplicas < 1) {
      throw new Error(`${who}: numReplicas must be an integer >= 1, got ${String(opts.numReplicas)}`);
    }
    if (!Number.isInteger(opts.rank) || opts.rank < 0 || opts.rank >= opts.numReplicas) {
      throw new Error(
        `${who}: rank must be an integer in [0, ${opts.numReplicas - 1}], got ${String(opts.rank)}`,
      );
    }
    checkSeed(opts.seed, who);
    this.numReplicas = opts.numReplicas;
    this.rank = opts.rank;
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
    const r = this.numReplicas;
    this.length = Math.max(0, this.dropLast && n % r !== 0 ? Math.ceil((n - r) / r) : Math.ceil(n / r));
    this.totalSize = this.length * r;
  }

  /** The whole epoch's order after padding or dropping, before it is split over the ranks. */
  epochOrder(epoch: number): Int32Array {
    const n = this.n;
    const base = this.shuffle
      ? Int32Array.from(epochGenerator(this.seed, epoch).permutation(n))
      : Int32Array.from({ length: n }, (_, i) => i);
    const out = new Int32Array(this.totalSize);
    if (this.totalSize <= n) {
      out.set(base.subarray(0, this.totalSize));
    } else if (n > 0) {
      // Padding repeats the order from its start, as many times as needed.
      for (let i = 0; i < this.totalSize; i++) out[i] = base[i % n];
    }
    return out;
  }

  *indices(epoch: number): Iterable<number> {
    const order = this.epochOrder(epoch);
    for (let p = this.rank; p < this.totalSize; p += this.numReplicas) yield order[p];
  }
}
