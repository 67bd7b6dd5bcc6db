import { conv2d, formatShape, type Generator, type Tensor, zeros } from "@minibatch/tensor";
import { resetLinearLike } from "../init";
import { Module } from "../module";
import { checkPositiveInt } from "./linear";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

export interface Conv2dOptions {
  stride?: Pair;
  /** Zero padding per side, or 'valid' (none) or 'same' (output size = input size; stride 1 only). */
  padding?: Pair | "valid" | "same";
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  generator?: Generator;
}

/** 2-d convolution over [N, C, H, W] (PyTorch `nn.Conv2d`); weight is [out, in/groups, kh, kw]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dOptions = {},
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    checkPositiveInt("Conv2d", {
      inChannels,
      outChannels,
      kernelHeight: this.kernelSize[0],
      kernelWidth: this.kernelSize[1],
      groups: this.groups,
    });
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new Error(
        `Conv2d: groups=${this.groups} must divide inChannels=${inChannels} and outChannels=${outChannels}`,
      );
    }
    this.padding = resolvePadding(opts.padding ?? 0, this.kernelSize, this.stride, this.dilation);
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
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize}]`];
    if (this.stride.some((s) => s !== 1)) parts.push(`stride=[${this.stride}]`);
    if (this.padding.some((p) => p !== 0)) parts.push(`padding=[${this.padding}]`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=[${this.dilation}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push("bias=false");
    return parts.join(", ");
  }
}

function resolvePadding(
  p: Pair | "valid" | "same",
  kernel: [number, number],
  stride: [number, number],
  dilation: [number, number],
): [number, number] {
  if (p === "valid") return [0, 0];
  if (p === "same") {
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw new Error("Conv2d: padding='same' is not supported for strided convolutions (as in PyTorch)");
    }
    const total = kernel.map((k, i) => dilation[i] * (k - 1));
    // PyTorch pads the extra element on one side; the conv kernel here pads symmetrically only.
    if (total.some((t) => t % 2 !== 0)) {
      throw new Error(
        `Conv2d: padding='same' with kernel [${kernel}] and dilation [${dilation}] needs asymmetric padding, which is not supported; use an odd kernel`,
      );
    }
    return [total[0] / 2, total[1] / 2];
  }
  const out = pair(p);
  if (out.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`Conv2d: padding must be non-negative integers, 'valid' or 'same', got ${String(p)}`);
  }
  return out;
}
