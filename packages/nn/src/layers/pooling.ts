import { avgPool2d, maxPool2d, type Tensor } from "@minibatch/tensor";
import { Module } from "../module";

type Pair = number | [number, number];

export interface Pool2dOptions {
  /** Defaults to the kernel size, as in PyTorch. */
  stride?: Pair;
  /** Implicit padding per side (at most half the kernel). Max pooling pads with -Infinity. */
  padding?: Pair;
}

/** Max pooling over [N, C, H, W] (PyTorch `nn.MaxPool2d`; no dilation or ceilMode). */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly opts: Pool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return poolRepr(this.kernelSize, this.opts);
  }
}

/**
 * Average pooling over [N, C, H, W] (PyTorch `nn.AvgPool2d` with its defaults: padded zeros count
 * in the average, countIncludePad=true; no ceilMode).
 */
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly opts: Pool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return poolRepr(this.kernelSize, this.opts);
  }
}

function poolRepr(k: Pair, o: Pool2dOptions): string {
  return `kernelSize=${k}, stride=${o.stride ?? k}, padding=${o.padding ?? 0}`;
}
