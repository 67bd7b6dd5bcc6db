import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import { IterableDataset } from "@minibatch/data";
import { checkOptionKeys } from "@minibatch/tensor";
import type { ColumnBatch, ParquetRow } from "./files";

export interface DuckDBStreamOptions {
  /** Database file to open (default ':memory:'); ignored when `connection` is given. */
  database?: string;
  /** An open connection to use instead (it is not closed by `close()`). */
  connection?: DuckDBConnection;
  /** Values for the query's `?` or `$name` parameters. */
  params?: DuckDBValue[] | Record<string, DuckDBValue>;
}

const OPTIONS = ["database", "connection", "params"];

const TYPED: Record<string, new (n: number) => Float32Array | Float64Array | Int32Array> = {
  FLOAT: Float32Array,
  DOUBLE: Float64Array,
  INTEGER: Int32Array,
};

/**
 * The result of a DuckDB query, streamed chunk by chunk (DuckDB's vectors of up to 2048 rows), as
 * rows or column batches: SQL over local or remote Parquet and CSV files (`read_parquet`,
 * `read_csv`, with DuckDB's filters, joins and aggregations) before the data reaches training.
 * `sql` may be a function of the epoch, e.g. for a per-epoch shuffle in SQL
 * (`ORDER BY hash(id + ${epoch})`) or a shard (`WHERE id % ${numReplicas} = ${rank}`).
 * Install `@duckdb/node-api` (Node.js only; an optional peer dependency).
 */
export class DuckDBStream extends IterableDataset<ParquetRow> {
  private connection: DuckDBConnection | null;
  private owned: { closeSync(): void }[] = [];

  constructor(
    private readonly sql: string | ((epoch: number) => string),
    private readonly opts: DuckDBStreamOptions = {},
  ) {
    super((epoch) => this.rows(epoch));
    checkOptionKeys("DuckDBStream", opts, OPTIONS);
    if (typeof sql !== "string" && typeof sql !== "function") {
      throw new Error(`DuckDBStream: sql must be a string or a function of the epoch, got ${typeof sql}`);
    }
    this.connection = opts.connection ?? null;
  }

  private async connect(): Promise<DuckDBConnection> {
    if (this.connection) return this.connection;
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(this.opts.database ?? ":memory:");
    const conn = await instance.connect();
    this.owned.push(conn, instance);
    this.connection = conn;
    return conn;
  }

  /** One column batch per DuckDB chunk: FLOAT, DOUBLE and INTEGER columns as typed arrays. */
  async *batches(epoch: number): AsyncGenerator<ColumnBatch> {
    const conn = await this.connect();
    const sql = typeof this.sql === "function" ? this.sql(epoch) : this.sql;
    const result = await conn.stream(sql, this.opts.params).catch((e: Error) => {
      throw new Error(`DuckDBStream: the query failed: ${e.message}`);
    });
    const names = result.columnNames();
    const types = result.columnTypes().map((t) => t.toString());
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) return;
      const columns = chunk.getColumns();
      const out: ColumnBatch = {};
      names.forEach((name, c) => {
        const values = columns[c];
        const Ctor = TYPED[types[c]];
        const col = Ctor ? new Ctor(values.length) : new Array<unknown>(values.length);
        for (let r = 0; r < values.length; r++) {
          const v = values[r];
          (col as unknown[])[r] = typeof v === "bigint" ? Number(v) : Ctor && v === null ? Number.NaN : v;
        }
        out[name] = col as ColumnBatch[string];
      });
      yield out;
    }
  }

  private async *rows(epoch: number): AsyncGenerator<ParquetRow> {
    for await (const b of this.batches(epoch)) {
      const cols = Object.keys(b);
      const n = cols.length ? b[cols[0]].length : 0;
      for (let r = 0; r < n; r++) {
        const row: ParquetRow = {};
        for (const c of cols) row[c] = b[c][r];
        yield row;
      }
    }
  }

  /** Closes the database this stream opened (not a connection that was passed in). */
  close(): void {
    for (const o of this.owned) o.closeSync();
    this.owned = [];
    if (!this.opts.connection) this.connection = null;
  }
}
