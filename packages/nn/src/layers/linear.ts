import { checkOptionKeys, formatShape, type Generator, mm, type Tensor, zeros } from "@minibatch/tensor";
import { resetLinearLike } from "../init";
import { Module } from "../module";

export interface LinearOptions {
  /** Learn an additive bias. Default true. */
  bias?: boolean;
  /** Draws the initial weights; the default generator when omitted. */
  generator?: Generator;
}

/** y = x W^T + b over the last axis (PyTorch `nn.Linear`); weight is [out, in] as in PyTorch. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    checkOptionKeys("Linear", opts, ["bias", "generator"]);
    checkPositiveInt("Linear", { inFeatures, outFeatures });
    this.weight = this.registerParameter("weight", zeros([outFeatures, inFeatures]));
    this.bias = this.registerParameter("bias", (opts.bias ?? true) ? zeros([outFeatures]) : null);
    this.resetParameters(opts.generator);
  }

  /** Re-draws the weights with PyTorch's default initialization. */
  resetParameters(generator?: Generator): void {
    resetLinearLike(this.weight, this.bias, generator);
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(
        `Linear: expected input with last dimension ${this.inFeatures} ([..., ${this.inFeatures}]), got ${formatShape(x.shape)}`,
      );
    }
    // One [rows, in] x [out, in]^T kernel call: the transposed weight is never materialized, and
    // a batch of vectors (rank 2, the usual input) needs no views at all.
    const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const flat = x.rank === 2 ? x : x.reshape([rows, this.inFeatures]);
    let y = mm(flat.dtype === "float32" ? flat : flat.float(), this.weight, false, true);
    if (x.rank !== 2) y = y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    return this.bias ? y.add(this.bias) : y;
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

export function checkPositiveInt(layer: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0)
      throw new Error(`${layer}: ${name} must be a positive integer, got ${v}`);
  }
}
