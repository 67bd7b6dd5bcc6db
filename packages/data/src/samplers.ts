import { checkOptionKeys } from "@minibatch/tensor";
import { checkSeed, drawSeed, epochGenerator } from "./seeds";

/** Yields dataset indices for one epoch; `epoch` seeds random samplers. */
export interface Sampler {
  readonly length: number;
  indices(epoch: number): Iterable<number>;
}

/** Yields batches of dataset indices for one epoch. */
export interface BatchSamplerLike {
  readonly length: number;
  batches(epoch: number): Iterable<readonly number[]>;
}

function checkCount(n: number, what: string, who: string, min = 0): void {
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`${who}: ${what} must be an integer >= ${min}, got ${String(n)}`);
  }
}

/** 0, 1, ..., n-1. */
export class SequentialSampler implements Sampler {
  constructor(readonly length: number) {
    checkCount(length, "length", "SequentialSampler");
  }
  *indices(): Iterable<number> {
    for (let i = 0; i < this.length; i++) yield i;
  }
}

export interface RandomSamplerOptions {
  /** Draw with replacement (indices may repeat). Default false. */
  replacement?: boolean;
  /** Samples per epoch; default n. Without replacement and above n, permutations are chained. */
  numSamples?: number;
  seed?: number;
}

/** A random order of 0..n-1, a new one each epoch, reproducible from the seed. */
export class RandomSampler implements Sampler {
  readonly length: number;
  readonly seed: number;
  readonly replacement: boolean;
  constructor(
    readonly n: number,
    opts: RandomSamplerOptions = {},
  ) {
    checkCount(n, "the dataset length", "RandomSampler");
    checkOptionKeys("RandomSampler", opts, ["replacement", "numSamples", "seed"]);
    checkSeed(opts.seed, "RandomSampler");
    this.replacement = opts.replacement ?? false;
    this.length = opts.numSamples ?? n;
    checkCount(this.length, "numSamples", "RandomSampler");
    if (this.replacement && n === 0 && this.length > 0) {
      throw new Error("RandomSampler: cannot draw samples with replacement from an empty dataset");
    }
    this.seed = opts.seed ?? drawSeed();
  }
  *indices(epoch: number): Iterable<number> {
    const g = epochGenerator(this.seed, epoch);
    if (this.replacement) {
      for (let i = 0; i < this.length; i++) yield Math.floor(g.random() * this.n);
      return;
    }
    let left = this.length;
    while (left > 0 && this.n > 0) {
      const p = g.permutation(this.n);
      const k = Math.min(left, this.n);
      for (let i = 0; i < k; i++) yield p[i];
      left -= k;
    }
  }
}

/** A random order of the given indices (e.g. a validation split of one dataset). */
export class SubsetRandomSampler implements Sampler {
  readonly subset: Int32Array;
  readonly seed: number;
  constructor(indices: ArrayLike<number>, opts: { seed?: number } = {}) {
    checkOptionKeys("SubsetRandomSampler", opts, ["seed"]);
    checkSeed(opts.seed, "SubsetRandomSampler");
    this.subset = Int32Array.from(indices);
    this.seed = opts.seed ?? drawSeed();
  }
  get length(): number {
    return this.subset.length;
  }
  *indices(epoch: number): Iterable<number> {
    const p = epochGenerator(this.seed, epoch).permutation(this.subset.length);
    for (let i = 0; i < p.length; i++) yield this.subset[p[i]];
  }
}

/** Draws index i with probability weights[i] / sum(weights) (e.g. to balance classes). */
export class WeightedRandomSampler implements Sampler {
  readonly weights: Float64Array;
  readonly seed: number;
  readonly replacement: boolean;
  private readonly cdf: Float64Array;
  constructor(
    weights: ArrayLike<number>,
    readonly length: number,
    opts: { replacement?: boolean; seed?: number } = {},
  ) {
    checkCount(length, "numSamples", "WeightedRandomSampler");
    checkOptionKeys("WeightedRandomSampler", opts, ["replacement", "seed"]);
    checkSeed(opts.seed, "WeightedRandomSampler");
    this.weights = Float64Array.from(weights);
    this.replacement = opts.replacement ?? true;
    this.cdf = new Float64Array(this.weights.length);
    let total = 0;
    let positive = 0;
    this.weights.forEach((w, i) => {
      if (!(w >= 0) || !Number.isFinite(w)) {
        throw new Error(`WeightedRandomSampler: weights must be finite and >= 0, weight ${i} is ${w}`);
      }
      if (w > 0) positive++;
      total += w;
      this.cdf[i] = total;
    });
    if (length > 0 && total === 0) throw new Error("WeightedRandomSampler: all weights are zero");
    if (!this.replacement && length > positive) {
      throw new Error(
        `WeightedRandomSampler: cannot draw ${length} samples without replacement from ${positive} indices with positive weight`,
      );
    }
    this.seed = opts.seed ?? drawSeed();
  }
  *indices(epoch: number): Iterable<number> {
    const g = epochGenerator(this.seed, epoch);
    const cdf = this.cdf;
    const total = cdf[cdf.length - 1];
    if (this.replacement) {
      for (let k = 0; k < this.length; k++) {
        const u = g.random() * total;
        let lo = 0;
        let hi = cdf.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cdf[mid] > u) hi = mid;
          else lo = mid + 1;
        }
        yield lo;
      }
      return;
    }
    // Without replacement: the largest keys u^(1/w) form a weighted sample (Efraimidis-Spirakis).
    const keys: { i: number; key: number }[] = [];
    this.weights.forEach((w, i) => {
      if (w > 0) keys.push({ i, key: Math.log(g.random() || Number.MIN_VALUE) / w });
    });
    keys.sort((a, b) => b.key - a.key);
    for (let k = 0; k < this.length; k++) yield keys[k].i;
  }
}

/** Groups a sampler's indices into batches of `batchSize` (the last may be short unless dropLast). */
export class BatchSampler implements BatchSamplerLike {
  constructor(
    readonly sampler: Sampler,
    readonly batchSize: number,
    readonly dropLast = false,
  ) {
    checkCount(batchSize, "batchSize", "BatchSampler", 1);
  }
  get length(): number {
    const n = this.sampler.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }
  *batches(epoch: number): Iterable<number[]> {
    let batch: number[] = [];
    for (const i of this.sampler.indices(epoch)) {
      batch.push(i);
      if (batch.length === this.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
}

export interface ShardSamplerOptions {
  /** Number of shards (workers, processes or machines). */
  numShards: number;
  /** This shard, in [0, numShards). */
  shardIndex: number;
  /** Shuffle before sharding; every shard must use the same seed to stay disjoint. Default false. */
  shuffle?: boolean;
  seed?: number;
  /**
   * When n is not divisible by numShards, drop the tail so every shard has the same length
   * (PyTorch's DistributedSampler pads with repeated indices instead; this never duplicates).
   */
  dropUneven?: boolean;
}

/**
 * The part of 0..n-1 that belongs to one shard: shard k takes positions k, k + numShards, ...
 * of the (optionally shuffled) order, so shards never overlap and together cover every index.
 * Call the loader's `setEpoch` (or pass the epoch) on every shard alike.
 */
export class ShardSampler implements Sampler {
  readonly numShards: number;
  readonly shardIndex: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropUneven: boolean;
  constructor(
    readonly n: number,
    opts: ShardSamplerOptions,
  ) {
    checkCount(n, "the dataset length", "ShardSampler");
    checkOptionKeys("ShardSampler", opts, ["numShards", "shardIndex", "shuffle", "seed", "dropUneven"]);
    checkCount(opts.numShards, "numShards", "ShardSampler", 1);
    if (!Number.isInteger(opts.shardIndex) || opts.shardIndex < 0 || opts.shardIndex >= opts.numShards) {
      throw new Error(
        `ShardSampler: shardIndex must be an integer in [0, ${opts.numShards - 1}], got ${opts.shardIndex}`,
      );
    }
    checkSeed(opts.seed, "ShardSampler");
    if (opts.shuffle && opts.seed === undefined) {
      throw new Error(
        "ShardSampler: shuffle needs an explicit seed, shared by every shard, or shards would overlap",
      );
    }
    this.numShards = opts.numShards;
    this.shardIndex = opts.shardIndex;
    this.shuffle = opts.shuffle ?? false;
    this.seed = opts.seed ?? 0;
    this.dropUneven = opts.dropUneven ?? false;
  }
  get length(): number {
    const { n, numShards, shardIndex } = this;
    if (this.dropUneven) return Math.floor(n / numShards);
    return Math.floor(n / numShards) + (shardIndex < n % numShards ? 1 : 0);
  }
  *indices(epoch: number): Iterable<number> {
    const order = this.shuffle ? epochGenerator(this.seed, epoch).permutation(this.n) : null;
    const end = this.dropUneven ? Math.floor(this.n / this.numShards) * this.numShards : this.n;
    for (let p = this.shardIndex; p < end; p += this.numShards) yield order ? order[p] : p;
  }
}
