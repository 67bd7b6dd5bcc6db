import { checkOptionKeys } from "@minibatch/tensor";
import { type ByteSource, sourceName, textOf } from "./source";

/**
 * Splits streamed text into lines (LF or CRLF), numbering them from 1. Each chunk is searched
 * once and the pieces of a long line are joined once, when it ends: time and memory stay linear
 * in the line's length (appending every chunk to the rest and searching it again was quadratic).
 */
export async function* linesOf(source: ByteSource): AsyncGenerator<[line: string, lineNo: number]> {
  let pieces: string[] = [];
  let n = 0;
  const strip = (l: string) => (l.endsWith("\r") ? l.slice(0, -1) : l);
  for await (const chunk of textOf(source)) {
    let from = 0;
    let nl = chunk.indexOf("\n");
    while (nl !== -1) {
      const part = chunk.slice(from, nl);
      const l = pieces.length ? pieces.join("") + part : part;
      pieces = [];
      yield [strip(l), ++n];
      from = nl + 1;
      nl = chunk.indexOf("\n", from);
    }
    if (from < chunk.length) pieces.push(chunk.slice(from));
  }
  const rest = pieces.join("");
  if (rest !== "") yield [strip(rest), ++n];
}

/** Parses JSON Lines as they stream in; blank lines are skipped; errors name source and line. */
export async function* parseJsonl<T = unknown>(
  source: ByteSource,
  opts: { name?: string } = {},
): AsyncGenerator<T> {
  checkOptionKeys("parseJsonl", opts, ["name"]);
  const name = sourceName(source, opts.name);
  for await (const [text, n] of linesOf(source)) {
    if (text.trim() === "") continue;
    let v: T;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${name}: line ${n}: invalid JSON (${(e as Error).message})`);
    }
    yield v;
  }
}
