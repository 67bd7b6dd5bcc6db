import { Module } from "@minibatch/nn";
import { add, checkOptionKeys, formatShape as fmt, full, mul, type Tensor, zeros } from "@minibatch/tensor";
import { releaseStats, standardizeRows } from "./rows";
import { checkEps, recording, scoped } from "./util";

export interface LayerNormOptions {
  eps?: number;
  /** Learnable weight (and bias) of the normalized shape (default true). */
  elementwiseAffine?: boolean;
  /** Learnable bias when elementwiseAffine (default true). */
  bias?: boolean;
}

export function asShape(who: string, s: number | readonly number[]): number[] {
  const shape = typeof s === "number" ? [s] : [...s];
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`${who}: normalizedShape must be positive integers, got ${fmt(shape)}`);
  }
  return shape;
}

export function checkTrailing(who: string, x: Tensor, shape: readonly number[]): void {
  const k = shape.length;
  const tail = x.shape.slice(x.rank - k);
  if (x.rank < k || tail.some((d, i) => d !== shape[i])) {
    throw new Error(
      `${who}: given normalizedShape=${fmt(shape)}, expected input with shape [*, ${shape.join(", ")}], got ${fmt(x.shape)}`,
    );
  }
}

/**
 * Layer normalization over the trailing `normalizedShape` axes of every sample (PyTorch
 * `LayerNorm`): biased variance, eps 1e-5, elementwise weight and bias of that shape.
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  eps: number;
  readonly elementwiseAffine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    checkOptionKeys("LayerNorm", opts, ["eps", "elementwiseAffine", "bias"]);
    super();
    this.normalizedShape = asShape("LayerNorm", normalizedShape);
    this.eps = opts.eps ?? 1e-5;
    checkEps("LayerNorm", this.eps);
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const affine = this.elementwiseAffine;
    this.weight = this.registerParameter("weight", affine ? full(this.normalizedShape, 1) : null);
    this.bias = this.registerParameter(
      "bias",
      affine && (opts.bias ?? true) ? zeros(this.normalizedShape) : null,
    );
  }

  forward(x: Tensor): Tensor {
    checkTrailing("LayerNorm", x, this.normalizedShape);
    const cols = this.normalizedShape.reduce((a, b) => a * b, 1);
    const rec = recording(x, this.weight, this.bias);
    return scoped(rec, () => {
      const { y, stats } = standardizeRows(x, x.size / cols, cols, this.eps, "LayerNorm");
      releaseStats(stats, rec);
      let out = y;
      if (this.weight) out = mul(out, this.weight);
      if (this.bias) out = add(out, this.bias);
      return out;
    });
  }

  override extraRepr(): string {
    return `${fmt(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}
