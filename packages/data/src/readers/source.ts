/** Anything a reader can stream bytes or text from. */
export type ByteSource =
  | ReadableStream<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>
  | Response
  | Blob
  | Uint8Array
  | ArrayBuffer;

/** Names a source in error messages: a file path, a URL, or a generic word. */
export function sourceName(src: unknown, given?: string): string {
  if (given) return given;
  if (typeof Response !== "undefined" && src instanceof Response && src.url) return src.url;
  if (typeof File !== "undefined" && src instanceof File) return src.name;
  const path = (src as { path?: unknown })?.path;
  if (typeof path === "string") return path;
  return "<stream>";
}

async function* fromReader<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Cancelling (rather than only releasing) stops a network body when the consumer breaks early.
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The source as chunks; `ReadableStream` is read through its reader (Safari lacks async iteration). */
export async function* chunksOf(src: ByteSource): AsyncGenerator<Uint8Array | string> {
  if (src instanceof Uint8Array) {
    yield src;
  } else if (src instanceof ArrayBuffer) {
    yield new Uint8Array(src);
  } else if (typeof Response !== "undefined" && src instanceof Response) {
    if (!src.ok) throw new Error(`${src.url || "response"}: HTTP ${src.status} ${src.statusText}`);
    if (src.body) yield* fromReader(src.body);
  } else if (typeof Blob !== "undefined" && src instanceof Blob) {
    yield* fromReader(src.stream() as ReadableStream<Uint8Array>);
  } else if (typeof ReadableStream !== "undefined" && src instanceof ReadableStream) {
    yield* fromReader(src);
  } else if (typeof (src as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") {
    yield* src as AsyncIterable<Uint8Array | string>;
  } else if (typeof (src as Iterable<unknown>)[Symbol.iterator] === "function") {
    yield* src as Iterable<Uint8Array | string>;
  } else {
    throw new Error(
      "reader: expected a ReadableStream, an (async) iterable of chunks, a Response, a Blob or bytes",
    );
  }
}

function asBytes(c: Uint8Array | string): Uint8Array {
  return typeof c === "string" ? new TextEncoder().encode(c) : c;
}

/**
 * Byte chunks, gunzipped on the fly when the data starts with the gzip magic bytes 1f 8b; a
 * corrupt or truncated gzip stream is an error that names `name`.
 */
export async function* bytesOf(src: ByteSource, name = sourceName(src)): AsyncGenerator<Uint8Array> {
  const it = chunksOf(src)[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && asBytes(first.value).length === 0) first = await it.next();
  if (first.done) return;
  const head = asBytes(first.value);
  if (head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
    yield head;
    while (true) {
      const r = await it.next();
      if (r.done) return;
      yield asBytes(r.value);
    }
  }
  if (typeof DecompressionStream === "undefined") {
    throw new Error("reader: the data is gzip-compressed and this runtime has no DecompressionStream");
  }
  const ds = new DecompressionStream("gzip");
  const writer = ds.writable.getWriter();
  const pump = (async () => {
    try {
      await writer.write(head as Uint8Array<ArrayBuffer>);
      while (true) {
        const r = await it.next();
        if (r.done) break;
        await writer.write(asBytes(r.value) as Uint8Array<ArrayBuffer>);
      }
      await writer.close();
    } catch (e) {
      await writer.abort(e).catch(() => {});
    }
  })();
  try {
    try {
      yield* fromReader(ds.readable as ReadableStream<Uint8Array>);
    } catch (e) {
      throw new Error(`${name}: cannot gunzip the data: ${(e as Error).message}`, { cause: e });
    }
  } finally {
    await it.return?.(undefined);
    await pump;
  }
}

/** Text chunks, decoded as UTF-8 across chunk boundaries. */
export async function* textOf(src: ByteSource): AsyncGenerator<string> {
  const dec = new TextDecoder("utf-8");
  for await (const c of chunksOf(src)) {
    if (typeof c === "string") yield c;
    else {
      const s = dec.decode(c, { stream: true });
      if (s) yield s;
    }
  }
  const tail = dec.decode();
  if (tail) yield tail;
}
