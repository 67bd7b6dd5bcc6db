import type { Module } from "@minibatch/nn";
import { BatchNormBase, type BatchNormModuleOptions } from "@minibatch/norm";
import { customOp, formatShape as fmt, fromArray, type Tensor } from "@minibatch/tensor";
import type { Collective } from "./collective";

export interface SyncBatchNormOptions extends BatchNormModuleOptions {
  /** The ranks whose batches are normalized together; without one (or with one rank) it is plain BN. */
  group?: Collective | null;
}

const OPTION_NAMES = ["eps", "momentum", "affine", "trackRunningStats", "convention", "group"];

function hostValues(t: Tensor, who: string): Float32Array {
  if (t.dtype !== "float32") throw new Error(`${who}: expected float32 input, got ${t.dtype}`);
  try {
    return t.dataSync<Float32Array>();
  } catch (e) {
    throw new Error(
      `${who}: the global statistics are exchanged synchronously in the forward pass, which needs a backend with synchronous reads (the CPU backend): ${(e as Error).message}`,
    );
  }
}

/**
 * Batch normalization whose statistics are taken over the global batch, split over the ranks of
 * a `Collective` (PyTorch `nn.SyncBatchNorm`). In training, each rank all-reduces per-channel
 * sum, sum of squares and count (in float64) before normalizing, and the backward pass
 * all-reduces the per-channel sums of dy and dy * xhat, so the input gradient is the one of
 * single-process BN on the whole batch. The running statistics follow PyTorch: they blend in the
 * global mean and the unbiased global variance, identically on every rank. The weight and bias
 * gradients stay local (the data-parallel gradient all-reduce averages them like any other).
 *
 * Accepts (N, C, ...) input of any rank >= 2. Every rank must call it in the same order.
 */
export class SyncBatchNorm extends BatchNormBase {
  group: Collective | null;

  constructor(numFeatures: number, opts: SyncBatchNormOptions = {}) {
    for (const k of Object.keys(opts)) {
      if (!OPTION_NAMES.includes(k)) {
        const hint = OPTION_NAMES.find((n) => n.toLowerCase() === k.toLowerCase()) ?? OPTION_NAMES.join(", ");
        throw new Error(`SyncBatchNorm: unknown option '${k}' (did you mean ${hint}?)`);
      }
    }
    const { group, ...bn } = opts;
    super(numFeatures, bn, [2, 3, 4, 5]);
    if (this.convention !== "pytorch") {
      throw new Error("SyncBatchNorm: only the PyTorch convention is supported, got convention 'keras'");
    }
    this.group = group ?? null;
  }

  override forward(x: Tensor): Tensor {
    const g = this.group;
    if (!this.training || !g) return super.forward(x);
    if (x.rank < 2 || x.rank > 5) {
      throw new Error(`SyncBatchNorm: expected 2D to 5D input (N, C, ...), got shape ${fmt(x.shape)}`);
    }
    if (x.shape[1] !== this.numFeatures) {
      throw new Error(
        `SyncBatchNorm: expected ${this.numFeatures} channels on axis 1, got input of shape ${fmt(x.shape)}`,
      );
    }
    return syncBatchNormTrain(this, g, x, (mean, varUnbiased, count) =>
      this.updateRunning(mean, varUnbiased, count),
    );
  }
}

/** The training forward: global statistics, normalize, running update, and the synced backward. */
function syncBatchNormTrain(
  bn: SyncBatchNorm,
  group: Collective,
  x: Tensor,
  updateRunning: (mean: Tensor, varUnbiased: Tensor, count: number) => void,
): Tensor {
  const C = bn.numFeatures;
  const N = x.shape[0];
  const S = x.size / Math.max(1, N * C);
  const xs = hostValues(x, "SyncBatchNorm");
  const stats = new Float64Array(2 * C + 1);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const base = (n * C + c) * S;
      let s = 0;
      let q = 0;
      for (let i = 0; i < S; i++) {
        const v = xs[base + i];
        s += v;
        q += v * v;
      }
      stats[c] += s;
      stats[C + c] += q;
    }
  }
  stats[2 * C] = N * S;
  group.allReduce(stats, "sum");
  const count = stats[2 * C];
  if (count <= 1) {
    throw new Error(
      `SyncBatchNorm: expected more than 1 value per channel over all ranks when training, got ${count} (local input ${fmt(x.shape)}); use a larger batch or eval mode`,
    );
  }
  const mean = new Float64Array(C);
  const invstd = new Float64Array(C);
  const varUnbiased = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    mean[c] = stats[c] / count;
    // float64 sums of float32 values: the cancellation in E[x^2] - E[x]^2 stays far below float32 rounding.
    const varBiased = Math.max(0, stats[C + c] / count - mean[c] * mean[c]);
    invstd[c] = 1 / Math.sqrt(varBiased + bn.eps);
    varUnbiased[c] = (varBiased * count) / (count - 1);
  }
  if (bn.trackRunningStats) {
    const m = fromArray(Float32Array.from(mean), [C], "float32");
    const v = fromArray(varUnbiased, [C], "float32");
    updateRunning(m, v, count);
    m.dispose();
    v.dispose();
  }
  const w = bn.weight;
  const b = bn.bias;
  const inputs = w && b ? [x, w, b] : [x];
  const op = customOp("syncBatchNorm", (...ts: Tensor[]) => {
    const gamma = ts.length === 3 ? hostValues(ts[1], "SyncBatchNorm") : null;
    const beta = ts.length === 3 ? hostValues(ts[2], "SyncBatchNorm") : null;
    const y = new Float32Array(xs.length);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const base = (n * C + c) * S;
        const k = invstd[c] * (gamma ? gamma[c] : 1);
        const sh = beta ? beta[c] : 0;
        for (let i = 0; i < S; i++) y[base + i] = (xs[base + i] - mean[c]) * k + sh;
      }
    }
    const out = fromArray(y, x.shape, "float32");
    return {
      outputs: [out],
      backward: ([dyT]) => syncBackward(group, dyT!, xs, mean, invstd, gamma, x.shape, N, C, S, count),
    };
  });
  return op(...inputs)[0];
}

function syncBackward(
  group: Collective,
  dyT: Tensor,
  xs: Float32Array,
  mean: Float64Array,
  invstd: Float64Array,
  gamma: Float32Array | null,
  shape: readonly number[],
  N: number,
  C: number,
  S: number,
  count: number,
): (Tensor | null)[] {
  const dy = hostValues(dyT, "SyncBatchNorm backward");
  // Local sums of dy and dy * xhat per channel: the bias and weight gradients of this rank.
  const sums = new Float64Array(2 * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const base = (n * C + c) * S;
      let sd = 0;
      let sdx = 0;
      for (let i = 0; i < S; i++) {
        const d = dy[base + i];
        sd += d;
        sdx += d * (xs[base + i] - mean[c]) * invstd[c];
      }
      sums[c] += sd;
      sums[C + c] += sdx;
    }
  }
  const dbeta = Float32Array.from(sums.subarray(0, C));
  const dgamma = Float32Array.from(sums.subarray(C));
  const global = sums.slice();
  group.allReduce(global, "sum");
  const dx = new Float32Array(xs.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const base = (n * C + c) * S;
      const md = global[c] / count;
      const mdx = global[C + c] / count;
      const k = invstd[c] * (gamma ? gamma[c] : 1);
      for (let i = 0; i < S; i++) {
        const xhat = (xs[base + i] - mean[c]) * invstd[c];
        dx[base + i] = k * (dy[base + i] - md - xhat * mdx);
      }
    }
  }
  const out: (Tensor | null)[] = [fromArray(dx, shape, "float32")];
  if (gamma) out.push(fromArray(dgamma, [C], "float32"), fromArray(dbeta, [C], "float32"));
  return out;
}

/**
 * Sets the group of every SyncBatchNorm inside `module` (null turns them back into plain batch
 * norms) and returns how many it found. A model built with SyncBatchNorm where it would use
 * BatchNorm1d/2d/3d has the same state dict keys, so checkpoints move between the two.
 */
export function setSyncGroup(module: Module, group: Collective | null): number {
  let n = 0;
  for (const m of module.modules()) {
    if (m instanceof SyncBatchNorm) {
      m.group = group;
      n++;
    }
  }
  return n;
}
