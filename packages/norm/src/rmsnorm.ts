import { Module } from "@minibatch/nn";
import { add, full, mean, mul, rsqrt, type Tensor } from "@minibatch/tensor";
import { asShape, checkTrailing } from "./layernorm";
import { checkEps, recording, scoped } from "./util";

/** float32 machine epsilon: PyTorch's RMSNorm default eps (torch.finfo(float32).eps). */
const FLOAT32_EPS = 2 ** -23;

export interface RMSNormOptions {
  /** Added to the mean square; default null = float32 machine epsilon, as PyTorch. */
  eps?: number | null;
  /** Learnable weight of the normalized shape (default true). RMSNorm has no bias. */
  elementwiseAffine?: boolean;
}

/**
 * Root-mean-square normalization (Zhang & Sennrich 2019; PyTorch `RMSNorm`):
 * y = x / sqrt(mean(x^2) + eps) * weight over the trailing `normalizedShape` axes. Composed
 * from generic tensor ops (autograd comes from them).
 */
export class RMSNorm extends Module {
  readonly normalizedShape: number[];
  eps: number | null;
  readonly elementwiseAffine: boolean;
  weight: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: RMSNormOptions = {}) {
    super();
    this.normalizedShape = asShape("RMSNorm", normalizedShape);
    this.eps = opts.eps ?? null;
    if (this.eps !== null) checkEps("RMSNorm", this.eps);
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    this.weight = this.registerParameter(
      "weight",
      this.elementwiseAffine ? full(this.normalizedShape, 1) : null,
    );
  }

  forward(x: Tensor): Tensor {
    checkTrailing("RMSNorm", x, this.normalizedShape);
    const k = this.normalizedShape.length;
    const axes = Array.from({ length: k }, (_, i) => x.rank - k + i);
    return scoped(recording(x, this.weight), () => {
      const y = mul(x, rsqrt(add(mean(mul(x, x), axes, true), this.eps ?? FLOAT32_EPS)));
      return this.weight ? mul(y, this.weight) : y;
    });
  }

  override extraRepr(): string {
    return `${JSON.stringify(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}
