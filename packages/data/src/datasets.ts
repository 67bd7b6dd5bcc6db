import type { HostAlloc, HostBatch } from "./collate-host";
import type { Describe, WorkerDescriptor } from "./workers/descriptor";
import { isReason } from "./workers/descriptor";

/** A map-style dataset: a length and random access by index (sync or async). */
export interface MapStyleDataset<T = unknown> {
  readonly length: number;
  get(index: number): T | Promise<T>;
  /** Optional bulk read (e.g. one file read for a run of records); must equal mapping `get`. */
  getMany?(indices: readonly number[]): T[] | Promise<T[]>;
  /** How to rebuild this dataset in a worker thread, or why it cannot be. */
  describe?(): Describe;
  /**
   * Optional fast path of the default collate: the collated host batch of these samples, equal to
   * `collateHost(getMany(indices))`, or null when this dataset cannot build it cheaply right now.
   * Output arrays come from `alloc` when given (the DataLoader recycles them between batches, so
   * they may hold old values: write every element).
   */
  getBatch?(indices: readonly number[], alloc?: HostAlloc): HostBatch | null;
}

export function isMapStyle(x: unknown): x is MapStyleDataset {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as MapStyleDataset).get === "function" &&
    typeof (x as MapStyleDataset).length === "number"
  );
}

function checkIndex(i: number, n: number, name: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    throw new RangeError(`${name}: index ${i} is out of range for a dataset of length ${n}`);
  }
}

/** Reads many samples, using the dataset's bulk read when it has one. */
export async function getMany<T>(ds: MapStyleDataset<T>, indices: readonly number[]): Promise<T[]> {
  if (ds.getMany) return await ds.getMany(indices);
  const out = new Array<T | Promise<T>>(indices.length);
  let async = false;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    let v: T | Promise<T>;
    try {
      v = ds.get(i);
    } catch (e) {
      throw tagSample(e, i);
    }
    if (v instanceof Promise) {
      async = true;
      v = v.catch((e) => {
        throw tagSample(e, i);
      });
    }
    out[j] = v;
  }
  return async ? await Promise.all(out) : (out as T[]);
}

/**
 * Records which sample failed on the error, so that the loader can name it; the outermost dataset
 * writes last, so the index is the one the loader asked for. The error is passed on unchanged.
 */
function tagSample(e: unknown, index: number): unknown {
  if (e instanceof Error) (e as { sampleIndex?: number }).sampleIndex = index;
  return e;
}

export function describeDataset(ds: MapStyleDataset): Describe {
  if (ds.describe) return ds.describe();
  return {
    reason: `${ds.constructor?.name ?? "this dataset"} does not describe how to rebuild itself in a worker thread`,
  };
}

/** Base class with lazy transforms; subclasses implement `length` and `get`. */
export abstract class Dataset<T = unknown> implements MapStyleDataset<T> {
  abstract readonly length: number;
  abstract get(index: number): T | Promise<T>;

  describe(): Describe {
    return { reason: `${this.constructor.name} does not describe how to rebuild itself in a worker thread` };
  }

  /** Applies `fn` to every sample when it is read (nothing is computed up front). */
  map<U>(fn: (sample: T, index: number) => U | Promise<U>): Dataset<Awaited<U>> {
    return new MappedDataset(this, fn);
  }

  /** The first `n` samples (or fewer when the dataset is shorter). */
  take(n: number): Dataset<T> {
    const len = Math.max(0, Math.min(n, this.length));
    return Subset.range(this, 0, len);
  }

  /** All but the first `n` samples. */
  skip(n: number): Dataset<T> {
    const start = Math.max(0, Math.min(n, this.length));
    return Subset.range(this, start, this.length);
  }

  /** Streams the samples in index order as an iterable dataset. */
  toIterable(): IterableDatasetLike<T> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < self.length; i++) yield await self.get(i);
      },
    };
  }
}

/** Structural type of an iterable dataset (defined fully in iterable.ts). */
export interface IterableDatasetLike<T> {
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

/** Samples held in a JavaScript array. */
export class ArrayDataset<T> extends Dataset<T> {
  constructor(readonly items: readonly T[]) {
    super();
  }
  get length(): number {
    return this.items.length;
  }
  get(i: number): T {
    checkIndex(i, this.items.length, "ArrayDataset");
    return this.items[i];
  }
  override describe(): Describe {
    return {
      reason:
        "ArrayDataset holds its samples in this thread's memory, so workers would only copy them; use workers: 0, or build the samples in a module and pass workerDataset: { module, export }",
    };
  }
}

/** A lazily mapped dataset. */
export class MappedDataset<S, T> extends Dataset<Awaited<T>> {
  constructor(
    readonly source: MapStyleDataset<S>,
    readonly fn: (sample: S, index: number) => T | Promise<T>,
  ) {
    super();
  }
  get length(): number {
    return this.source.length;
  }
  get(i: number): Awaited<T> | Promise<Awaited<T>> {
    const s = this.source.get(i);
    if (s instanceof Promise) return s.then((v) => this.fn(v, i)) as Promise<Awaited<T>>;
    return this.fn(s, i) as Awaited<T>;
  }
  async getMany(indices: readonly number[]): Promise<Awaited<T>[]> {
    const src = await getMany(this.source, indices);
    return Promise.all(src.map((s, j) => this.fn(s, indices[j]))) as Promise<Awaited<T>[]>;
  }
  override describe(): Describe {
    return {
      reason:
        ".map() holds a JavaScript function, which cannot be sent to a worker thread; define the dataset (with its map) in a module and pass workerDataset: { module, export }, or use workers: 0",
    };
  }
}

/** The samples of `source` at the given indices, in that order. */
export class Subset<T> extends Dataset<T> {
  readonly indices: Int32Array;
  constructor(
    readonly source: MapStyleDataset<T>,
    indices: ArrayLike<number>,
  ) {
    super();
    this.indices = Int32Array.from(indices);
    for (const i of this.indices) checkIndex(i, source.length, "Subset");
  }
  static range<T>(source: MapStyleDataset<T>, start: number, end: number): Subset<T> {
    const idx = new Int32Array(Math.max(0, end - start));
    for (let i = 0; i < idx.length; i++) idx[i] = start + i;
    return new Subset(source, idx);
  }
  get length(): number {
    return this.indices.length;
  }
  get(i: number): T | Promise<T> {
    checkIndex(i, this.indices.length, "Subset");
    return this.source.get(this.indices[i]);
  }
  getMany(indices: readonly number[]): Promise<T[]> {
    return getMany(
      this.source,
      indices.map((i) => {
        checkIndex(i, this.indices.length, "Subset");
        return this.indices[i];
      }),
    );
  }
  override describe(): Describe {
    const of = describeDataset(this.source);
    if (isReason(of)) return of;
    return { kind: "subset", of, indices: [...this.indices] };
  }
}

/** Several datasets one after another. */
export class ConcatDataset<T> extends Dataset<T> {
  private readonly offsets: number[];
  constructor(readonly datasets: readonly MapStyleDataset<T>[]) {
    super();
    this.offsets = [0];
    for (const d of datasets) this.offsets.push(this.offsets[this.offsets.length - 1] + d.length);
  }
  get length(): number {
    return this.offsets[this.offsets.length - 1];
  }
  private locate(i: number): [number, number] {
    checkIndex(i, this.length, "ConcatDataset");
    let lo = 0;
    let hi = this.datasets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return [lo, i - this.offsets[lo]];
  }
  get(i: number): T | Promise<T> {
    const [d, j] = this.locate(i);
    return this.datasets[d].get(j);
  }
  override describe(): Describe {
    const of: WorkerDescriptor[] = [];
    for (const d of this.datasets) {
      const x = describeDataset(d);
      if (isReason(x)) return x;
      of.push(x);
    }
    return { kind: "concat", of };
  }
}

/**
 * Pairs up datasets of equal length: sample i is the tuple of their i-th samples, or a record
 * when `keys` are given (e.g. images and labels read from two IDX files).
 */
export class ZipDataset<T = unknown> extends Dataset<T> {
  constructor(
    readonly datasets: readonly MapStyleDataset[],
    readonly keys?: readonly string[],
  ) {
    super();
    if (datasets.length === 0) throw new Error("ZipDataset: expected at least one dataset");
    const n = datasets[0].length;
    datasets.forEach((d, k) => {
      if (d.length !== n) {
        throw new Error(`ZipDataset: dataset ${k} has length ${d.length} but dataset 0 has length ${n}`);
      }
    });
    if (keys && keys.length !== datasets.length) {
      throw new Error(`ZipDataset: ${keys.length} keys given for ${datasets.length} datasets`);
    }
  }
  get length(): number {
    return this.datasets[0].length;
  }
  private combine(parts: unknown[]): T {
    if (!this.keys) return parts as T;
    const out: Record<string, unknown> = {};
    this.keys.forEach((k, j) => {
      out[k] = parts[j];
    });
    return out as T;
  }
  get(i: number): T | Promise<T> {
    checkIndex(i, this.length, "ZipDataset");
    const parts = this.datasets.map((d) => d.get(i));
    if (parts.some((p) => p instanceof Promise)) return Promise.all(parts).then((p) => this.combine(p));
    return this.combine(parts);
  }
  getBatch(indices: readonly number[], alloc?: HostAlloc): HostBatch | null {
    const parts: HostBatch[] = [];
    for (const d of this.datasets) {
      const p = d.getBatch?.(indices, alloc);
      if (!p) return null;
      parts.push(p);
    }
    if (!this.keys) return { k: "tuple", items: parts };
    const fields: Record<string, HostBatch> = {};
    this.keys.forEach((k, j) => {
      fields[k] = parts[j];
    });
    return { k: "record", fields };
  }
  async getMany(indices: readonly number[]): Promise<T[]> {
    const cols = await Promise.all(this.datasets.map((d) => getMany(d, indices)));
    return indices.map((_, j) => this.combine(cols.map((c) => c[j])));
  }
  override describe(): Describe {
    const of: WorkerDescriptor[] = [];
    for (const d of this.datasets) {
      const x = describeDataset(d);
      if (isReason(x)) return x;
      of.push(x);
    }
    return { kind: "zip", of, keys: this.keys ? [...this.keys] : undefined };
  }
}
