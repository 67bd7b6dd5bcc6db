import type { BatchNormAttrs } from "../backend";
import { fmt, normalizeAxis, sizeOf } from "../shape";
import type { Tensor } from "../tensor";
import { full } from "./create";
import { cast } from "./elementwise";
import { runOp } from "./run";

export interface BatchNormTrainResult {
  /** The normalized, scaled and shifted output. */
  y: Tensor;
  /** Per-channel batch mean. */
  mean: Tensor;
  /** Per-channel 1 / sqrt(biased variance + eps). */
  invstd: Tensor;
  /** Per-channel unbiased variance (divided by n - 1), what running statistics store. */
  varUnbiased: Tensor;
}

/**
 * The fused batch-normalization training step: one kernel computes the per-channel statistics
 * and the output; its gradient is one kernel evaluating the closed form
 * dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), dgamma = sum(dy * xhat),
 * dbeta = sum(dy). Statistics are per `channelAxis` over every other axis.
 */
export function batchNormTrain(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: { eps?: number; channelAxis?: number } = {},
): BatchNormTrainResult {
  if (x.rank < 2)
    throw new Error(`batchNorm: expected input of rank >= 2 with channels on an axis, got ${fmt(x.shape)}`);
  const a = normalizeAxis(opts.channelAxis ?? 1, x.rank, "batchNorm");
  const eps = opts.eps ?? 1e-5;
  if (!(eps >= 0)) throw new Error(`batchNorm: eps must be >= 0, got ${eps}`);
  const c = x.shape[a];
  const attrs: BatchNormAttrs = {
    outer: sizeOf(x.shape.slice(0, a)),
    channels: c,
    inner: sizeOf(x.shape.slice(a + 1)),
    eps,
  };
  if (attrs.outer * attrs.inner <= 1) {
    throw new Error(
      `batchNorm: expected more than 1 value per channel when training, got input of shape ${fmt(x.shape)}; use a larger batch, dropLast in the DataLoader, or eval mode`,
    );
  }
  for (const [name, p] of [
    ["weight", gamma],
    ["bias", beta],
  ] as const) {
    if (p && (p.rank !== 1 || p.shape[0] !== c)) {
      throw new Error(
        `batchNorm: ${name} must have shape [${c}] for input ${fmt(x.shape)}, got ${fmt(p.shape)}`,
      );
    }
  }
  const xf = cast(x, "float32");
  const g = gamma ?? full([c], 1, { backend: x.backend.name });
  const b = beta ?? full([c], 0, { backend: x.backend.name });
  const [y, mean, invstd, varUnbiased] = runOp(
    "batchNormTrain",
    [xf, g, b],
    [
      { shape: x.shape, dtype: "float32" },
      { shape: [c], dtype: "float32" },
      { shape: [c], dtype: "float32" },
      { shape: [c], dtype: "float32" },
    ],
    attrs,
  );
  // Stand-in affine parameters are needed by the backward pass when a graph was recorded.
  if (!y.requiresGrad) {
    if (!gamma) g.dispose();
    if (!beta) b.dispose();
  }
  return { y, mean, invstd, varUnbiased };
}
