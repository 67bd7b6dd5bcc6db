import { Module } from "@minibatch/nn";
import { add, checkOptionKeys, full, mul, reshape, type Tensor, zeros } from "@minibatch/tensor";
import { releaseStats, standardizeRows } from "./rows";
import { channelShape, checkChannels, checkEps, checkPositiveInt, recording, scoped } from "./util";

export interface GroupNormOptions {
  eps?: number;
  /** Learnable per-channel weight and bias (default true). */
  affine?: boolean;
}

/**
 * Group normalization (Wu & He 2018; PyTorch `GroupNorm`) of (N, C, *) input: the C channels
 * are cut into `numGroups` groups and each sample's group is normalized over its channels and
 * positions; the affine weight and bias are per channel.
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  eps: number;
  readonly affine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    checkOptionKeys("GroupNorm", opts, ["eps", "affine"]);
    super();
    checkPositiveInt("GroupNorm", "numGroups", numGroups);
    checkPositiveInt("GroupNorm", "numChannels", numChannels);
    if (numChannels % numGroups !== 0) {
      throw new Error(
        `GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`,
      );
    }
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = opts.eps ?? 1e-5;
    checkEps("GroupNorm", this.eps);
    this.affine = opts.affine ?? true;
    this.weight = this.registerParameter("weight", this.affine ? full([numChannels], 1) : null);
    this.bias = this.registerParameter("bias", this.affine ? zeros([numChannels]) : null);
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2) throw new Error(`GroupNorm: expected input of shape (N, C, *) (got ${x.rank}D input)`);
    checkChannels("GroupNorm", x, 1, this.numChannels);
    const rows = x.shape[0] * this.numGroups;
    const rec = recording(x, this.weight, this.bias);
    return scoped(rec, () => {
      const { y, stats } = standardizeRows(x, rows, rows ? x.size / rows : 0, this.eps, "GroupNorm");
      releaseStats(stats, rec);
      const bshape = channelShape(x.rank, 1, this.numChannels);
      let out = y;
      if (this.weight) out = mul(out, reshape(this.weight, bshape));
      if (this.bias) out = add(out, reshape(this.bias, bshape));
      return out;
    });
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine}`;
  }
}
