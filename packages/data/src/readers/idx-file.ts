import { type FileHandle, open } from "node:fs/promises";
import { checkOptionKeys } from "@minibatch/tensor";
import { freshHost, type HostAlloc, type HostBatch } from "../collate-host";
import { Dataset } from "../datasets";
import { type HostDType, NDArray } from "../ndarray";
import type { Describe } from "../workers/descriptor";
import {
  checkDecodeOptions,
  checkRecordShape,
  decodeIdx,
  IDX_DATASET_KEYS,
  type IdxDecodeOptions,
  type IdxHeader,
  idxHeaderLength,
  outputDType,
  parseIdxHeader,
} from "./idx";

/** An IDX file opened for random access by record (reads only the bytes asked for). */
export class IdxFile {
  private cache: Uint8Array | null = null;
  private constructor(
    readonly path: string,
    readonly header: IdxHeader,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string): Promise<IdxFile> {
    if (path.endsWith(".gz")) {
      throw new Error(
        `${path}: a gzip-compressed IDX file has no random access; stream it with readIdxFile(path), or gunzip it once and open the result`,
      );
    }
    const fh = await open(path, "r");
    try {
      const size = (await fh.stat()).size;
      const first = new Uint8Array(Math.min(size, 4));
      await fh.read(first, 0, first.length, 0);
      const head = new Uint8Array(Math.min(size, idxHeaderLength(first)));
      await fh.read(head, 0, head.length, 0);
      const header = parseIdxHeader(head, path, size);
      return new IdxFile(path, header, fh);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Number of records (dims[0]). */
  get length(): number {
    return this.header.dims[0];
  }

  /** Whether `preload()` has put every record in memory (reads are then synchronous). */
  get preloaded(): boolean {
    return this.cache !== null;
  }

  /** The in-memory records of a preloaded file (header excluded), or null. */
  get bytes(): Uint8Array | null {
    return this.cache;
  }

  /** Like readBytes, for a preloaded file: a view of the in-memory records. */
  readBytesSync(start: number, count: number): Uint8Array {
    const h = this.header;
    if (!this.cache) throw new Error(`${this.path}: readBytesSync needs preload() first`);
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(count) ||
      start < 0 ||
      count < 0 ||
      start + count > h.dims[0]
    ) {
      throw new RangeError(
        `${this.path}: records [${start}, ${start + count}) are out of range (the file has ${h.dims[0]})`,
      );
    }
    return this.cache.subarray(start * h.recordBytes, (start + count) * h.recordBytes);
  }

  /** The raw big-endian bytes of records [start, start + count). */
  async readBytes(start: number, count: number): Promise<Uint8Array> {
    const h = this.header;
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(count) ||
      start < 0 ||
      count < 0 ||
      start + count > h.dims[0]
    ) {
      throw new RangeError(
        `${this.path}: records [${start}, ${start + count}) are out of range (the file has ${h.dims[0]})`,
      );
    }
    if (this.cache) return this.cache.subarray(start * h.recordBytes, (start + count) * h.recordBytes);
    if (this.handleClosed) throw new Error(`${this.path}: the file was closed`);
    const out = new Uint8Array(count * h.recordBytes);
    const pos = h.headerBytes + start * h.recordBytes;
    let got = 0;
    while (got < out.length) {
      const { bytesRead } = await this.fh.read(out, got, out.length - got, pos + got);
      if (bytesRead === 0) {
        throw new Error(
          `${this.path}: truncated IDX file: record ${start + Math.floor(got / h.recordBytes)} is incomplete`,
        );
      }
      got += bytesRead;
    }
    return out;
  }

  /**
   * Reads every record into memory once, so later reads cost no I/O (random order then runs at
   * memory speed; MNIST's training images take 47 MB).
   */
  async preload(): Promise<void> {
    if (this.cache) return;
    this.cache = await this.readBytes(0, this.length);
    // Nothing is read from disk any more, so the descriptor need not outlive this call.
    await this.closeHandle();
  }

  private handleClosed = false;
  private async closeHandle(): Promise<void> {
    if (this.handleClosed) return;
    this.handleClosed = true;
    await this.fh.close();
  }

  async close(): Promise<void> {
    this.cache = null;
    await this.closeHandle();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Whether this platform's typed arrays are little-endian (all current ones; checked anyway). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Rows `indices` of unsigned bytes, times `scale`, into float32 (MNIST images): the loader's hot
 * loop. A separate function per output type, so that V8 compiles each one monomorphic.
 */
function gatherBytesF32(
  bytes: Uint8Array,
  indices: readonly number[],
  size: number,
  out: Float32Array,
  scale: number,
): void {
  if (LITTLE_ENDIAN && (size & 3) === 0 && (bytes.byteOffset & 3) === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    gatherWordsF32(words, indices, size >> 2, out, scale);
    return;
  }
  for (let j = 0; j < indices.length; j++) {
    const src = indices[j] * size;
    const dst = j * size;
    for (let k = 0; k < size; k++) out[dst + k] = bytes[src + k] * scale;
  }
}

/**
 * gatherBytesF32 for rows of whole 32-bit words: one load (and bounds check) per four bytes makes
 * the loop about 1.5x as fast in V8. The values are the same: each byte is still multiplied by
 * `scale` on its own.
 */
function gatherWordsF32(
  words: Uint32Array,
  indices: readonly number[],
  wordsPerRow: number,
  out: Float32Array,
  scale: number,
): void {
  for (let j = 0; j < indices.length; j++) {
    let src = indices[j] * wordsPerRow;
    const end = src + wordsPerRow;
    let dst = j * wordsPerRow * 4;
    for (; src < end; src++, dst += 4) {
      const w = words[src];
      out[dst] = (w & 255) * scale;
      out[dst + 1] = ((w >>> 8) & 255) * scale;
      out[dst + 2] = ((w >>> 16) & 255) * scale;
      out[dst + 3] = (w >>> 24) * scale;
    }
  }
}

/** gatherBytesF32 into int32 (labels); each value converts as decodeIdx stores it. */
function gatherBytesI32(
  bytes: Uint8Array,
  indices: readonly number[],
  size: number,
  out: Int32Array,
  scale: number,
): void {
  for (let j = 0; j < indices.length; j++) {
    const src = indices[j] * size;
    const dst = j * size;
    for (let k = 0; k < size; k++) out[dst + k] = bytes[src + k] * scale;
  }
}

export interface IdxDatasetOptions extends IdxDecodeOptions {
  /**
   * Read the whole file into memory when opening (default false: read records from disk on
   * demand). Worth it for shuffled epochs over files that fit in memory; each worker preloads its own copy.
   */
  preload?: boolean;
}

/**
 * A map-style dataset over an IDX file, one NDArray per record, read from disk on demand (a run
 * of consecutive indices is one read). Open with `await IdxDataset.open(path, options)`; it
 * describes itself, so it works with `workers > 0`.
 */
export class IdxDataset extends Dataset<NDArray> {
  readonly recordShape: number[];
  readonly dtype: HostDType;
  private constructor(
    readonly file: IdxFile,
    readonly options: IdxDatasetOptions,
  ) {
    super();
    this.recordShape = checkRecordShape(file.header, options, file.path);
    this.dtype = outputDType(file.header, options);
  }

  static async open(path: string, options: IdxDatasetOptions = {}): Promise<IdxDataset> {
    checkOptionKeys("IdxDataset.open", options, IDX_DATASET_KEYS);
    checkDecodeOptions(options, "IdxDataset.open");
    const file = await IdxFile.open(path);
    try {
      // Checked before preloading, and the file is closed when anything fails.
      checkRecordShape(file.header, options, file.path);
      if (options.preload) await file.preload();
      return new IdxDataset(file, options);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  get length(): number {
    return this.file.length;
  }

  get path(): string {
    return this.file.path;
  }

  get(i: number): NDArray | Promise<NDArray> {
    const decode = (bytes: Uint8Array) =>
      new NDArray(decodeIdx(this.file.header, bytes, 1, this.options), this.recordShape, this.dtype);
    if (this.file.preloaded) return decode(this.file.readBytesSync(i, 1));
    return this.file.readBytes(i, 1).then(decode);
  }

  getMany(indices: readonly number[]): NDArray[] | Promise<NDArray[]> {
    if (this.file.preloaded) {
      // One allocation for the whole batch; each sample is a view of it.
      const size = this.file.header.recordSize;
      const all =
        this.dtype === "float32"
          ? new Float32Array(indices.length * size)
          : new Int32Array(indices.length * size);
      return indices.map((i, j) => {
        const view = all.subarray(j * size, (j + 1) * size);
        decodeIdx(this.file.header, this.file.readBytesSync(i, 1), 1, this.options, view);
        return new NDArray(view, this.recordShape, this.dtype);
      });
    }
    return this.readMany(indices);
  }

  /**
   * The collated batch of the given records, as `collateHost(getMany(indices))` would build it,
   * but decoded straight from the preloaded bytes into one typed array: no per-sample NDArray and
   * no second copy while stacking (the DataLoader's hot path). Null when the file is not preloaded.
   */
  getBatch(indices: readonly number[], alloc: HostAlloc = freshHost): HostBatch | null {
    const bytes = this.file.bytes;
    if (!bytes) return null;
    const h = this.file.header;
    const size = h.recordSize;
    const n = h.dims[0];
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j];
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new RangeError(`${this.file.path}: record ${i} is out of range (the file has ${n})`);
      }
    }
    const out = alloc(this.dtype, indices.length * size);
    if (h.typeCode === 0x08) {
      // Unsigned bytes need no decoding: one pass per batch instead of a decodeIdx call (and a
      // subarray) per record, which for one-byte labels is most of their cost.
      const scale = this.options.scale ?? 1;
      if (out instanceof Float32Array) gatherBytesF32(bytes, indices, size, out, scale);
      else gatherBytesI32(bytes, indices, size, out as Int32Array, scale);
    } else {
      const rb = h.recordBytes;
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j];
        decodeIdx(
          h,
          bytes.subarray(i * rb, (i + 1) * rb),
          1,
          this.options,
          out.subarray(j * size, (j + 1) * size) as Float32Array | Int32Array,
        );
      }
    }
    return { k: "nd", data: out, shape: [indices.length, ...this.recordShape], dtype: this.dtype };
  }

  private async readMany(indices: readonly number[]): Promise<NDArray[]> {
    const out = new Array<NDArray>(indices.length);
    const reads: Promise<void>[] = [];
    const size = this.file.header.recordSize;
    let j = 0;
    while (j < indices.length) {
      let k = j + 1;
      while (k < indices.length && indices[k] === indices[k - 1] + 1) k++;
      const from = j;
      const count = k - j;
      reads.push(
        this.file.readBytes(indices[from], count).then((bytes) => {
          const all = decodeIdx(this.file.header, bytes, count, this.options);
          for (let r = 0; r < count; r++) {
            out[from + r] = new NDArray(all.subarray(r * size, (r + 1) * size), this.recordShape, this.dtype);
          }
        }),
      );
      j = k;
    }
    await Promise.all(reads);
    return out;
  }

  override describe(): Describe {
    return { kind: "idx", path: this.file.path, options: { ...this.options } };
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
