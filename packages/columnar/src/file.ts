import { type FileMetaData, parquetMetadataAsync, parquetRead, parquetSchema } from "hyparquet";
import { type OpenedSource, openSource, type ParquetSource, type ReadStats } from "./source";

/** Per-column statistics of a row group, from the file's footer (what row-group skipping reads). */
export interface ColumnStats {
  min?: number | bigint | string | boolean | Date;
  max?: number | bigint | string | boolean | Date;
  nullCount?: number;
}

/** One row group of one file. */
export interface RowGroupInfo {
  /** Index of the file in the data set. */
  file: number;
  /** Index of the row group in its file. */
  rowGroup: number;
  /** Its first row in the file. */
  fileRowStart: number;
  numRows: number;
  /** Compressed bytes of all its columns (the most a read of it fetches). */
  compressedBytes: number;
  stats: Record<string, ColumnStats>;
}

/** Decoded columns of some rows: numbers come as typed arrays, INT64 as BigInt64Array, strings as arrays. */
export type ColumnValues = ArrayLike<unknown> & Iterable<unknown>;
export type ColumnBlock = Record<string, ColumnValues>;

const asNumber = (v: unknown) => (typeof v === "bigint" ? Number(v) : v);

/** An opened Parquet file: its footer parsed, its row groups listed, columns read on demand. */
export class ParquetFile {
  readonly columns: string[];
  /** Parquet physical type of each top-level column (INT32, FLOAT, DOUBLE, BYTE_ARRAY, ...). */
  readonly types: Record<string, string>;
  readonly numRows: number;
  readonly rowGroups: RowGroupInfo[];

  private constructor(
    private readonly src: OpenedSource,
    readonly metadata: FileMetaData,
    fileIndex: number,
  ) {
    const top = parquetSchema(metadata).children;
    this.columns = top.map((c) => c.element.name);
    this.types = Object.fromEntries(top.map((c) => [c.element.name, c.element.type ?? "GROUP"]));
    this.numRows = Number(metadata.num_rows);
    let start = 0;
    this.rowGroups = metadata.row_groups.map((rg, i) => {
      const stats: Record<string, ColumnStats> = {};
      let compressed = 0;
      for (const col of rg.columns) {
        const md = col.meta_data;
        if (!md) continue;
        compressed += Number(md.total_compressed_size);
        const s = md.statistics;
        if (s && md.path_in_schema.length === 1) {
          stats[md.path_in_schema[0]] = {
            min: asNumber(s.min_value ?? s.min) as ColumnStats["min"],
            max: asNumber(s.max_value ?? s.max) as ColumnStats["max"],
            nullCount: s.null_count === undefined ? undefined : Number(s.null_count),
          };
        }
      }
      const info: RowGroupInfo = {
        file: fileIndex,
        rowGroup: i,
        fileRowStart: start,
        numRows: Number(rg.num_rows),
        compressedBytes: compressed,
        stats,
      };
      start += info.numRows;
      return info;
    });
  }

  /** Opens `source` and reads its footer (two small reads over HTTP). */
  static async open(source: ParquetSource, opts: { fileIndex?: number; requestInit?: RequestInit } = {}) {
    const src = await openSource(source, opts.requestInit);
    let metadata: FileMetaData;
    try {
      // A 16 KiB read holds most footers; a larger one takes a second read (hyparquet's default
      // first read is 512 KiB, the whole of many small files).
      const metaOpts = { initialFetchSize: 1 << 14 } as Parameters<typeof parquetMetadataAsync>[1];
      metadata = await parquetMetadataAsync(src.buffer, metaOpts);
    } catch (e) {
      await src.close();
      throw new Error(`parquet: '${src.name}' is not a readable Parquet file: ${(e as Error).message}`);
    }
    return new ParquetFile(src, metadata, opts.fileIndex ?? 0);
  }

  get name(): string {
    return this.src.name;
  }

  /** Requests and bytes read from the source so far. */
  get stats(): ReadStats {
    return { ...this.src.stats };
  }

  checkColumns(columns: readonly string[] | undefined, who: string): string[] {
    if (!columns) return this.columns;
    for (const c of columns) {
      if (!this.columns.includes(c)) {
        const near = this.columns.find((k) => k.toLowerCase() === String(c).toLowerCase());
        throw new Error(
          `${who}: no column '${c}' in ${this.name}${near ? ` (did you mean '${near}'?)` : ""}; columns: ${this.columns.join(", ")}`,
        );
      }
    }
    return [...columns];
  }

  /** Reads and decodes the given columns of one row group (only their column chunks are fetched). */
  async readRowGroup(index: number, columns?: readonly string[]): Promise<ColumnBlock> {
    const rg = this.rowGroups[index];
    if (!rg) {
      throw new RangeError(
        `parquet: row group ${index} is out of range for ${this.name} (${this.rowGroups.length} row groups)`,
      );
    }
    const cols = this.checkColumns(columns, "readRowGroup");
    const parts = new Map<string, { start: number; data: ColumnValues }[]>();
    await parquetRead({
      file: this.src.buffer,
      metadata: this.metadata,
      columns: cols,
      rowStart: rg.fileRowStart,
      rowEnd: rg.fileRowStart + rg.numRows,
      onChunk: (c) => {
        const list = parts.get(c.columnName) ?? [];
        list.push({ start: c.rowStart, data: c.columnData as ColumnValues });
        parts.set(c.columnName, list);
      },
    });
    const out: ColumnBlock = {};
    for (const name of cols) {
      const list = (parts.get(name) ?? []).sort((a, b) => a.start - b.start);
      out[name] = joinParts(list, rg.fileRowStart, rg.numRows, `${this.name} column '${name}'`);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.src.close();
  }
}

/** The rows [start, start + n) from decoded pieces (usually one piece per row group). */
function joinParts(
  list: { start: number; data: ColumnValues }[],
  start: number,
  n: number,
  what: string,
): ColumnValues {
  if (list.length === 1 && list[0].start === start && list[0].data.length === n) return list[0].data;
  const first = list[0]?.data;
  const Ctor =
    first && ArrayBuffer.isView(first) ? (first.constructor as new (n: number) => ColumnValues) : null;
  const out: unknown[] | ColumnValues = Ctor ? new Ctor(n) : new Array<unknown>(n);
  let filled = 0;
  for (const { start: s, data } of list) {
    for (let i = 0; i < data.length; i++) {
      const row = s + i - start;
      if (row < 0 || row >= n) continue;
      (out as unknown[])[row] = data[i];
      filled++;
    }
  }
  if (filled !== n) throw new Error(`parquet: ${what}: decoded ${filled} of ${n} rows`);
  return out as ColumnValues;
}
