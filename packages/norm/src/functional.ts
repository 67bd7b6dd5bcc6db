import {
  add,
  batchNormTrain,
  cast,
  div,
  formatShape as fmt,
  mul,
  neg,
  noGrad,
  normalizeAxis,
  reshape,
  rsqrt,
  sub,
  type Tensor,
  tidy,
} from "@minibatch/tensor";
import { channelShape, checkEps, recording, scoped } from "./util";

export interface BatchStats {
  /** The normalized output, scaled and shifted when weight / bias were given. */
  y: Tensor;
  mean: Tensor;
  invstd: Tensor;
  varUnbiased: Tensor;
  /** Values per channel. */
  n: number;
}

/** The fused training step, with the PyTorch error for one value per channel named after the caller. */
export function fusedTrain(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
  axis: number,
  who: string,
): BatchStats {
  const c = x.shape[axis];
  const n = x.size / Math.max(1, c);
  if (n <= 1) {
    throw new Error(
      `${who}: expected more than 1 value per channel when training, got input of shape ${fmt(x.shape)}; use a larger batch, dropLast in the DataLoader, or eval mode`,
    );
  }
  return { ...batchNormTrain(x, weight, bias, { eps, channelAxis: axis }), n };
}

/** x * (weight * invstd) + (bias - mean * weight * invstd) with given statistics (eval mode). */
export function normalizeWith(
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
  axis: number,
): Tensor {
  return scoped(recording(x, weight, bias), () => {
    const bshape = channelShape(x.rank, axis, mean.size);
    const invstd = rsqrt(add(variance, eps));
    const scale = weight ? mul(invstd, weight) : invstd;
    const ms = mul(mean, scale);
    const shift = bias ? sub(bias, ms) : neg(ms);
    return add(mul(cast(x, "float32"), reshape(scale, bshape)), reshape(shift, bshape));
  });
}

/**
 * running = keep * running + f * batch for the mean and the variance, in place, on the device.
 * `varFactor` rescales the unbiased batch variance (n - 1) / n for a biased (Keras) moving variance.
 */
export function blendRunning(
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  mean: Tensor,
  varUnbiased: Tensor,
  keep: number | Tensor,
  f: number | Tensor,
  varFactor = 1,
): void {
  noGrad(() =>
    tidy(() => {
      if (runningMean) runningMean.assign(add(mul(runningMean, keep), mul(mean, f)));
      if (runningVar) {
        const v = varFactor === 1 ? varUnbiased : mul(varUnbiased, varFactor);
        runningVar.assign(add(mul(runningVar, keep), mul(v, f)));
      }
    }),
  );
}

/** PyTorch's factor for a step: momentum, or 1 / batches (a device scalar) for a cumulative average. */
export function momentumFactors(
  momentum: number | null,
  batches: Tensor | null,
): { keep: number | Tensor; f: number | Tensor } {
  if (momentum !== null) return { keep: 1 - momentum, f: momentum };
  if (!batches) throw new Error("batchNorm: momentum null (cumulative average) needs numBatchesTracked");
  return noGrad(() => {
    const f = div(1, cast(batches, "float32"));
    return { keep: sub(1, f), f };
  });
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalize with batch statistics (and update the running ones when given). Default false. */
  training?: boolean;
  /** PyTorch convention: the weight of the new batch (default 0.1). */
  momentum?: number;
  eps?: number;
  /** The channel axis (default 1, PyTorch's layout; -1 for channels-last). */
  channelAxis?: number;
}

/**
 * Functional batch normalization (PyTorch `F.batch_norm`). In training it normalizes with the
 * batch statistics and, when running statistics are given, updates them in place (unbiased
 * variance); otherwise it normalizes with the running statistics.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  const eps = opts.eps ?? 1e-5;
  checkEps("batchNorm", eps);
  const momentum = opts.momentum ?? 0.1;
  if (x.rank < 2) throw new Error(`batchNorm: expected input of rank >= 2, got shape ${fmt(x.shape)}`);
  const axis = normalizeAxis(opts.channelAxis ?? 1, x.rank, "batchNorm");
  const c = x.shape[axis];
  for (const [name, t] of Object.entries({
    runningMean,
    runningVar,
    weight: opts.weight,
    bias: opts.bias,
  })) {
    if (t && (t.size !== c || t.rank !== 1)) {
      throw new Error(
        `batchNorm: ${name} must have shape [${c}] for input ${fmt(x.shape)}, got ${fmt(t.shape)}`,
      );
    }
  }
  if (!opts.training) {
    if (!runningMean || !runningVar) {
      throw new Error("batchNorm: eval mode (training: false) needs runningMean and runningVar");
    }
    return normalizeWith(x, runningMean, runningVar, opts.weight ?? null, opts.bias ?? null, eps, axis);
  }
  const st = fusedTrain(x, opts.weight ?? null, opts.bias ?? null, eps, axis, "batchNorm");
  if (runningMean || runningVar)
    blendRunning(runningMean, runningVar, st.mean, st.varUnbiased, 1 - momentum, momentum);
  return finishTrain(st);
}

/** Frees the statistics unless the recorded backward still needs them. */
export function finishTrain(st: BatchStats): Tensor {
  st.varUnbiased.dispose();
  if (!st.y.requiresGrad) {
    st.mean.dispose();
    st.invstd.dispose();
  }
  return st.y;
}
