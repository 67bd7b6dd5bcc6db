import { formatShape as fmt, Tensor } from "@minibatch/tensor";

/** Data a scaler can be fitted on: a tensor, nested number arrays, or flat values with a shape. */
export type FitInput = Tensor | readonly unknown[] | { values: ArrayLike<number>; shape: readonly number[] };

export interface HostData {
  values: ArrayLike<number>;
  shape: readonly number[];
}

/** Reads fit data to the host. Plain arrays stay float64, so host data loses nothing to float32. */
export async function readHost(x: FitInput, who: string): Promise<HostData> {
  if (x instanceof Tensor) return { values: await x.data(), shape: x.shape };
  if (Array.isArray(x)) {
    const shape: number[] = [];
    let cur: unknown = x;
    while (Array.isArray(cur)) {
      shape.push(cur.length);
      cur = cur[0];
    }
    const flat = (x as unknown[]).flat(shape.length) as number[];
    const expected = shape.reduce((a, b) => a * b, 1);
    if (flat.length !== expected || flat.some((v) => typeof v !== "number")) {
      throw new Error(`${who}: ragged or non-numeric nested array (expected shape ${fmt(shape)})`);
    }
    return { values: flat, shape };
  }
  if (x && typeof x === "object" && "values" in x && "shape" in x) {
    const n = x.shape.reduce((a, b) => a * b, 1);
    if (x.values.length !== n) {
      throw new Error(`${who}: ${x.values.length} values cannot fill shape ${fmt(x.shape)}`);
    }
    return x;
  }
  throw new Error(`${who}: expected a Tensor, nested number arrays or { values, shape }`);
}

/**
 * Which axes are samples (reduced over) and which are features. `keptShape` is the input shape
 * with the sample axes set to 1: the statistics broadcast against the input in that shape.
 */
export interface Layout {
  rank: number;
  sampleAxes: number[];
  keptShape: number[];
  nFeatures: number;
}

export function normalizeSampleAxes(axis: number | readonly number[], rank: number, who: string): number[] {
  const list = typeof axis === "number" ? [axis] : [...axis];
  const out = list.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new Error(`${who}: axis ${a} is out of range for input of rank ${rank}`);
    }
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) throw new Error(`${who}: axis [${list.join(", ")}] repeats an axis`);
  return out.sort((a, b) => a - b);
}

export function layoutOf(shape: readonly number[], axis: number | readonly number[], who: string): Layout {
  const sampleAxes = normalizeSampleAxes(axis, shape.length, who);
  const keptShape = shape.map((d, i) => (sampleAxes.includes(i) ? 1 : d));
  return { rank: shape.length, sampleAxes, keptShape, nFeatures: keptShape.reduce((a, b) => a * b, 1) };
}

/** Errors unless `shape` has the fitted rank and the fitted size on every feature axis. */
export function checkLayout(layout: Layout, shape: readonly number[], who: string): void {
  const ok =
    shape.length === layout.rank &&
    shape.every((d, i) => layout.sampleAxes.includes(i) || d === layout.keptShape[i]);
  if (!ok) {
    const want = layout.keptShape.map((d, i) => (layout.sampleAxes.includes(i) ? "*" : d)).join(", ");
    throw new Error(`${who}: input of shape ${fmt(shape)} does not match the fitted feature shape [${want}]`);
  }
}

/**
 * Calls `visit(value, feature)` for every element in row-major order. The feature index walks
 * like an odometer, so arbitrary sample axes cost no division per element.
 */
export function forEachFeature(
  data: HostData,
  layout: Layout,
  visit: (v: number, feature: number, index: number) => void,
): void {
  const { values, shape } = data;
  const rank = shape.length;
  const total = values.length;
  if (total === 0) return;
  const fstride = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (!layout.sampleAxes.includes(d)) {
      fstride[d] = acc;
      acc *= shape[d];
    }
  }
  if (rank === 0) {
    visit(values[0], 0, 0);
    return;
  }
  const coord = new Array<number>(rank).fill(0);
  let f = 0;
  for (let i = 0; i < total; i++) {
    visit(values[i], f, i);
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]++;
      f += fstride[d];
      if (coord[d] < shape[d]) break;
      f -= fstride[d] * coord[d];
      coord[d] = 0;
    }
  }
}

/** Rejects +-Infinity before any state changes, naming the feature and the value (sklearn errors too). */
export function rejectInfinite(data: HostData, layout: Layout, who: string): void {
  forEachFeature(data, layout, (v, f, i) => {
    if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
      throw new Error(
        `${who}: feature ${f} contains ${v} (element ${i} of input shape ${fmt(data.shape)}); scalers accept finite values and NaN (ignored when fitting)`,
      );
    }
  });
}

/** Number of samples in an input: the product of its sample axes. */
export function sampleCount(shape: readonly number[], layout: Layout): number {
  return layout.sampleAxes.reduce((a, d) => a * shape[d], 1);
}

/** Splits float64 values into float32 hi + lo with hi + lo ~ v to about 2^-48 relative. */
export function splitFloat(v: Float64Array): { hi: Float32Array; lo: Float32Array } {
  const hi = new Float32Array(v.length);
  const lo = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    hi[i] = v[i];
    lo[i] = Number.isFinite(v[i]) ? v[i] - hi[i] : v[i];
  }
  return { hi, lo };
}

/** JSON has no NaN or Infinity: they travel as strings; finite doubles round-trip exactly. */
export type JsonNumber = number | "NaN" | "Infinity" | "-Infinity";

export function encodeArray(a: ArrayLike<number>): JsonNumber[] {
  return Array.from(a, (v) => (Number.isFinite(v) ? v : (String(v) as JsonNumber)));
}

export function decodeArray(a: readonly JsonNumber[], who: string): Float64Array<ArrayBuffer> {
  return Float64Array.from(a, (v) => {
    if (typeof v === "number") return v;
    if (v === "NaN" || v === "Infinity" || v === "-Infinity") return Number(v);
    throw new Error(`${who}: invalid number ${JSON.stringify(v)} in JSON`);
  });
}

/** Picks the tensor out of a loader batch: the batch itself, or the first field of a tuple. */
export function defaultSelect(batch: unknown, who: string): FitInput {
  if (batch instanceof Tensor) return batch;
  if (Array.isArray(batch) && batch[0] instanceof Tensor) return batch[0];
  throw new Error(
    `${who}: cannot tell which part of a batch to fit on; pass { select: (batch) => batch.x } (or the field holding the features)`,
  );
}

export type BatchSource<B> = Iterable<B> | AsyncIterable<B>;
