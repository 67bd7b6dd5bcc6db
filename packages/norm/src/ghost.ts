import { expand, noGrad, permute, reshape, slice, type Tensor } from "@minibatch/tensor";
import { BatchNormBase, type BatchNormModuleOptions } from "./batchnorm";
import { finishTrain, fusedTrain } from "./functional";
import { checkChannels, checkPositiveInt, checkRank, recording, scoped } from "./util";

export interface GhostBatchNormOptions extends BatchNormModuleOptions {
  /** Samples per virtual batch; the batch size must be a multiple of it. */
  virtualBatchSize: number;
}

/**
 * Ghost Batch Normalization (Hoffer et al. 2017) over channel axis 1, any rank from 2 to 5: the
 * batch is cut into virtual batches of `virtualBatchSize` samples, each normalized with its own
 * statistics (one fused kernel for all of them). Running statistics are updated once per virtual
 * batch, in batch order, exactly as if each virtual batch had been a separate forward call;
 * `numBatchesTracked` therefore counts virtual batches (which is what momentum null averages over).
 * Eval mode uses the running statistics; with tracking off, statistics come per virtual batch.
 */
export class GhostBatchNorm extends BatchNormBase {
  virtualBatchSize: number;

  constructor(numFeatures: number, opts: GhostBatchNormOptions) {
    super(numFeatures, opts, [2, 3, 4, 5], ["virtualBatchSize"]);
    checkPositiveInt("GhostBatchNorm", "virtualBatchSize", opts?.virtualBatchSize);
    this.virtualBatchSize = opts.virtualBatchSize;
  }

  override forward(x: Tensor): Tensor {
    if (!this.training && this.trackRunningStats) return super.forward(x);
    checkRank(this.name, x, this.ranks);
    checkChannels(this.name, x, 1, this.numFeatures);
    return this.ghost(x, this.training && this.trackRunningStats);
  }

  protected override trainStep(x: Tensor): Tensor {
    return this.ghost(x, true);
  }

  private ghost(x: Tensor, update: boolean): Tensor {
    const n = x.shape[0];
    const v = this.virtualBatchSize;
    if (n % v !== 0) {
      throw new Error(
        `GhostBatchNorm: batch size ${n} is not a multiple of virtualBatchSize ${v}; use dropLast in the DataLoader or a batch size divisible by ${v}`,
      );
    }
    const g = n / v;
    const c = this.numFeatures;
    const s = x.size / Math.max(1, n * c);
    const rec = recording(x, this.weight, this.bias);
    return scoped(rec, () => {
      // [G, v, C, S] -> [v, G*C, S]: each (virtual batch, channel) pair becomes one channel.
      const xr = g === 1 ? x : reshape(permute(reshape(x, [g, v, c, s]), [1, 0, 2, 3]), [v, g * c, s]);
      const tile = (p: Tensor | null) =>
        p && g > 1 ? reshape(expand(reshape(p, [1, c]), [g, c]), [g * c]) : p;
      const st = fusedTrain(xr, tile(this.weight), tile(this.bias), this.eps, 1, this.name);
      if (update) {
        for (let k = 0; k < g; k++) {
          const [m, vu] = noGrad(() => [slice(st.mean, [k * c], [c]), slice(st.varUnbiased, [k * c], [c])]);
          this.updateRunning(m, vu, st.n);
          m.dispose();
          vu.dispose();
        }
      }
      const y = finishTrain(st);
      return g === 1 ? y : reshape(permute(reshape(y, [v, g, c, s]), [1, 0, 2, 3]), x.shape);
    });
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, virtualBatchSize=${this.virtualBatchSize}`;
  }
}
