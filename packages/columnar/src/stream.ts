import { DistributedSampler, epochGenerator, IterableDataset } from "@minibatch/data";
import { checkOptionKeys } from "@minibatch/tensor";
import type { ColumnBlock, ParquetFile, RowGroupInfo } from "./file";
import {
  type ColumnBatch,
  gatherBatch,
  OPEN_OPTIONS,
  type OpenOptions,
  openFiles,
  type ParquetRow,
  rowOf,
  totalStats,
} from "./files";
import type { ParquetSource, ReadStats } from "./source";

export interface ParquetStreamOptions extends OpenOptions {
  /** A new order of the shards every epoch, and of the rows inside each window (default false). */
  shuffle?: boolean;
  /** Shared by every rank (default 0). */
  seed?: number;
  /** Ranks (processes or workers) sharing the data (default 1). */
  numReplicas?: number;
  /** This rank (default 0). */
  rank?: number;
  /**
   * Shards of the data set: 'rowGroup' (default) or 'file' (all of a file's row groups). They
   * are split over the ranks as PyTorch's DistributedSampler splits samples.
   */
  shardBy?: "rowGroup" | "file";
  /** Drop trailing shards so ranks get the same number of shards (default false: repeat some). */
  dropLast?: boolean;
  /** Row groups whose rows are shuffled together (default 1): more mixing, more memory. */
  shuffleWindow?: number;
  /** Windows read ahead while the current one is consumed (default 1; 0 reads on demand). */
  prefetch?: number;
}

const STREAM_OPTIONS = [
  ...OPEN_OPTIONS,
  "shuffle",
  "seed",
  "numReplicas",
  "rank",
  "shardBy",
  "dropLast",
  "shuffleWindow",
  "prefetch",
];

function nonNegInt(v: unknown, name: string, min = 0): number {
  if (!Number.isInteger(v) || (v as number) < min) {
    throw new Error(`ParquetStream: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v as number;
}

/**
 * Streams the rows of Parquet files with bounded memory: at most
 * `shuffleWindow * (1 + prefetch)` row groups are decoded at a time, whatever the size of the
 * data set. Each epoch, the shards (row groups or files, after `rowGroupFilter`) are ordered by a
 * seeded shuffle and split over the ranks with DistributedSampler's semantics, so ranks read
 * disjoint shards (up to the padding repeats); rows are shuffled inside each window of
 * `shuffleWindow` row groups. Pass it to a DataLoader, which calls `iterate(epoch)`.
 */
export class ParquetStream extends IterableDataset<ParquetRow> {
  /** Decoded row groups alive right now, and the most there ever were (the memory bound). */
  liveRowGroups = 0;
  peakLiveRowGroups = 0;

  private constructor(
    readonly files: ParquetFile[],
    readonly columns: string[],
    readonly rowGroups: RowGroupInfo[],
    private readonly opts: Required<
      Pick<
        ParquetStreamOptions,
        "shuffle" | "seed" | "numReplicas" | "rank" | "shardBy" | "dropLast" | "shuffleWindow" | "prefetch"
      >
    >,
  ) {
    super((epoch) => this.rows(epoch));
  }

  static async open(
    sources: ParquetSource | ParquetSource[],
    opts: ParquetStreamOptions = {},
  ): Promise<ParquetStream> {
    checkOptionKeys("ParquetStream", opts, STREAM_OPTIONS);
    const numReplicas = nonNegInt(opts.numReplicas ?? 1, "numReplicas", 1);
    const rank = nonNegInt(opts.rank ?? 0, "rank");
    if (rank >= numReplicas) {
      throw new Error(`ParquetStream: rank must be an integer in [0, ${numReplicas - 1}], got ${rank}`);
    }
    const shardBy = opts.shardBy ?? "rowGroup";
    if (shardBy !== "rowGroup" && shardBy !== "file") {
      throw new Error(`ParquetStream: shardBy must be 'rowGroup' or 'file', got ${String(shardBy)}`);
    }
    const o = {
      shuffle: opts.shuffle ?? false,
      seed: nonNegInt(opts.seed ?? 0, "seed"),
      numReplicas,
      rank,
      shardBy,
      dropLast: opts.dropLast ?? false,
      shuffleWindow: nonNegInt(opts.shuffleWindow ?? 1, "shuffleWindow", 1),
      prefetch: nonNegInt(opts.prefetch ?? 1, "prefetch"),
    } as const;
    const set = await openFiles(sources, opts, "ParquetStream");
    return new ParquetStream(set.files, set.columns, set.rowGroups, o);
  }

  /** Requests and bytes read from every file so far. */
  get stats(): ReadStats {
    return totalStats(this.files);
  }

  /** The shards of the data set: one row group each, or each file's kept row groups. */
  private shards(): RowGroupInfo[][] {
    if (this.opts.shardBy === "rowGroup") return this.rowGroups.map((rg) => [rg]);
    return this.files.map((_, f) => this.rowGroups.filter((rg) => rg.file === f)).filter((s) => s.length > 0);
  }

  /** The row groups this rank reads in `epoch`, in reading order. */
  plan(epoch: number): RowGroupInfo[] {
    const shards = this.shards();
    const o = this.opts;
    const sampler = new DistributedSampler(shards.length, {
      numReplicas: o.numReplicas,
      rank: o.rank,
      shuffle: o.shuffle,
      seed: o.seed,
      dropLast: o.dropLast,
    });
    return [...sampler.indices(epoch)].flatMap((i) => shards[i]);
  }

  /** Rows this rank reads in `epoch`. */
  rowsInEpoch(epoch: number): number {
    return this.plan(epoch).reduce((s, rg) => s + rg.numRows, 0);
  }

  private async *rows(epoch: number): AsyncGenerator<ParquetRow> {
    for await (const { blocks, refs } of this.windows(epoch)) {
      for (const { j, r } of refs) yield rowOf(blocks[j], this.columns, r);
    }
  }

  /**
   * Batches of up to `batchSize` rows column by column (FLOAT columns as Float32Array, DOUBLE as
   * Float64Array, INT32 as Int32Array), in the same order as `iterate(epoch)` yields rows: the
   * fast path for training, with no object per row. The last batch of each window may be short
   * unless the window's rows divide evenly; batches never span windows, so memory stays bounded.
   */
  async *batches(epoch: number, batchSize: number): AsyncGenerator<ColumnBatch> {
    nonNegInt(batchSize, "batchSize", 1);
    const types = this.files[0].types;
    for await (const { blocks, refs } of this.windows(epoch)) {
      for (let i = 0; i < refs.length; i += batchSize) {
        yield gatherBatch(blocks, refs.slice(i, i + batchSize), this.columns, types);
      }
    }
  }

  /** The decoded row groups of each window and the order of their rows. */
  private async *windows(
    epoch: number,
  ): AsyncGenerator<{ blocks: ColumnBlock[]; refs: { j: number; r: number }[] }> {
    const plan = this.plan(epoch);
    const o = this.opts;
    const win = o.shuffleWindow;
    const windows: RowGroupInfo[][] = [];
    for (let i = 0; i < plan.length; i += win) windows.push(plan.slice(i, i + win));
    // Row order inside windows: its own stream per rank, so ranks do not share a row pattern.
    const g = epochGenerator((o.seed + 0x9e3779b9 * (o.rank + 1)) % 2 ** 32, epoch);
    const read = (w: RowGroupInfo[]) =>
      Promise.all(
        w.map(async (rg) => {
          const block = await this.files[rg.file].readRowGroup(rg.rowGroup, this.columns);
          this.liveRowGroups++;
          this.peakLiveRowGroups = Math.max(this.peakLiveRowGroups, this.liveRowGroups);
          return { rg, block };
        }),
      );
    const ahead: Promise<{ rg: RowGroupInfo; block: ColumnBlock }[]>[] = [];
    let next = 0;
    try {
      for (let k = 0; k < windows.length; k++) {
        while (next < windows.length && next <= k + o.prefetch) ahead.push(read(windows[next++]));
        let blocks: { rg: RowGroupInfo; block: ColumnBlock }[] | null = await ahead.shift()!;
        const refs: { j: number; r: number }[] = [];
        blocks.forEach((b, j) => {
          for (let r = 0; r < b.rg.numRows; r++) refs.push({ j, r });
        });
        const order = o.shuffle ? g.permutation(refs.length) : null;
        yield {
          blocks: blocks.map((b) => b.block),
          refs: order ? Array.from(order, (k) => refs[k]) : refs,
        };
        this.liveRowGroups -= blocks.length;
        blocks = null;
      }
    } finally {
      // An early stop still settles the reads in flight (and their counts).
      for (const p of ahead) {
        const blocks = await p.catch(() => []);
        this.liveRowGroups -= blocks.length;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}
