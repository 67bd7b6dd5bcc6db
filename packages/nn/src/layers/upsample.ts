import { checkOptionKeys, composite, formatShape, fromArray, type Tensor } from "@minibatch/tensor";
import { Module } from "../module";

export type InterpolateMode = "nearest" | "linear" | "bilinear";

export interface InterpolateOptions {
  /** Output size of the spatial axes (a number for all of them). Give this or scaleFactor. */
  size?: number | number[];
  /** Multiplier of the spatial sizes; the output size is floor(input · scaleFactor). */
  scaleFactor?: number | number[];
  /** 'nearest' (default), 'linear' (3-d input) or 'bilinear' (4-d input). */
  mode?: InterpolateMode;
  /**
   * Linear modes only: map the corner pixels' centres onto each other (true) or the corners of the
   * pixel grid (false, PyTorch's default).
   */
  alignCorners?: boolean;
}

const KEYS = ["size", "scaleFactor", "mode", "alignCorners"];

/** Checks the options and returns the output sizes and each axis's scale factor (if one was given). */
function plan(x: Tensor, o: InterpolateOptions, op: string): { out: number[]; scales: (number | null)[] } {
  const mode = o.mode ?? "nearest";
  const spatial = x.rank - 2;
  const wanted = mode === "bilinear" ? 2 : 1;
  if (mode !== "nearest" && mode !== "linear" && mode !== "bilinear") {
    throw new Error(`${op}: mode must be 'nearest', 'linear' or 'bilinear', got '${String(mode)}'`);
  }
  if ((mode === "nearest" && spatial !== 1 && spatial !== 2) || (mode !== "nearest" && spatial !== wanted)) {
    throw new Error(
      `${op}: mode '${mode}' expects input of shape ${mode === "linear" ? "[N, C, L]" : mode === "bilinear" ? "[N, C, H, W]" : "[N, C, L] or [N, C, H, W]"}, got ${formatShape(x.shape)}`,
    );
  }
  if (o.alignCorners !== undefined && mode === "nearest") {
    throw new Error(`${op}: alignCorners can only be set with 'linear' or 'bilinear' mode`);
  }
  if ((o.size === undefined) === (o.scaleFactor === undefined)) {
    throw new Error(`${op}: give exactly one of size and scaleFactor`);
  }
  const inSizes = x.shape.slice(2);
  const list = (v: number | number[], name: string) => {
    const a = Array.isArray(v) ? [...v] : inSizes.map(() => v);
    if (a.length !== spatial) {
      throw new Error(
        `${op}: ${name} needs ${spatial} value(s) for input ${formatShape(x.shape)}, got [${a}]`,
      );
    }
    return a;
  };
  if (o.size !== undefined) {
    const out = list(o.size, "size");
    if (out.some((v) => !Number.isInteger(v) || v <= 0))
      throw new Error(`${op}: size must be positive integers, got [${out}]`);
    return { out, scales: out.map(() => null) };
  }
  const scales = list(o.scaleFactor as number | number[], "scaleFactor");
  if (scales.some((v) => !(typeof v === "number" && v > 0 && Number.isFinite(v)))) {
    throw new Error(`${op}: scaleFactor must be positive numbers, got [${scales}]`);
  }
  const out = inSizes.map((n, i) => Math.floor(n * scales[i]));
  if (out.some((v) => v <= 0)) throw new Error(`${op}: scaleFactor [${scales}] gives an empty output`);
  return { out, scales };
}

/** Resamples one axis. PyTorch maps output index d to input coordinate d·scale (see the modes). */
function resample(
  x: Tensor,
  axis: number,
  outN: number,
  scaleFactor: number | null,
  mode: InterpolateMode,
  alignCorners: boolean,
): Tensor {
  const n = x.shape[axis];
  // The step between output and input coordinates: 1/scaleFactor when one was given, else n/out.
  const scale = scaleFactor !== null ? 1 / scaleFactor : n / outN;
  if (mode === "nearest") {
    const idx = Array.from({ length: outN }, (_, d) => Math.min(Math.floor(d * scale), n - 1));
    return x.indexSelect(axis, idx);
  }
  const i0: number[] = [];
  const i1: number[] = [];
  const frac = new Float32Array(outN);
  for (let d = 0; d < outN; d++) {
    const src = alignCorners
      ? outN > 1
        ? (d * (n - 1)) / (outN - 1)
        : 0
      : Math.max(0, (d + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(src), n - 1);
    i0.push(lo);
    i1.push(Math.min(lo + 1, n - 1));
    frac[d] = src - lo;
  }
  const shape = x.shape.map((_, i) => (i === axis ? outN : 1)).slice(axis);
  const w = fromArray(frac, shape, "float32", { backend: x.backend.name });
  const a = x.indexSelect(axis, i0);
  const b = x.indexSelect(axis, i1);
  return a.add(b.sub(a).mul(w));
}

/**
 * Resizes [N, C, L] or [N, C, H, W] (PyTorch `F.interpolate`): 'nearest' copies input
 * floor(d·scale), the linear modes blend the two nearest inputs; see `alignCorners`. Built from
 * indexSelect and arithmetic, so gradients flow to the input.
 */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  return composite([x], () => {
    const op = "interpolate";
    checkOptionKeys(op, opts, KEYS);
    if (x.dtype !== "float32") throw new Error(`${op}: expected a float32 input, got ${x.dtype}`);
    const { out, scales } = plan(x, opts, op);
    const mode = opts.mode ?? "nearest";
    let y = x;
    for (let i = 0; i < out.length; i++) {
      y = resample(y, 2 + i, out[i], scales[i], mode, opts.alignCorners ?? false);
    }
    return y === x ? x.clone() : y;
  });
}

/** Module form of `interpolate` (PyTorch `nn.Upsample`). */
export class Upsample extends Module {
  constructor(readonly opts: InterpolateOptions) {
    super();
    checkOptionKeys("Upsample", opts, KEYS);
    if ((opts.size === undefined) === (opts.scaleFactor === undefined)) {
      throw new Error("Upsample: give exactly one of size and scaleFactor");
    }
  }
  forward(x: Tensor): Tensor {
    return interpolate(x, this.opts);
  }
  override extraRepr(): string {
    const o = this.opts;
    return [
      o.size !== undefined
        ? `size=${JSON.stringify(o.size)}`
        : `scaleFactor=${JSON.stringify(o.scaleFactor)}`,
      `mode='${o.mode ?? "nearest"}'`,
      ...(o.alignCorners !== undefined ? [`alignCorners=${o.alignCorners}`] : []),
    ].join(", ");
  }
}
