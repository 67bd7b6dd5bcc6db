import {
  add,
  checkOptionKeys,
  clamp,
  div,
  mul,
  noGrad,
  reshape,
  sqrt,
  sub,
  type Tensor,
  tidy,
} from "@minibatch/tensor";
import { BatchNormBase, type BatchNormModuleOptions } from "./batchnorm";
import { fusedTrain } from "./functional";
import { channelShape, recording, scoped } from "./util";

export interface BatchRenormOptions extends Omit<BatchNormModuleOptions, "convention"> {
  /** Bound on r = sigma_B / sigma, clipped to [1 / rmax, rmax] (default 3; 1 gives plain BN). */
  rmax?: number;
  /** Bound on d = (mu_B - mu) / sigma, clipped to [-dmax, dmax] (default 5; 0 gives plain BN). */
  dmax?: number;
}

/**
 * Batch Renormalization (Ioffe 2017) over channel axis 1, any rank from 2 to 5:
 * y = (xhat * r + d) * gamma + beta with r = clip(sigma_B / sigma, 1/rmax, rmax) and
 * d = clip((mu_B - mu) / sigma, -dmax, dmax) treated as constants (no gradient), where mu and
 * sigma = sqrt(runningVar + eps) are the running statistics before this step's update.
 * `rmax` and `dmax` are plain attributes: the paper starts at 1 and 0 and relaxes them during training.
 * Running statistics are PyTorch BatchNorm's (unbiased running variance), so state dicts interchange.
 */
export class BatchRenorm extends BatchNormBase {
  rmax: number;
  dmax: number;

  constructor(numFeatures: number, opts: BatchRenormOptions = {}) {
    // Checked here: the spread below would otherwise hide a `convention` given by mistake.
    checkOptionKeys("BatchRenorm", opts, ["eps", "momentum", "affine", "trackRunningStats", "rmax", "dmax"]);
    super(numFeatures, { ...opts, convention: "pytorch" }, [2, 3, 4, 5], ["rmax", "dmax"]);
    this.rmax = opts.rmax ?? 3;
    this.dmax = opts.dmax ?? 5;
  }

  protected override trainStep(x: Tensor): Tensor {
    if (!(this.rmax >= 1) || !(this.dmax >= 0)) {
      throw new Error(
        `BatchRenorm: expected rmax >= 1 and dmax >= 0, got rmax=${this.rmax}, dmax=${this.dmax}`,
      );
    }
    const rec = recording(x, this.weight, this.bias);
    return scoped(rec, () => {
      const st = fusedTrain(x, null, null, this.eps, 1, this.name);
      const { rmax, dmax } = this;
      const { r, d } = noGrad(() =>
        tidy(() => {
          const sigma = sqrt(add(this.runningVar!, this.eps));
          return {
            r: clamp(div(div(1, st.invstd), sigma), 1 / rmax, rmax),
            d: clamp(div(sub(st.mean, this.runningMean!), sigma), -dmax, dmax),
          };
        }),
      );
      this.updateRunning(st.mean, st.varUnbiased, st.n);
      st.varUnbiased.dispose();
      const w = this.weight;
      const scale = w ? mul(w, r) : r;
      let shift = w ? mul(w, d) : d;
      if (this.bias) shift = add(shift, this.bias);
      const bshape = channelShape(x.rank, 1, this.numFeatures);
      return add(mul(st.y, reshape(scale, bshape)), reshape(shift, bshape));
    });
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, rmax=${this.rmax}, dmax=${this.dmax}`;
  }
}
