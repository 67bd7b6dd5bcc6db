import { type AsyncBuffer, asyncBufferFromUrl } from "hyparquet";

/** A Parquet file: a local path (Node.js), an http(s) URL (range requests), or any AsyncBuffer. */
export type ParquetSource = string | URL | AsyncBuffer;

/** Bytes and reads issued to one source: what projection and row-group skipping save. */
export interface ReadStats {
  requests: number;
  bytes: number;
}

export interface OpenedSource {
  name: string;
  buffer: AsyncBuffer;
  stats: ReadStats;
  close(): Promise<void>;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** Positional reads of a local file through one descriptor (Node.js only). */
async function fileBuffer(path: string): Promise<{ buffer: AsyncBuffer; close(): Promise<void> }> {
  const fsName = "node:fs/promises";
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import("node:fs/promises");
  const fh = await fs.open(path, "r").catch((e: Error) => {
    throw new Error(`parquet: cannot open '${path}': ${e.message}`);
  });
  const { size } = await fh.stat();
  return {
    buffer: {
      byteLength: size,
      async slice(start: number, end?: number) {
        const stop = Math.min(end ?? size, size);
        const out = new Uint8Array(Math.max(0, stop - start));
        let done = 0;
        while (done < out.length) {
          const { bytesRead } = await fh.read(out, done, out.length - done, start + done);
          if (bytesRead === 0) throw new Error(`parquet: '${path}' ended early at byte ${start + done}`);
          done += bytesRead;
        }
        return out.buffer;
      },
    },
    close: () => fh.close(),
  };
}

/** Opens a source and counts what is read from it. */
export async function openSource(src: ParquetSource, requestInit?: RequestInit): Promise<OpenedSource> {
  let inner: AsyncBuffer;
  let name: string;
  let close = async () => {};
  if (src instanceof URL || (typeof src === "string" && isUrl(src))) {
    name = String(src);
    if (src instanceof URL && src.protocol === "file:") {
      const f = await fileBuffer(decodeURIComponent(src.pathname));
      inner = f.buffer;
      close = f.close;
    } else {
      inner = await asyncBufferFromUrl({ url: name, requestInit }).catch((e: Error) => {
        throw new Error(`parquet: cannot read '${name}': ${e.message}`);
      });
    }
  } else if (typeof src === "string") {
    name = src;
    const f = await fileBuffer(src);
    inner = f.buffer;
    close = f.close;
  } else if (src && typeof src.slice === "function" && typeof src.byteLength === "number") {
    name = "<AsyncBuffer>";
    inner = src;
  } else {
    throw new Error(
      `parquet: a source must be a path, an http(s) URL, or an AsyncBuffer ({ byteLength, slice }), got ${typeof src}`,
    );
  }
  const stats: ReadStats = { requests: 0, bytes: 0 };
  const buffer: AsyncBuffer = {
    byteLength: inner.byteLength,
    async slice(start: number, end?: number) {
      const b = await inner.slice(start, end);
      stats.requests++;
      stats.bytes += b.byteLength;
      return b;
    },
  };
  return { name, buffer, stats, close };
}
