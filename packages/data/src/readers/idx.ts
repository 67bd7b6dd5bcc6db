import { checkOptionKeys } from "@minibatch/tensor";
import { formatShape, type HostDType, NDArray } from "../ndarray";
import { type ByteSource, bytesOf, sourceName } from "./source";

/** IDX element types by their code in the third magic byte. */
export const IDX_TYPES = {
  8: { name: "ubyte", bytes: 1, float: false },
  9: { name: "byte", bytes: 1, float: false },
  11: { name: "short", bytes: 2, float: false },
  12: { name: "int", bytes: 4, float: false },
  13: { name: "float", bytes: 4, float: true },
  14: { name: "double", bytes: 8, float: true },
} as const;
export type IdxTypeCode = keyof typeof IDX_TYPES;

export interface IdxHeader {
  /** The 32-bit magic number, e.g. 0x00000803 for MNIST images. */
  magic: number;
  typeCode: IdxTypeCode;
  typeName: (typeof IDX_TYPES)[IdxTypeCode]["name"];
  /** All dimensions; dims[0] is the number of records. */
  dims: number[];
  /** Bytes before the first record. */
  headerBytes: number;
  /** Shape of one record (dims without the first). */
  recordShape: number[];
  /** Elements per record. */
  recordSize: number;
  recordBytes: number;
  /** headerBytes + records * recordBytes: the exact size a well-formed file has. */
  expectedBytes: number;
}

export interface IdxDecodeOptions {
  /**
   * Output dtype: "float32" or "int32"; default float32 for float/double files and for any file
   * when `scale` is set, int32 otherwise.
   */
  dtype?: "float32" | "int32";
  /** Multiply every value (e.g. 1 / 255 to map pixels to [0, 1]); implies float32. */
  scale?: number;
  /** Reshape each record (same number of elements), e.g. [784] to flatten 28x28 images. */
  recordShape?: number[];
}

/** The largest record accepted (1 GiB); a larger one means a corrupt header, not real data. */
export const MAX_RECORD_BYTES = 2 ** 30;

const DECODE_KEYS = ["dtype", "scale", "recordShape"] as const;
export const IDX_STREAM_KEYS = [...DECODE_KEYS, "batchSize", "name"] as const;
export const IDX_DATASET_KEYS = [...DECODE_KEYS, "preload"] as const;

/** Checks the decode options' values (keys are checked by the caller). */
export function checkDecodeOptions(opts: IdxDecodeOptions, who: string): void {
  if (opts.dtype !== undefined && opts.dtype !== "float32" && opts.dtype !== "int32") {
    throw new Error(`${who}: dtype must be 'float32' or 'int32', got ${JSON.stringify(opts.dtype)}`);
  }
  if (opts.scale !== undefined && !(typeof opts.scale === "number" && Number.isFinite(opts.scale))) {
    throw new Error(`${who}: scale must be a finite number, got ${String(opts.scale)}`);
  }
  if (
    opts.recordShape !== undefined &&
    (!Array.isArray(opts.recordShape) || opts.recordShape.some((d) => !Number.isInteger(d) || d < 0))
  ) {
    throw new Error(
      `${who}: recordShape must be an array of non-negative integers, got ${JSON.stringify(opts.recordShape)}`,
    );
  }
}

/** Bytes needed before the header can be parsed; 4 until the dimension count is known. */
export function idxHeaderLength(bytes: Uint8Array): number {
  return bytes.length < 4 ? 4 : 4 + 4 * bytes[3];
}

/** Parses and checks the header; throws an error naming `name` for anything malformed. */
export function parseIdxHeader(bytes: Uint8Array, name: string, fileBytes?: number): IdxHeader {
  if (bytes.length < 4) {
    throw new Error(
      `${name}: truncated IDX file: ${bytes.length} bytes, too short for the 4-byte magic number`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const code = bytes[2] as IdxTypeCode;
  const nd = bytes[3];
  const hex = `0x${magic.toString(16).padStart(8, "0")}`;
  if (bytes[0] !== 0 || bytes[1] !== 0 || !(code in IDX_TYPES) || nd === 0) {
    throw new Error(
      `${name}: bad IDX magic number ${hex}: expected 0x0000TTDD with type byte TT in 08/09/0B/0C/0D/0E and DD >= 1 dimensions (e.g. 0x00000803 for images, 0x00000801 for labels)`,
    );
  }
  const headerBytes = 4 + 4 * nd;
  if (bytes.length < headerBytes) {
    throw new Error(
      `${name}: truncated IDX header: ${nd} dimensions need ${headerBytes} bytes, got ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const t = IDX_TYPES[code];
  const recordShape = dims.slice(1);
  const recordSize = recordShape.reduce((a, b) => a * b, 1);
  const recordBytes = recordSize * t.bytes;
  const expectedBytes = headerBytes + dims[0] * recordBytes;
  // Dimensions are 32-bit each, so a corrupt header can declare records no buffer can hold.
  if (recordBytes > MAX_RECORD_BYTES) {
    throw new Error(
      `${name}: IDX header declares records of shape ${formatShape(recordShape)} (${t.name}), ${recordBytes} bytes each, more than the ${MAX_RECORD_BYTES} bytes one record may have; the header is probably corrupt`,
    );
  }
  if (fileBytes !== undefined && fileBytes > expectedBytes) {
    throw new Error(
      `${name}: IDX file has trailing data: the header declares ${dims[0]} records of shape ${formatShape(recordShape)} (${t.name}), ${expectedBytes} bytes, but the file has ${fileBytes} bytes`,
    );
  }
  if (fileBytes !== undefined && fileBytes < expectedBytes) {
    const whole = recordBytes > 0 ? Math.floor((fileBytes - headerBytes) / recordBytes) : 0;
    throw new Error(
      `${name}: truncated IDX file: the header declares ${dims[0]} records of shape ${formatShape(recordShape)} (${t.name}), ${expectedBytes} bytes, but the file has ${fileBytes} bytes; record ${Math.max(0, whole)} is incomplete`,
    );
  }
  return {
    magic,
    typeCode: code,
    typeName: t.name,
    dims,
    headerBytes,
    recordShape,
    recordSize,
    recordBytes,
    expectedBytes,
  };
}

export function outputDType(h: IdxHeader, opts: IdxDecodeOptions): HostDType {
  if (opts.dtype) return opts.dtype;
  if (opts.scale !== undefined) return "float32";
  return IDX_TYPES[h.typeCode].float ? "float32" : "int32";
}

/**
 * Decodes `count` records of big-endian IDX data into a new array of the output dtype. Single-byte
 * types avoid the DataView, which matters for image files.
 */
export function decodeIdx(
  h: IdxHeader,
  bytes: Uint8Array,
  count: number,
  opts: IdxDecodeOptions,
  into?: Float32Array | Int32Array,
): Float32Array | Int32Array {
  const n = count * h.recordSize;
  const dtype = outputDType(h, opts);
  const out = into ?? (dtype === "float32" ? new Float32Array(n) : new Int32Array(n));
  const scale = opts.scale;
  const code = h.typeCode;
  if (code === 0x08 || code === 0x09) {
    const src = code === 0x08 ? bytes : new Int8Array(bytes.buffer, bytes.byteOffset, n);
    if (scale === undefined) out.set(src.subarray(0, n));
    else for (let i = 0; i < n; i++) out[i] = src[i] * scale;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const s = scale ?? 1;
  for (let i = 0; i < n; i++) {
    let v: number;
    if (code === 0x0b) v = view.getInt16(2 * i, false);
    else if (code === 0x0c) v = view.getInt32(4 * i, false);
    else if (code === 0x0d) v = view.getFloat32(4 * i, false);
    else v = view.getFloat64(8 * i, false);
    out[i] = v * s;
  }
  return out;
}

export function checkRecordShape(h: IdxHeader, opts: IdxDecodeOptions, name: string): number[] {
  const shape = opts.recordShape ?? h.recordShape;
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== h.recordSize) {
    throw new Error(
      `${name}: recordShape ${formatShape(shape)} has ${size} elements but records have shape ${formatShape(h.recordShape)} (${h.recordSize} elements)`,
    );
  }
  return [...shape];
}

export interface IdxBatch {
  header: IdxHeader;
  /** Index of the first record in this batch. */
  start: number;
  count: number;
  /** The records, shape [count, ...recordShape]. */
  data: NDArray;
}

export interface IdxStreamOptions extends IdxDecodeOptions {
  /** Records per yielded batch (default 256). */
  batchSize?: number;
  /** Name used in error messages (a path or URL). */
  name?: string;
}

/**
 * Streams an IDX file (from a `fetch` body, a Node stream, ...) as batches of records, holding
 * at most one batch and one chunk in memory. Gzip-compressed data is detected and inflated.
 */
export async function* streamIdx(source: ByteSource, opts: IdxStreamOptions = {}): AsyncGenerator<IdxBatch> {
  checkOptionKeys("streamIdx", opts, IDX_STREAM_KEYS);
  checkDecodeOptions(opts, "streamIdx");
  const name = sourceName(source, opts.name);
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`streamIdx: batchSize must be a positive integer, got ${batchSize}`);
  }
  let head = new Uint8Array(0);
  let h: IdxHeader | null = null;
  let shape: number[] = [];
  let buf = new Uint8Array(0);
  let fill = 0;
  let next = 0;
  let total = 0;

  const emit = (count: number): IdxBatch => {
    const data = decodeIdx(h!, buf, count, opts);
    const b: IdxBatch = {
      header: h!,
      start: next,
      count,
      data: new NDArray(data, [count, ...shape], outputDType(h!, opts)),
    };
    next += count;
    fill = 0;
    return b;
  };

  for await (let chunk of bytesOf(source, name)) {
    total += chunk.length;
    if (!h) {
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      if (joined.length < idxHeaderLength(joined)) {
        head = joined;
        continue;
      }
      h = parseIdxHeader(joined, name);
      shape = checkRecordShape(h, opts, name);
      const records = Math.max(1, Math.min(batchSize, h.dims[0]));
      buf = new Uint8Array(records * h.recordBytes);
      chunk = joined.subarray(h.headerBytes);
    }
    while (chunk.length > 0) {
      const remaining = (h.dims[0] - next) * h.recordBytes - fill;
      if (remaining <= 0) {
        throw new Error(
          `${name}: IDX file has trailing data: the header declares ${h.dims[0]} records (${h.expectedBytes} bytes) but more bytes follow`,
        );
      }
      const batchBytes = Math.min(buf.length, (h.dims[0] - next) * h.recordBytes);
      const take = Math.min(chunk.length, batchBytes - fill);
      buf.set(chunk.subarray(0, take), fill);
      fill += take;
      chunk = chunk.subarray(take);
      if (fill === batchBytes) yield emit(batchBytes / h.recordBytes);
    }
  }
  if (!h) {
    parseIdxHeader(head, name);
    return;
  }
  // Records of zero elements (a dimension of 0) occupy no bytes: no data ever arrives to emit them.
  while (h.recordBytes === 0 && next < h.dims[0]) yield emit(Math.min(batchSize, h.dims[0] - next));
  if (next < h.dims[0]) {
    throw new Error(
      `${name}: truncated IDX file: the header declares ${h.dims[0]} records (${h.expectedBytes} bytes) but the data ends after ${total} bytes, in record ${next + Math.floor(fill / h.recordBytes)}`,
    );
  }
}
