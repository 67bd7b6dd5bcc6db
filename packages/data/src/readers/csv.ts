import { checkOptionKeys } from "@minibatch/tensor";
import { type ByteSource, sourceName, textOf } from "./source";

export type CsvColumnType = "string" | "number" | "int" | "boolean";

export interface CsvOptions {
  /** Name used in error messages (a path or URL). */
  name?: string;
  /** Field separator, one character (default ","). */
  delimiter?: string;
  /** The first row names the columns (default true). */
  header?: boolean;
  /** Column names; required when `header` is false, and overrides the header row otherwise. */
  columns?: string[];
  /** Column types: one for all columns, or per column name (others stay strings). Default "string". */
  types?: CsvColumnType | Record<string, CsvColumnType>;
  /** Yield records keyed by column name (default) or arrays in column order. */
  output?: "record" | "array";
}

const TRUE = new Set(["true", "1", "yes", "TRUE", "True"]);
const FALSE = new Set(["false", "0", "no", "FALSE", "False"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Infinity|inf)$|^NaN$/i;

function convert(raw: string, type: CsvColumnType, where: () => string): unknown {
  switch (type) {
    case "string":
      return raw;
    case "number":
    case "int": {
      const s = raw.trim();
      if (s === "") return Number.NaN; // a missing value, as pandas reads it
      if (!NUMBER.test(s)) throw new Error(`${where()}: '${raw}' is not a number`);
      const lower = s.toLowerCase();
      const v = lower.endsWith("inf") ? (s.startsWith("-") ? -Infinity : Infinity) : Number(s);
      if (type === "int" && !Number.isInteger(v)) throw new Error(`${where()}: '${raw}' is not an integer`);
      return v;
    }
    case "boolean": {
      const s = raw.trim();
      if (TRUE.has(s)) return true;
      if (FALSE.has(s)) return false;
      throw new Error(`${where()}: '${raw}' is not a boolean (true/false/1/0/yes/no)`);
    }
  }
}

export const CSV_KEYS = ["name", "delimiter", "header", "columns", "types", "output"] as const;
const TYPES: readonly string[] = ["string", "number", "int", "boolean"];

/**
 * Makes header names unique as pandas does: the second "a" becomes "a.1", the third "a.2" (skipping
 * any name already taken), so that no column is lost to a duplicate key.
 */
export function dedupeColumns(names: readonly string[]): string[] {
  const taken = new Set(names);
  const seen = new Set<string>();
  const count = new Map<string, number>();
  return names.map((n) => {
    if (!seen.has(n)) {
      seen.add(n);
      return n;
    }
    let k = count.get(n) ?? 0;
    let cand: string;
    do cand = `${n}.${++k}`;
    while (taken.has(cand) || seen.has(cand));
    count.set(n, k);
    seen.add(cand);
    return cand;
  });
}

/**
 * Parses CSV as it streams in (RFC 4180: quoted fields may hold delimiters, doubled quotes and
 * newlines; CRLF, LF and a lone CR (old Mac files) all end a record). Errors name the source, the
 * line the record starts on and the problem. Empty lines are skipped; a line holding only `""` is
 * a record with one empty field, not an empty line. Duplicated header names are made unique as
 * pandas does ("a", "a.1", "a.2"); duplicated names in `columns` are an error.
 */
export async function* parseCsv<T = Record<string, unknown>>(
  source: ByteSource,
  opts: CsvOptions = {},
): AsyncGenerator<T> {
  checkOptionKeys("parseCsv", opts, CSV_KEYS);
  const name = sourceName(source, opts.name);
  const delim = opts.delimiter ?? ",";
  if (opts.output !== undefined && opts.output !== "record" && opts.output !== "array") {
    throw new Error(`parseCsv: output must be 'record' or 'array', got ${JSON.stringify(opts.output)}`);
  }
  if (opts.columns !== undefined) {
    if (!Array.isArray(opts.columns) || opts.columns.some((c) => typeof c !== "string"))
      throw new Error(`parseCsv: columns must be an array of strings, got ${JSON.stringify(opts.columns)}`);
    const dup = opts.columns.find((c, i) => opts.columns!.indexOf(c) !== i);
    if (dup !== undefined)
      throw new Error(`parseCsv: columns names '${dup}' twice; column names must be unique`);
  }
  const typeList = typeof opts.types === "string" ? [opts.types] : Object.values(opts.types ?? {});
  for (const t of typeList) {
    if (!TYPES.includes(t)) {
      throw new Error(`parseCsv: column type must be one of ${TYPES.join(", ")}, got ${JSON.stringify(t)}`);
    }
  }
  if (delim.length !== 1 || delim === '"' || delim === "\n" || delim === "\r") {
    throw new Error(
      `parseCsv: delimiter must be one character other than a quote or newline, got ${JSON.stringify(delim)}`,
    );
  }
  const hasHeader = opts.header ?? true;
  if (!hasHeader && !opts.columns)
    throw new Error(`${name}: header: false needs columns: [...] to name the fields`);
  let columns: string[] | null = hasHeader ? null : [...opts.columns!];
  let types: CsvColumnType[] = [];
  const asArray = opts.output === "array";
  const setColumns = (cols: string[]) => {
    columns = cols;
    const t = opts.types ?? "string";
    if (typeof t === "string") types = cols.map(() => t);
    else {
      for (const key of Object.keys(t)) {
        if (!cols.includes(key)) {
          throw new Error(
            `${name}: types names column '${key}', which is not among the columns (${cols.join(", ")})`,
          );
        }
      }
      types = cols.map((c) => t[c] ?? "string");
    }
  };
  if (columns) setColumns(columns);

  let line = 1; // current physical line
  let recordLine = 1; // line the current record starts on
  let field = "";
  let record: string[] = [];
  let inQuotes = false;
  let afterQuote = false;
  let quoteLine = 0;
  let quoted = false; // the current record has a quoted field (so it is not an empty line)
  let afterCR = false; // the last character was a CR: a following LF belongs to it
  let pendingHeader = hasHeader;
  const out: T[] = [];

  const endRecord = () => {
    record.push(field);
    field = "";
    const rec = record;
    record = [];
    const startLine = recordLine;
    recordLine = line;
    const wasQuoted = quoted;
    quoted = false;
    if (rec.length === 1 && rec[0] === "" && !wasQuoted) return; // empty line
    if (pendingHeader) {
      pendingHeader = false;
      setColumns(opts.columns ? [...opts.columns] : dedupeColumns(rec.map((c) => c.trim())));
      if (opts.columns && opts.columns.length !== rec.length) {
        throw new Error(
          `${name}: line ${startLine}: the header has ${rec.length} fields but ${opts.columns.length} columns were given`,
        );
      }
      return;
    }
    const cols = columns!;
    if (rec.length !== cols.length) {
      throw new Error(
        `${name}: line ${startLine}: expected ${cols.length} fields (${cols.join(", ")}) but found ${rec.length}`,
      );
    }
    if (asArray) {
      out.push(
        rec.map((v, j) => convert(v, types[j], () => `${name}: line ${startLine}, column '${cols[j]}'`)) as T,
      );
    } else {
      const obj: Record<string, unknown> = {};
      for (let j = 0; j < cols.length; j++) {
        obj[cols[j]] = convert(rec[j], types[j], () => `${name}: line ${startLine}, column '${cols[j]}'`);
      }
      out.push(obj as T);
    }
  };

  for await (const chunk of textOf(source)) {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      const lfAfterCR = afterCR && c === "\n";
      afterCR = c === "\r";
      if (inQuotes) {
        if (c === '"') {
          field += chunk.slice(start, i);
          inQuotes = false;
          afterQuote = true;
          start = i + 1;
        } else if (c === "\r" || (c === "\n" && !lfAfterCR)) line++;
        continue;
      }
      if (lfAfterCR) {
        // The LF of a CRLF whose CR already ended the record.
        start = i + 1;
        continue;
      }
      if (afterQuote) {
        afterQuote = false;
        if (c === '"') {
          field += '"';
          inQuotes = true;
          start = i + 1;
          continue;
        }
        if (c !== delim && c !== "\n" && c !== "\r") {
          throw new Error(
            `${name}: line ${line}: unexpected character ${JSON.stringify(c)} after a closing quote (a quote inside a quoted field must be doubled)`,
          );
        }
      }
      if (c === delim) {
        record.push(field + chunk.slice(start, i));
        field = "";
        start = i + 1;
      } else if (c === "\n") {
        field += chunk.slice(start, i);
        line++;
        endRecord();
        start = i + 1;
      } else if (c === "\r") {
        // A record ends at the CR, so files with CR-only line ends (old Mac) parse too.
        field += chunk.slice(start, i);
        line++;
        endRecord();
        start = i + 1;
      } else if (c === '"' && field === "" && start === i) {
        inQuotes = true;
        quoted = true;
        quoteLine = line;
        start = i + 1;
      }
    }
    field += chunk.slice(start);
    if (out.length) {
      for (const r of out) yield r;
      out.length = 0;
    }
  }
  if (inQuotes)
    throw new Error(`${name}: line ${quoteLine}: unterminated quoted field (the file ends inside quotes)`);
  if (field !== "" || record.length > 0 || quoted) endRecord();
  for (const r of out) yield r;
}
