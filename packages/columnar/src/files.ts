import { type ColumnBlock, ParquetFile, type RowGroupInfo } from "./file";
import type { ParquetSource, ReadStats } from "./source";

/** A row: column name to value (INT64 values come as numbers, exact up to 2^53). */
export type ParquetRow = Record<string, unknown>;

export interface OpenOptions {
  /** Columns to read (default all): only their column chunks are fetched. */
  columns?: string[];
  /**
   * Keeps a row group when true, from its footer statistics (min, max, null count per column),
   * before any of its data is read: e.g. `(rg) => (rg.stats.year.max as number) >= 2020`.
   */
  rowGroupFilter?: (rg: RowGroupInfo) => boolean;
  /** Passed to fetch for http(s) sources (headers, credentials). */
  requestInit?: RequestInit;
}

export const OPEN_OPTIONS = ["columns", "rowGroupFilter", "requestInit"];

/** Opened files, the columns read, and the row groups kept after `rowGroupFilter`. */
export interface FileSet {
  files: ParquetFile[];
  columns: string[];
  rowGroups: RowGroupInfo[];
}

export async function openFiles(
  sources: ParquetSource | ParquetSource[],
  opts: OpenOptions,
  who: string,
): Promise<FileSet> {
  const list = Array.isArray(sources) ? sources : [sources];
  if (list.length === 0) throw new Error(`${who}: expected at least one Parquet source, got none`);
  const files: ParquetFile[] = [];
  try {
    for (let i = 0; i < list.length; i++) {
      files.push(await ParquetFile.open(list[i], { fileIndex: i, requestInit: opts.requestInit }));
    }
    const columns = files[0].checkColumns(opts.columns, who);
    for (const f of files.slice(1)) f.checkColumns(columns, who);
    const keep = opts.rowGroupFilter;
    if (keep !== undefined && typeof keep !== "function") {
      throw new Error(
        `${who}: rowGroupFilter must be a function (row group info) => boolean, got ${typeof keep}`,
      );
    }
    const rowGroups = files.flatMap((f) => f.rowGroups).filter((rg) => (keep ? keep(rg) : true));
    return { files, columns, rowGroups };
  } catch (e) {
    await Promise.all(files.map((f) => f.close()));
    throw e;
  }
}

export function totalStats(files: ParquetFile[]): ReadStats {
  const s = { requests: 0, bytes: 0 };
  for (const f of files) {
    s.requests += f.stats.requests;
    s.bytes += f.stats.bytes;
  }
  return s;
}

/** Row `i` of a decoded block as an object. */
export function rowOf(block: ColumnBlock, columns: readonly string[], i: number): ParquetRow {
  const row: ParquetRow = {};
  for (const c of columns) {
    const v = block[c][i];
    row[c] = typeof v === "bigint" ? Number(v) : v;
  }
  return row;
}

/** A batch of rows, column by column: FLOAT as Float32Array, DOUBLE as Float64Array, INT32 as Int32Array. */
export type ColumnBatch = Record<string, Float32Array | Float64Array | Int32Array | unknown[]>;

const TYPED: Record<string, new (n: number) => Float32Array | Float64Array | Int32Array> = {
  FLOAT: Float32Array,
  DOUBLE: Float64Array,
  INT32: Int32Array,
};

/** Gathers rows (block j, row r) into one column batch. */
export function gatherBatch(
  blocks: readonly ColumnBlock[],
  refs: readonly { j: number; r: number }[],
  columns: readonly string[],
  types: Record<string, string>,
): ColumnBatch {
  const out: ColumnBatch = {};
  for (const c of columns) {
    const Ctor = TYPED[types[c]];
    const col = Ctor ? new Ctor(refs.length) : new Array<unknown>(refs.length);
    for (let i = 0; i < refs.length; i++) {
      const v = blocks[refs[i].j][c][refs[i].r];
      (col as unknown[])[i] = typeof v === "bigint" ? Number(v) : v;
    }
    out[c] = col;
  }
  return out;
}
