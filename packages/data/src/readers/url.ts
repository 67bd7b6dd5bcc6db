import { IterableDataset } from "../iterable";
import { type CsvOptions, parseCsv } from "./csv";
import { parseJsonl } from "./jsonl";

/**
 * An iterable dataset streamed from a URL with `fetch` every epoch: rows are parsed as the body
 * arrives, so a large CSV is never held whole in memory.
 */
export function csvUrlDataset<T = Record<string, unknown>>(
  url: string | URL,
  opts: CsvOptions = {},
  init?: RequestInit,
): IterableDataset<T> {
  const name = opts.name ?? String(url);
  return new IterableDataset(async function* () {
    yield* parseCsv<T>(await fetch(url, init), { ...opts, name });
  });
}

/** An iterable dataset of JSON Lines streamed from a URL every epoch. */
export function jsonlUrlDataset<T = unknown>(url: string | URL, init?: RequestInit): IterableDataset<T> {
  return new IterableDataset(async function* () {
    yield* parseJsonl<T>(await fetch(url, init), { name: String(url) });
  });
}
