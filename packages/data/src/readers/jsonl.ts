import { type ByteSource, sourceName, textOf } from "./source";

/** Splits streamed text into lines (LF or CRLF), numbering them from 1. */
export async function* linesOf(source: ByteSource): AsyncGenerator<[line: string, lineNo: number]> {
  let rest = "";
  let n = 0;
  for await (const chunk of textOf(source)) {
    rest += chunk;
    let nl = rest.indexOf("\n");
    let from = 0;
    while (nl !== -1) {
      const l = rest.slice(from, nl);
      yield [l.endsWith("\r") ? l.slice(0, -1) : l, ++n];
      from = nl + 1;
      nl = rest.indexOf("\n", from);
    }
    rest = rest.slice(from);
  }
  if (rest !== "") yield [rest.endsWith("\r") ? rest.slice(0, -1) : rest, ++n];
}

/** Parses JSON Lines as they stream in; blank lines are skipped; errors name source and line. */
export async function* parseJsonl<T = unknown>(
  source: ByteSource,
  opts: { name?: string } = {},
): AsyncGenerator<T> {
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
