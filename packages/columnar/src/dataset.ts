import { Dataset } from "@minibatch/data";
import { checkOptionKeys } from "@minibatch/tensor";
import type { ColumnBlock, ParquetFile, RowGroupInfo } from "./file";
import { OPEN_OPTIONS, type OpenOptions, openFiles, type ParquetRow, rowOf, totalStats } from "./files";
import type { ParquetSource, ReadStats } from "./source";

export interface ParquetDatasetOptions extends OpenOptions {
  /** Decoded row groups kept for reuse (default 2); memory is bounded by this many row groups. */
  cacheRowGroups?: number;
}

/**
 * Map-style access by row to one or more Parquet files (local paths, http(s) URLs read with
 * range requests, or AsyncBuffers), through hyparquet. Rows are numbered across the files in
 * order, over the row groups `rowGroupFilter` keeps. Reading a row decodes its whole row group
 * (the unit Parquet compresses), so the most recent `cacheRowGroups` row groups are cached:
 * random access to a large file is best done with a sampler that visits rows group by group, or
 * with `ParquetStream`.
 */
export class ParquetDataset extends Dataset<ParquetRow> {
  readonly length: number;
  private readonly starts: number[];
  private readonly cache = new Map<RowGroupInfo, Promise<ColumnBlock>>();

  private constructor(
    readonly files: ParquetFile[],
    readonly columns: string[],
    readonly rowGroups: RowGroupInfo[],
    private readonly cacheSize: number,
  ) {
    super();
    this.starts = [];
    let n = 0;
    for (const rg of rowGroups) {
      this.starts.push(n);
      n += rg.numRows;
    }
    this.length = n;
  }

  static async open(
    sources: ParquetSource | ParquetSource[],
    opts: ParquetDatasetOptions = {},
  ): Promise<ParquetDataset> {
    checkOptionKeys("ParquetDataset", opts, [...OPEN_OPTIONS, "cacheRowGroups"]);
    const cacheSize = opts.cacheRowGroups ?? 2;
    if (!Number.isInteger(cacheSize) || cacheSize < 1) {
      throw new Error(`ParquetDataset: cacheRowGroups must be an integer >= 1, got ${String(cacheSize)}`);
    }
    const set = await openFiles(sources, opts, "ParquetDataset");
    return new ParquetDataset(set.files, set.columns, set.rowGroups, cacheSize);
  }

  /** Requests and bytes read from every file so far. */
  get stats(): ReadStats {
    return totalStats(this.files);
  }

  /** The row group holding row `i` and the row's position in it. */
  locate(i: number): { rowGroup: RowGroupInfo; offset: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(
        `ParquetDataset: index ${i} is out of range for a dataset of length ${this.length}`,
      );
    }
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return { rowGroup: this.rowGroups[lo], offset: i - this.starts[lo] };
  }

  private block(rg: RowGroupInfo): Promise<ColumnBlock> {
    let p = this.cache.get(rg);
    if (p) {
      // Most recently used last.
      this.cache.delete(rg);
      this.cache.set(rg, p);
      return p;
    }
    p = this.files[rg.file].readRowGroup(rg.rowGroup, this.columns);
    this.cache.set(rg, p);
    p.catch(() => this.cache.delete(rg));
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  async get(i: number): Promise<ParquetRow> {
    const { rowGroup, offset } = this.locate(i);
    return rowOf(await this.block(rowGroup), this.columns, offset);
  }

  /** Reads each row group the indices touch once, in order of first use. */
  async getMany(indices: readonly number[]): Promise<ParquetRow[]> {
    const byGroup = new Map<RowGroupInfo, { at: number; offset: number }[]>();
    indices.forEach((i, at) => {
      const { rowGroup, offset } = this.locate(i);
      const list = byGroup.get(rowGroup) ?? [];
      list.push({ at, offset });
      byGroup.set(rowGroup, list);
    });
    const out = new Array<ParquetRow>(indices.length);
    for (const [rg, list] of byGroup) {
      const block = await this.block(rg);
      for (const { at, offset } of list) out[at] = rowOf(block, this.columns, offset);
    }
    return out;
  }

  async close(): Promise<void> {
    this.cache.clear();
    await Promise.all(this.files.map((f) => f.close()));
  }
}
