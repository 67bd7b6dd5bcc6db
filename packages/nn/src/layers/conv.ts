import {
  checkOptionKeys,
  composite,
  conv2d,
  convTranspose2d,
  formatShape,
  type Generator,
  type PadMode,
  pad,
  type Tensor,
  zeros,
} from "@minibatch/tensor";
import { resetLinearLike } from "../init";
import { Module } from "../module";
import { checkPositiveInt } from "./linear";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

/** How the border is padded: zeros (default) or PyTorch's other `padding_mode`s. */
export type PaddingMode = "zeros" | "reflect" | "replicate" | "circular";
const PADDING_MODES: readonly PaddingMode[] = ["zeros", "reflect", "replicate", "circular"];

export interface Conv2dOptions {
  stride?: Pair;
  /**
   * Padding per side, or 'valid' (none) or 'same' (output size = input size; stride 1 only). With
   * an even total, 'same' pads the extra row/column at the bottom/right, as PyTorch does.
   */
  padding?: Pair | "valid" | "same";
  /** 'zeros' (default), 'reflect', 'replicate' or 'circular'. */
  paddingMode?: PaddingMode;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  generator?: Generator;
}

const CONV_KEYS = ["stride", "padding", "paddingMode", "dilation", "groups", "bias", "generator"];

/**
 * Per spatial axis [before, after] padding amounts; 'same' splits the total as PyTorch does
 * (floor before, the rest after).
 */
function resolvePadding(
  layer: string,
  p: Pair | number[] | "valid" | "same",
  kernel: number[],
  stride: number[],
  dilation: number[],
): [number, number][] {
  if (p === "valid") return kernel.map(() => [0, 0]);
  if (p === "same") {
    if (stride.some((s) => s !== 1)) {
      throw new Error(`${layer}: padding='same' is not supported for strided convolutions (as in PyTorch)`);
    }
    return kernel.map((k, i) => {
      const total = dilation[i] * (k - 1);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
  }
  const list = typeof p === "number" ? kernel.map(() => p) : [...p];
  if (list.length !== kernel.length || list.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(
      `${layer}: padding must be ${kernel.length === 1 ? "a non-negative integer" : `a non-negative integer or ${kernel.length} of them`}, 'valid' or 'same', got ${JSON.stringify(p)}`,
    );
  }
  return list.map((v) => [v, v]);
}

function checkPaddingMode(layer: string, mode: unknown): PaddingMode {
  if (!PADDING_MODES.includes(mode as PaddingMode)) {
    throw new Error(
      `${layer}: paddingMode must be one of ${PADDING_MODES.map((m) => `'${m}'`).join(", ")}, got '${String(mode)}'`,
    );
  }
  return mode as PaddingMode;
}

/**
 * Pads [N, C, H, W] explicitly when the kernel's own symmetric zero padding cannot do it
 * (other modes, or an uneven 'same'), and returns what conv2d should still pad itself.
 */
function prepad(x: Tensor, padding: [number, number][], mode: PaddingMode): [Tensor, [number, number]] {
  const symmetric = padding.every(([a, b]) => a === b);
  if (mode === "zeros" && symmetric) return [x, [padding[0][0], padding[1][0]]];
  const [[top, bottom], [left, right]] = padding;
  const m: PadMode = mode === "zeros" ? "constant" : mode;
  return [pad(x, [left, right, top, bottom], m), [0, 0]];
}

/** The checks every convolution layer makes of its channel counts, kernel size and groups. */
function checkChannels(
  layer: string,
  inChannels: number,
  outChannels: number,
  kernelSize: [number, number],
  groups: number,
): void {
  checkPositiveInt(layer, {
    inChannels,
    outChannels,
    kernelHeight: kernelSize[0],
    kernelWidth: kernelSize[1],
    groups,
  });
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(
      `${layer}: groups=${groups} must divide inChannels=${inChannels} and outChannels=${outChannels}`,
    );
  }
}

/** 2-d convolution over [N, C, H, W] (PyTorch `nn.Conv2d`); weight is [out, in/groups, kh, kw]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  /** Padding at the top and left (PyTorch's `padding`); 'same' may add one more at the bottom/right. */
  readonly padding: [number, number];
  /** [before, after] amounts per spatial axis. */
  readonly paddingAmounts: [[number, number], [number, number]];
  readonly paddingMode: PaddingMode;
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dOptions = {},
  ) {
    super();
    checkOptionKeys("Conv2d", opts, CONV_KEYS);
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    checkChannels("Conv2d", inChannels, outChannels, this.kernelSize, this.groups);
    this.paddingMode = checkPaddingMode("Conv2d", opts.paddingMode ?? "zeros");
    const p = resolvePadding("Conv2d", opts.padding ?? 0, this.kernelSize, this.stride, this.dilation);
    this.paddingAmounts = [p[0], p[1]];
    this.padding = [p[0][0], p[1][0]];
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter("weight", zeros([outChannels, inChannels / this.groups, kh, kw]));
    this.bias = this.registerParameter("bias", (opts.bias ?? true) ? zeros([outChannels]) : null);
    this.resetParameters(opts.generator);
  }

  resetParameters(generator?: Generator): void {
    resetLinearLike(this.weight, this.bias, generator);
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(
        `Conv2d: expected input of shape [N, ${this.inChannels}, H, W], got ${formatShape(x.shape)}`,
      );
    }
    return composite([x, this.weight, this.bias], () => {
      const [xp, padding] = prepad(x, this.paddingAmounts, this.paddingMode);
      return conv2d(xp, this.weight, this.bias, {
        stride: this.stride,
        padding,
        dilation: this.dilation,
        groups: this.groups,
      });
    });
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize}]`];
    if (this.stride.some((s) => s !== 1)) parts.push(`stride=[${this.stride}]`);
    const amounts = this.paddingAmounts;
    if (amounts.some(([a, b]) => a !== 0 || b !== 0)) {
      const sym = amounts.every(([a, b]) => a === b);
      parts.push(sym ? `padding=[${this.padding}]` : `padding=${JSON.stringify(amounts)}`);
    }
    if (this.paddingMode !== "zeros") parts.push(`paddingMode='${this.paddingMode}'`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=[${this.dilation}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    return parts.join(", ");
  }
}

export interface Conv1dOptions {
  stride?: number;
  /** Padding per side, or 'valid' or 'same' (even totals pad the extra element on the right). */
  padding?: number | "valid" | "same";
  paddingMode?: PaddingMode;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  generator?: Generator;
}

/**
 * 1-d convolution over [N, C, L] (PyTorch `nn.Conv1d`); weight is [out, in/groups, k]. It runs as
 * a 2-d convolution of height 1.
 */
export class Conv1d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: number;
  readonly stride: number;
  /** [before, after]; equal unless 'same' needs one more on the right. */
  readonly padding: [number, number];
  readonly paddingMode: PaddingMode;
  readonly dilation: number;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number,
    opts: Conv1dOptions = {},
  ) {
    super();
    checkOptionKeys("Conv1d", opts, CONV_KEYS);
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? 1;
    this.dilation = opts.dilation ?? 1;
    this.groups = opts.groups ?? 1;
    checkPositiveInt("Conv1d", {
      inChannels,
      outChannels,
      kernelSize,
      stride: this.stride,
      dilation: this.dilation,
      groups: this.groups,
    });
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new Error(
        `Conv1d: groups=${this.groups} must divide inChannels=${inChannels} and outChannels=${outChannels}`,
      );
    }
    this.paddingMode = checkPaddingMode("Conv1d", opts.paddingMode ?? "zeros");
    const p = opts.padding ?? 0;
    if (typeof p !== "number" && p !== "same" && p !== "valid") {
      throw new Error(
        `Conv1d: padding must be a non-negative integer, 'valid' or 'same', got ${JSON.stringify(p)}`,
      );
    }
    this.padding = resolvePadding("Conv1d", p, [kernelSize], [this.stride], [this.dilation])[0];
    this.weight = this.registerParameter(
      "weight",
      zeros([outChannels, inChannels / this.groups, kernelSize]),
    );
    this.bias = this.registerParameter("bias", (opts.bias ?? true) ? zeros([outChannels]) : null);
    this.resetParameters(opts.generator);
  }

  resetParameters(generator?: Generator): void {
    resetLinearLike(this.weight, this.bias, generator);
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[1] !== this.inChannels) {
      throw new Error(
        `Conv1d: expected input of shape [N, ${this.inChannels}, L], got ${formatShape(x.shape)}`,
      );
    }
    return composite([x, this.weight, this.bias], () => {
      const [xp, padding] = prepad(x.unsqueeze(2), [[0, 0], this.padding], this.paddingMode);
      const y = conv2d(xp, this.weight.unsqueeze(2), this.bias, {
        stride: [1, this.stride],
        padding,
        dilation: [1, this.dilation],
        groups: this.groups,
      });
      return y.squeeze(2);
    });
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}`];
    if (this.stride !== 1) parts.push(`stride=${this.stride}`);
    const [a, b] = this.padding;
    if (a !== 0 || b !== 0) parts.push(a === b ? `padding=${a}` : `padding=[${a}, ${b}]`);
    if (this.paddingMode !== "zeros") parts.push(`paddingMode='${this.paddingMode}'`);
    if (this.dilation !== 1) parts.push(`dilation=${this.dilation}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    return parts.join(", ");
  }
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  /** Rows/columns removed from each side of the full output; default 0. */
  padding?: Pair;
  /** Extra rows/columns at the bottom/right, to reach the output sizes a stride leaves ambiguous. */
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
  bias?: boolean;
  generator?: Generator;
}

/**
 * 2-d transposed convolution over [N, C, H, W] (PyTorch `nn.ConvTranspose2d`, sometimes called a
 * deconvolution); weight is [in, out/groups, kh, kw] as in PyTorch, and the output size is
 * (H - 1)·stride - 2·padding + dilation·(kh - 1) + outputPadding + 1.
 */
export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: ConvTranspose2dOptions = {},
  ) {
    super();
    checkOptionKeys("ConvTranspose2d", opts, [
      "stride",
      "padding",
      "outputPadding",
      "groups",
      "dilation",
      "bias",
      "generator",
    ]);
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.outputPadding = pair(opts.outputPadding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    checkChannels("ConvTranspose2d", inChannels, outChannels, this.kernelSize, this.groups);
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter("weight", zeros([inChannels, outChannels / this.groups, kh, kw]));
    this.bias = this.registerParameter("bias", (opts.bias ?? true) ? zeros([outChannels]) : null);
    this.resetParameters(opts.generator);
  }

  /**
   * PyTorch's default: kaiming uniform with a = sqrt(5) over the weight's fan-in, which for this
   * layout is (out/groups)·kh·kw; the bias from U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with that fan-in.
   */
  resetParameters(generator?: Generator): void {
    resetLinearLike(this.weight, this.bias, generator);
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(
        `ConvTranspose2d: expected input of shape [N, ${this.inChannels}, H, W], got ${formatShape(x.shape)}`,
      );
    }
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize}]`];
    if (this.stride.some((s) => s !== 1)) parts.push(`stride=[${this.stride}]`);
    if (this.padding.some((p) => p !== 0)) parts.push(`padding=[${this.padding}]`);
    if (this.outputPadding.some((p) => p !== 0)) parts.push(`outputPadding=[${this.outputPadding}]`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=[${this.dilation}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    return parts.join(", ");
  }
}
