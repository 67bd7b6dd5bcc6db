import { epochGenerator, IterableDataset } from "@minibatch/data";
import { checkOptionKeys } from "@minibatch/tensor";
import { type RecordBatch, RecordBatchReader } from "apache-arrow";
import type { ColumnBatch, ParquetRow } from "./files";

/** An Arrow IPC stream: a path (Node.js), an http(s) URL, or a function that opens the bytes anew. */
export type ArrowSource = string | URL | (() => AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>);

export interface ArrowStreamOptions {
  /** Columns to keep (default all). */
  columns?: string[];
  /** Shuffle the rows inside each record batch with (seed, epoch) (default false). */
  shuffle?: boolean;
  seed?: number;
  /** Record batch i goes to rank i mod numReplicas (default 1 rank). */
  numReplicas?: number;
  rank?: number;
  requestInit?: RequestInit;
}

const OPTIONS = ["columns", "shuffle", "seed", "numReplicas", "rank", "requestInit"];

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const fsName = "node:fs";
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import("node:fs");
  for await (const chunk of fs.createReadStream(path)) yield chunk as Uint8Array;
}

function open(
  src: ArrowSource,
  init?: RequestInit,
): () => Promise<AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>> {
  if (typeof src === "function") return async () => src();
  const s = String(src);
  if (/^https?:\/\//i.test(s)) {
    return async () => {
      const res = await fetch(s, init);
      if (!res.ok || !res.body) throw new Error(`ArrowStream: GET ${s} failed with status ${res.status}`);
      return res.body;
    };
  }
  const path = src instanceof URL ? decodeURIComponent(src.pathname) : s;
  return async () => fileChunks(path);
}

/**
 * Rows (or column batches) of an Arrow IPC stream, read one record batch at a time with
 * apache-arrow's RecordBatchReader, so memory holds one record batch whatever the stream's size.
 * Each epoch opens the source again. Install `apache-arrow` to use it (an optional peer
 * dependency). Ranks take record batches round-robin (the stream's length is unknown until it
 * ends, so there is no padding: ranks may differ by one batch).
 */
export class ArrowStream extends IterableDataset<ParquetRow> {
  /** Record batches alive right now, and the most there ever were. */
  liveBatches = 0;
  peakLiveBatches = 0;
  private readonly opener: () => Promise<AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>>;
  private readonly o: Required<Omit<ArrowStreamOptions, "columns" | "requestInit">> & { columns?: string[] };

  constructor(source: ArrowSource, opts: ArrowStreamOptions = {}) {
    checkOptionKeys("ArrowStream", opts, OPTIONS);
    const numReplicas = opts.numReplicas ?? 1;
    const rank = opts.rank ?? 0;
    if (!Number.isInteger(numReplicas) || numReplicas < 1) {
      throw new Error(`ArrowStream: numReplicas must be an integer >= 1, got ${String(numReplicas)}`);
    }
    if (!Number.isInteger(rank) || rank < 0 || rank >= numReplicas) {
      throw new Error(`ArrowStream: rank must be an integer in [0, ${numReplicas - 1}], got ${String(rank)}`);
    }
    super((epoch) => this.rows(epoch));
    this.opener = open(source, opts.requestInit);
    this.o = {
      shuffle: opts.shuffle ?? false,
      seed: opts.seed ?? 0,
      numReplicas,
      rank,
      columns: opts.columns,
    };
  }

  /** One column batch per record batch of this rank, rows shuffled when asked. */
  async *batches(epoch: number): AsyncGenerator<ColumnBatch> {
    const reader = await RecordBatchReader.from(await this.opener());
    const g = epochGenerator((this.o.seed + 0x9e3779b9 * (this.o.rank + 1)) % 2 ** 32, epoch);
    let i = 0;
    for await (const batch of reader as AsyncIterable<RecordBatch>) {
      if (i++ % this.o.numReplicas !== this.o.rank) continue;
      this.liveBatches++;
      this.peakLiveBatches = Math.max(this.peakLiveBatches, this.liveBatches);
      try {
        yield this.columnsOf(batch, this.o.shuffle ? g.permutation(batch.numRows) : null);
      } finally {
        this.liveBatches--;
      }
    }
  }

  private columnsOf(batch: RecordBatch, order: Int32Array | null): ColumnBatch {
    const names = batch.schema.fields.map((f) => f.name);
    const cols = this.o.columns ?? names;
    const out: ColumnBatch = {};
    for (const c of cols) {
      const v = batch.getChild(c);
      if (!v) {
        const near = names.find((n) => n.toLowerCase() === c.toLowerCase());
        throw new Error(
          `ArrowStream: no column '${c}'${near ? ` (did you mean '${near}'?)` : ""}; columns: ${names.join(", ")}`,
        );
      }
      const values = v.toArray() as ArrayLike<unknown>;
      const typed = ArrayBuffer.isView(values) && !(values instanceof BigInt64Array);
      const n = batch.numRows;
      const Ctor = typed ? (values.constructor as new (n: number) => Float32Array) : null;
      const col = Ctor ? new Ctor(n) : new Array<unknown>(n);
      for (let r = 0; r < n; r++) {
        const x = values[order ? order[r] : r];
        (col as unknown[])[r] = typeof x === "bigint" ? Number(x) : x;
      }
      out[c] = col as ColumnBatch[string];
    }
    return out;
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
}
