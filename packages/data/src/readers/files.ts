import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { checkOptionKeys } from "@minibatch/tensor";
import { IterableDataset } from "../iterable";
import { CSV_KEYS, type CsvOptions, parseCsv } from "./csv";
import { IDX_STREAM_KEYS, type IdxBatch, type IdxStreamOptions, streamIdx } from "./idx";
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
  return namedGunzipErrors(raw.pipe(gunzip), path, raw);
}

/** zlib's errors ("incorrect header check", "unexpected end of file") do not say which file. */
async function* namedGunzipErrors(
  s: AsyncIterable<Uint8Array>,
  path: string,
  raw: { destroy(): void },
): AsyncGenerator<Uint8Array> {
  try {
    yield* s;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err?.code?.startsWith("Z_")) {
      throw new Error(`${path}: cannot gunzip the file: ${err.message} (${err.code})`, { cause: e });
    }
    throw e;
  } finally {
    raw.destroy();
  }
}

/** Streams an IDX file (or .gz) from disk in batches of records. */
export function readIdxFile(
  path: string,
  opts: Omit<IdxStreamOptions, "name"> = {},
): AsyncGenerator<IdxBatch> {
  checkOptionKeys(
    "readIdxFile",
    opts,
    IDX_STREAM_KEYS.filter((k) => k !== "name"),
  );
  return streamIdx(openFileStream(path), { ...opts, name: path });
}

/** Streams a CSV file (or .gz) row by row. */
export function readCsvFile<T = Record<string, unknown>>(
  path: string,
  opts: Omit<CsvOptions, "name"> = {},
): AsyncGenerator<T> {
  checkOptionKeys(
    "readCsvFile",
    opts,
    CSV_KEYS.filter((k) => k !== "name"),
  );
  return parseCsv<T>(openFileStream(path), { ...opts, name: path });
}

/** Streams a JSON Lines file (or .gz) value by value. */
export function readJsonlFile<T = unknown>(
  path: string,
  opts: Record<string, never> = {},
): AsyncGenerator<T> {
  checkOptionKeys("readJsonlFile", opts, []);
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
export function jsonlFileDataset<T = unknown>(
  path: string,
  opts: Record<string, never> = {},
): IterableDataset<T> {
  checkOptionKeys("jsonlFileDataset", opts, []);
  return new IterableDataset(() => readJsonlFile<T>(path));
}
