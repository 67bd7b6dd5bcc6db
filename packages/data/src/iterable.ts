import { checkSeed, drawSeed, epochGenerator } from "./seeds";

type Source<T> = (epoch: number) => AsyncIterable<T> | Iterable<T>;

/**
 * An iterable (streaming) dataset: no length, no random access. Every pass re-opens the source,
 * so it can be iterated once per epoch. Transforms are lazy.
 */
export class IterableDataset<T = unknown> implements AsyncIterable<T> {
  private passes = 0;
  constructor(private readonly source: Source<T>) {}

  /** Wraps an iterable; a one-shot async generator can only be iterated once. */
  static from<T>(
    src: AsyncIterable<T> | Iterable<T> | (() => AsyncIterable<T> | Iterable<T>),
  ): IterableDataset<T> {
    if (typeof src === "function") return new IterableDataset(() => src());
    return new IterableDataset(() => src);
  }

  /** Iterates pass `epoch` (which seeds `shuffle`); the DataLoader calls this with its epoch. */
  async *iterate(epoch: number): AsyncGenerator<T> {
    yield* this.source(epoch) as AsyncIterable<T>;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterate(this.passes++);
  }

  map<U>(fn: (sample: T, index: number) => U | Promise<U>): IterableDataset<Awaited<U>> {
    const src = this;
    return new IterableDataset(async function* (epoch: number) {
      let i = 0;
      for await (const s of src.iterate(epoch)) yield await fn(s, i++);
    });
  }

  filter(pred: (sample: T, index: number) => boolean | Promise<boolean>): IterableDataset<T> {
    const src = this;
    return new IterableDataset(async function* (epoch: number) {
      let i = 0;
      for await (const s of src.iterate(epoch)) if (await pred(s, i++)) yield s;
    });
  }

  take(n: number): IterableDataset<T> {
    const src = this;
    return new IterableDataset(async function* (epoch: number) {
      if (n <= 0) return;
      let i = 0;
      for await (const s of src.iterate(epoch)) {
        yield s;
        if (++i >= n) return;
      }
    });
  }

  skip(n: number): IterableDataset<T> {
    const src = this;
    return new IterableDataset(async function* (epoch: number) {
      let i = 0;
      for await (const s of src.iterate(epoch)) if (i++ >= n) yield s;
    });
  }

  /**
   * Keeps every `numShards`-th sample starting at `index`, so shards read by different workers
   * or machines never overlap (each still reads the whole source).
   */
  shard(numShards: number, index: number): IterableDataset<T> {
    if (!Number.isInteger(numShards) || numShards < 1) {
      throw new Error(`shard: numShards must be a positive integer, got ${numShards}`);
    }
    if (!Number.isInteger(index) || index < 0 || index >= numShards) {
      throw new Error(`shard: index must be an integer in [0, ${numShards - 1}], got ${index}`);
    }
    return this.filter((_, i) => i % numShards === index);
  }

  /**
   * Approximate shuffle through a buffer of `bufferSize` samples (as tf.data): each output is
   * drawn at random from the buffer and replaced by the next input. A buffer at least as large as
   * the dataset gives a uniform shuffle. Each pass uses a new order derived from the seed.
   */
  shuffle(bufferSize: number, seed?: number): IterableDataset<T> {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new Error(`shuffle: bufferSize must be a positive integer, got ${bufferSize}`);
    }
    checkSeed(seed, "shuffle");
    const base = seed ?? drawSeed();
    const src = this;
    return new IterableDataset(async function* (epoch: number) {
      const g = epochGenerator(base, epoch);
      const buf: T[] = [];
      for await (const s of src.iterate(epoch)) {
        if (buf.length < bufferSize) {
          buf.push(s);
          continue;
        }
        const j = Math.floor(g.random() * bufferSize);
        const out = buf[j];
        buf[j] = s;
        yield out;
      }
      while (buf.length > 0) {
        const j = Math.floor(g.random() * buf.length);
        const out = buf[j];
        buf[j] = buf[buf.length - 1];
        buf.pop();
        yield out;
      }
    });
  }

  /** Collects every sample (for small data and tests). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const s of this) out.push(s);
    return out;
  }
}

export function isIterableDataset(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === "object" && x !== null && typeof (x as any)[Symbol.asyncIterator] === "function";
}
