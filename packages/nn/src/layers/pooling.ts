import {
  avgPool2d as avgPoolKernel,
  checkOptionKeys,
  composite,
  formatShape,
  fromArray,
  maxPool2d as maxPoolKernel,
  pad,
  type Tensor,
  tensor,
} from "@minibatch/tensor";
import { Module } from "../module";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

export interface Pool2dOptions {
  /** Defaults to the kernel size, as in PyTorch. */
  stride?: Pair;
  /** Implicit padding per side (at most half the kernel). Max pooling pads with -Infinity. */
  padding?: Pair;
  /** Round the output size up instead of down: a last, partial window is kept. Default false. */
  ceilMode?: boolean;
}

export interface MaxPool2dOptions extends Pool2dOptions {
  /** Spacing between the elements of a window; default 1. */
  dilation?: Pair;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Count padded zeros in each window's average (PyTorch's default true); false averages only the input. */
  countIncludePad?: boolean;
  /** Divide every window's sum by this instead. */
  divisorOverride?: number;
}

interface Resolved {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
}

function resolve(layer: string, kernel: Pair, o: MaxPool2dOptions): Resolved {
  const r: Resolved = {
    kernel: pair(kernel),
    stride: pair(o.stride ?? kernel),
    padding: pair(o.padding ?? 0),
    dilation: pair(o.dilation ?? 1),
    ceilMode: o.ceilMode ?? false,
  };
  for (const [name, v, min] of [
    ["kernelSize", r.kernel, 1],
    ["stride", r.stride, 1],
    ["padding", r.padding, 0],
    ["dilation", r.dilation, 1],
  ] as const) {
    if (v.some((e) => !Number.isInteger(e) || e < min)) {
      throw new Error(`${layer}: ${name} must be integers >= ${min}, got [${v}]`);
    }
  }
  if (typeof r.ceilMode !== "boolean")
    throw new Error(`${layer}: ceilMode must be a boolean, got ${r.ceilMode}`);
  const eff = r.kernel.map((k, i) => r.dilation[i] * (k - 1) + 1);
  if (r.padding.some((p, i) => 2 * p > eff[i])) {
    throw new Error(`${layer}: padding [${r.padding}] must be at most half the kernel [${r.kernel}]`);
  }
  return r;
}

/** PyTorch's pooling output size; with ceilMode the last window must start inside the input or the left padding. */
function outSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const eff = d * (k - 1) + 1;
  let out = Math.floor((n + 2 * p - eff + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

function shapeOf(layer: string, x: Tensor, r: Resolved): [number, number] {
  if (x.rank !== 4)
    throw new Error(`${layer}: expected input of shape [N, C, H, W], got ${formatShape(x.shape)}`);
  const o = [0, 1].map((i) =>
    outSize(x.shape[2 + i], r.kernel[i], r.stride[i], r.padding[i], r.dilation[i], r.ceilMode),
  );
  if (o.some((v) => v <= 0)) {
    throw new Error(
      `${layer}: kernel [${r.kernel}] (dilation [${r.dilation}]) is larger than the input ${formatShape(x.shape)}`,
    );
  }
  return [o[0], o[1]];
}

/**
 * Pads x so every window of the pooling fits (the left/top padding plus whatever the right/bottom
 * needs, with ceilMode), then sums or maxes the kh·kw strided views of it.
 */
function windows(
  x: Tensor,
  r: Resolved,
  out: [number, number],
  fill: number,
  combine: "max" | "sum",
): Tensor {
  const need = [0, 1].map(
    (i) =>
      (out[i] - 1) * r.stride[i] + r.dilation[i] * (r.kernel[i] - 1) + 1 - (x.shape[2 + i] + r.padding[i]),
  );
  const xp = pad(
    x,
    [r.padding[1], Math.max(0, need[1]), r.padding[0], Math.max(0, need[0])],
    "constant",
    fill,
  );
  let acc: Tensor | null = null;
  for (let a = 0; a < r.kernel[0]; a++) {
    const rows = Array.from({ length: out[0] }, (_, i) => i * r.stride[0] + a * r.dilation[0]);
    const band = xp.indexSelect(2, rows);
    for (let b = 0; b < r.kernel[1]; b++) {
      const cols = Array.from({ length: out[1] }, (_, j) => j * r.stride[1] + b * r.dilation[1]);
      const v = band.indexSelect(3, cols);
      acc = acc === null ? v : combine === "max" ? acc.maximum(v) : acc.add(v);
    }
  }
  return acc as Tensor;
}

/**
 * Max pooling over [N, C, H, W] (PyTorch `nn.MaxPool2d`), with dilation and ceilMode. Windows pad
 * with -Infinity, so padding never wins. `returnIndices` is not supported.
 */
export class MaxPool2d extends Module {
  private readonly r: Resolved;
  constructor(
    readonly kernelSize: Pair,
    readonly opts: MaxPool2dOptions = {},
  ) {
    super();
    checkOptionKeys("MaxPool2d", opts, ["stride", "padding", "dilation", "ceilMode", "returnIndices"]);
    if ((opts as { returnIndices?: unknown }).returnIndices) {
      throw new Error("MaxPool2d: returnIndices is not supported");
    }
    this.r = resolve("MaxPool2d", kernelSize, opts);
  }
  forward(x: Tensor): Tensor {
    const r = this.r;
    const out = shapeOf("MaxPool2d", x, r);
    const plain =
      r.dilation.every((d) => d === 1) &&
      out.every((o, i) => o === outSize(x.shape[2 + i], r.kernel[i], r.stride[i], r.padding[i], 1, false));
    if (plain) return maxPoolKernel(x, r.kernel, { stride: r.stride, padding: r.padding });
    return composite([x], () => windows(x, r, out, Number.NEGATIVE_INFINITY, "max"));
  }
  override extraRepr(): string {
    return poolRepr(this.r);
  }
}

/**
 * Average pooling over [N, C, H, W] (PyTorch `nn.AvgPool2d`): padded zeros count in the average
 * unless countIncludePad is false; with ceilMode a window hanging past the padded input averages
 * only what it covers, as in PyTorch; divisorOverride replaces every divisor.
 */
export class AvgPool2d extends Module {
  private readonly r: Resolved;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
  constructor(
    readonly kernelSize: Pair,
    readonly opts: AvgPool2dOptions = {},
  ) {
    super();
    checkOptionKeys("AvgPool2d", opts, [
      "stride",
      "padding",
      "ceilMode",
      "countIncludePad",
      "divisorOverride",
    ]);
    this.r = resolve("AvgPool2d", kernelSize, opts);
    this.countIncludePad = opts.countIncludePad ?? true;
    if (typeof this.countIncludePad !== "boolean") {
      throw new Error(`AvgPool2d: countIncludePad must be a boolean, got ${this.countIncludePad}`);
    }
    const d = opts.divisorOverride;
    if (d !== undefined && !(Number.isInteger(d) && d > 0)) {
      throw new Error(`AvgPool2d: divisorOverride must be a positive integer, got ${d}`);
    }
    this.divisorOverride = d ?? null;
  }
  forward(x: Tensor): Tensor {
    const r = this.r;
    const out = shapeOf("AvgPool2d", x, r);
    const floorOut = out.every(
      (o, i) => o === outSize(x.shape[2 + i], r.kernel[i], r.stride[i], r.padding[i], 1, false),
    );
    const noPad = r.padding.every((p) => p === 0);
    if (floorOut && this.divisorOverride === null && (this.countIncludePad || noPad)) {
      return avgPoolKernel(x, r.kernel, { stride: r.stride, padding: r.padding });
    }
    return composite([x], () => windows(x, r, out, 0, "sum").div(this.divisors(x, out)));
  }
  /** Each window's divisor, [OH, OW], following PyTorch's rules. */
  private divisors(x: Tensor, out: [number, number]): Tensor {
    const r = this.r;
    const sizes = [0, 1].map((i) =>
      Array.from({ length: out[i] }, (_, o) => {
        const start = o * r.stride[i] - r.padding[i];
        const end = Math.min(start + r.kernel[i], x.shape[2 + i] + r.padding[i]);
        const inside = Math.min(end, x.shape[2 + i]) - Math.max(start, 0);
        return this.countIncludePad ? end - start : inside;
      }),
    );
    const d = new Float32Array(out[0] * out[1]);
    for (let i = 0; i < out[0]; i++) {
      for (let j = 0; j < out[1]; j++) d[i * out[1] + j] = this.divisorOverride ?? sizes[0][i] * sizes[1][j];
    }
    return fromArray(d, out, "float32", { backend: x.backend.name });
  }
  override extraRepr(): string {
    let s = poolRepr(this.r);
    if (!this.countIncludePad) s += ", countIncludePad=false";
    if (this.divisorOverride !== null) s += `, divisorOverride=${this.divisorOverride}`;
    return s;
  }
}

function poolRepr(r: Resolved): string {
  let s = `kernelSize=[${r.kernel}], stride=[${r.stride}], padding=[${r.padding}]`;
  if (r.dilation.some((d) => d !== 1)) s += `, dilation=[${r.dilation}]`;
  if (r.ceilMode) s += ", ceilMode=true";
  return s;
}

/** An output size per axis; null keeps the input's size along that axis. */
export type AdaptiveSize = number | null | [number | null, number | null];

/** [out, in] averaging matrix of adaptive pooling: row i averages input [floor(i·in/out), ceil((i+1)·in/out)). */
function adaptiveMatrix(n: number, out: number): number[][] {
  return Array.from({ length: out }, (_, i) => {
    const start = Math.floor((i * n) / out);
    const end = Math.ceil(((i + 1) * n) / out);
    return Array.from({ length: n }, (_, j) => (j >= start && j < end ? 1 / (end - start) : 0));
  });
}

/**
 * Adaptive average pooling (PyTorch `F.adaptive_avg_pool2d`) of [N, C, H, W] (or [C, H, W]) to
 * the given output size: output cell i averages input rows floor(i·H/OH) to ceil((i+1)·H/OH).
 * Computed as two small matrix products, so the gradient is exact.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return composite([x], () => {
    const op = "adaptiveAvgPool2d";
    if (x.rank !== 4 && x.rank !== 3) {
      throw new Error(
        `${op}: expected input of shape [N, C, H, W] or [C, H, W], got ${formatShape(x.shape)}`,
      );
    }
    const [h, w] = x.shape.slice(-2);
    const req = Array.isArray(outputSize) ? outputSize : [outputSize, outputSize];
    const size = req.map((v, i) => (v === null ? [h, w][i] : v));
    if (req.length !== 2 || size.some((v) => !Number.isInteger(v) || (v as number) <= 0)) {
      throw new Error(
        `${op}: outputSize must be a positive integer, null, or a pair of them, got ${JSON.stringify(outputSize)}`,
      );
    }
    const [oh, ow] = size as [number, number];
    const backend = x.backend.name;
    const ph = tensor(adaptiveMatrix(h, oh), { backend });
    const pwT = tensor(adaptiveMatrix(w, ow), { backend }).transpose(0, 1);
    return ph.matmul(x.float().matmul(pwT));
  });
}

/** Module form of `adaptiveAvgPool2d` (PyTorch `nn.AdaptiveAvgPool2d`). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: AdaptiveSize) {
    super();
    adaptiveAvgPool2dSizeCheck(outputSize);
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

function adaptiveAvgPool2dSizeCheck(s: AdaptiveSize): void {
  const ok = (v: unknown) => v === null || (Number.isInteger(v) && (v as number) > 0);
  if (!(Array.isArray(s) ? s.length === 2 && s.every(ok) : ok(s))) {
    throw new Error(
      `AdaptiveAvgPool2d: outputSize must be a positive integer, null, or a pair of them, got ${JSON.stringify(s)}`,
    );
  }
}
