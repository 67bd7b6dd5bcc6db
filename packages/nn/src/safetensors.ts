import { type DType, formatShape, fromArray, type Tensor } from "@minibatch/tensor";

/**
 * The safetensors format (https://github.com/huggingface/safetensors), so weights move to and from
 * PyTorch (`safetensors.torch.save_file` / `load_file`): an 8-byte little-endian header length, a
 * JSON header { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {string: string} },
 * then the raw little-endian tensor bytes, offsets relative to the end of the header.
 */

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const WRITE_DTYPE: Record<DType, string> = { float32: "F32", int32: "I32", bool: "BOOL" };

/** Dtypes read as they are, and those widened or narrowed on load to the nearest one minibatch has. */
const READ_DTYPE: Record<string, { bytes: number; to: DType }> = {
  F32: { bytes: 4, to: "float32" },
  I32: { bytes: 4, to: "int32" },
  BOOL: { bytes: 1, to: "bool" },
  U8: { bytes: 1, to: "int32" },
  I8: { bytes: 1, to: "int32" },
  I16: { bytes: 2, to: "int32" },
  U16: { bytes: 2, to: "int32" },
  I64: { bytes: 8, to: "int32" },
  F64: { bytes: 8, to: "float32" },
  F16: { bytes: 2, to: "float32" },
  BF16: { bytes: 2, to: "float32" },
};

// The reference implementation refuses headers above 100 MB; a larger length means a corrupt file.
const MAX_HEADER = 100_000_000;
const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Serializes tensors (read asynchronously from any backend) with optional string metadata.
 * Tensors are packed in the order of their names, sorted, so the same state gives the same bytes.
 */
export async function saveSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(`saveSafetensors: metadata values must be strings, '${k}' is ${typeof v}`);
      }
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new Error("saveSafetensors: '__metadata__' cannot name a tensor");
    const t = tensors[name];
    if (!t || typeof (t as Tensor).data !== "function") {
      throw new Error(`saveSafetensors: '${name}' is not a Tensor`);
    }
    const bytes = toLittleEndian(await t.data(), t.dtype);
    header[name] = {
      dtype: WRITE_DTYPE[t.dtype],
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes.length],
    };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  const raw = new TextEncoder().encode(json);
  json += " ".repeat((8 - ((8 + raw.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function toLittleEndian(values: ArrayLike<number> & ArrayBufferView, dtype: DType): Uint8Array {
  if (dtype === "bool") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  if (littleEndianHost)
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === "float32") dv.setFloat32(i * 4, values[i], true);
    else dv.setInt32(i * 4, values[i], true);
  }
  return out;
}

/**
 * Parses a safetensors file into tensors on `backend` (the active one by default). F64/F16/BF16 are
 * converted to float32 and U8/I8/I16/U16/I64 to int32 (an I64 value outside int32's range is an
 * error); other dtypes are refused by name.
 */
export function loadSafetensors(
  bytes: Uint8Array | ArrayBuffer,
  opts: { backend?: string } = {},
): SafetensorsFile {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const fail = (msg: string): never => {
    throw new Error(`loadSafetensors: ${msg}`);
  };
  if (buf.length < 8) fail(`the file is ${buf.length} bytes, too short for the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER))
    fail(`header length ${n} is implausibly large (corrupt file, or not safetensors)`);
  const headerLen = Number(n);
  if (8 + headerLen > buf.length) {
    fail(`header length ${headerLen} runs past the end of the ${buf.length}-byte file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header))
    fail("the header must be a JSON object");
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, any>)) {
    if (name === "__metadata__") {
      if (!info || typeof info !== "object" || Array.isArray(info))
        fail("__metadata__ must be an object of strings");
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== "string") fail(`__metadata__ value '${k}' must be a string, got ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (!info || typeof info !== "object") fail(`entry '${name}' must be an object`);
    const { dtype, shape, data_offsets: off } = info;
    if (typeof dtype !== "string") fail(`tensor '${name}' has no dtype`);
    if (!READ_DTYPE[dtype]) {
      fail(
        `tensor '${name}' has unsupported dtype '${dtype}' (supported: ${Object.keys(READ_DTYPE).join(", ")})`,
      );
    }
    if (!Array.isArray(shape) || shape.some((d: unknown) => !Number.isInteger(d) || (d as number) < 0)) {
      fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      off.some((o: unknown) => !Number.isInteger(o) || (o as number) < 0) ||
      off[0] > off[1]
    ) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    }
    if (off[1] > dataLen) {
      fail(`tensor '${name}' data_offsets [${off}] run past the end of the data (${dataLen} bytes)`);
    }
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    const need = size * READ_DTYPE[dtype].bytes;
    if (off[1] - off[0] !== need) {
      fail(
        `tensor '${name}' (${dtype} ${formatShape(shape)}) needs ${need} bytes but data_offsets [${off}] span ${off[1] - off[0]}`,
      );
    }
    entries.push({ name, dtype, shape, begin: off[0], end: off[1] });
  }
  // Empty tensors occupy no bytes, so they overlap nothing (PyTorch writes them at any offset).
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      fail(`tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap in the data`);
    }
  }
  const tensors: Record<string, Tensor> = {};
  try {
    for (const e of entries) {
      const view = new DataView(buf.buffer, buf.byteOffset + dataStart + e.begin, e.end - e.begin);
      const { to } = READ_DTYPE[e.dtype];
      tensors[e.name] = fromArray(decode(view, e.dtype, e.name), e.shape, to, { backend: opts.backend });
    }
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

function decode(dv: DataView, dtype: string, name: string): Float32Array | Int32Array | Uint8Array {
  const bytes = READ_DTYPE[dtype].bytes;
  const n = dv.byteLength / bytes;
  if (littleEndianHost && (dtype === "F32" || dtype === "I32")) {
    // One copy into a fresh (aligned) buffer instead of n DataView reads.
    const copy = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength).slice().buffer;
    return dtype === "F32" ? new Float32Array(copy) : new Int32Array(copy);
  }
  switch (dtype) {
    case "F32": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    }
    case "F64": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(n);
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, dv.getUint16(i * 2, true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      return out;
    }
    case "BOOL": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(i) ? 1 : 0;
      return out;
    }
    default: {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = readInt(dv, dtype, i);
        if (v < -2147483648 || v > 2147483647) {
          throw new Error(`loadSafetensors: tensor '${name}' value ${v} at ${i} does not fit in int32`);
        }
        out[i] = v;
      }
      return out;
    }
  }
}

function readInt(dv: DataView, dtype: string, i: number): number {
  switch (dtype) {
    case "I32":
      return dv.getInt32(i * 4, true);
    case "U8":
      return dv.getUint8(i);
    case "I8":
      return dv.getInt8(i);
    case "I16":
      return dv.getInt16(i * 2, true);
    case "U16":
      return dv.getUint16(i * 2, true);
    default:
      return Number(dv.getBigInt64(i * 8, true));
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
