import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { IterableDataset } from "../iterable";
import { type CsvOptions, parseCsv } from "./csv";
import { type IdxBatch, type IdxStreamOptions, streamIdx } from "./idx";
import { parseJsonl } from "./jsonl";

/**
 * A file as a stream of byte chunks, gunzipped through node:zlib when the name ends in .gz.
 * 256 KiB chunks keep syscalls few while memory stays small.
 */
export function openFileStream(path: string): AsyncIterable<Uint8Array> {
  const raw = createReadStream(path, { highWaterMark: 1 << 18 });
  if (!path.endsWith(".gz")) return raw;
  const gunzip = createGunzip({ chunkSize: 1 << 18 });
  raw.on("error", (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

/** Streams an IDX file (or .gz) from disk in batches of records. */
export function readIdxFile(
  path: string,
  opts: Omit<IdxStreamOptions, "name"> = {},
): AsyncGenerator<IdxBatch> {
  return streamIdx(openFileStream(path), { ...opts, name: path });
}

/** Streams a CSV file (or .gz) row by row. */
export function readCsvFile<T = Record<string, unknown>>(
  path: string,
  opts: Omit<CsvOptions, "name"> = {},
): AsyncGenerator<T> {
  return parseCsv<T>(openFileStream(path), { ...opts, name: path });
}

/** Streams a JSON Lines file (or .gz) value by value. */
export function readJsonlFile<T = unknown>(path: string): AsyncGenerator<T> {
  return parseJsonl<T>(openFileStream(path), { name: path });
}

/** An iterable dataset over a CSV file, re-read from disk every epoch. */
export function csvFileDataset<T = Record<string, unknown>>(
  path: string,
  opts: Omit<CsvOptions, "name"> = {},
): IterableDataset<T> {
  return new IterableDataset(() => readCsvFile<T>(path, opts));
}

/** An iterable dataset over a JSON Lines file, re-read from disk every epoch. */
export function jsonlFileDataset<T = unknown>(path: string): IterableDataset<T> {
  return new IterableDataset(() => readJsonlFile<T>(path));
}
