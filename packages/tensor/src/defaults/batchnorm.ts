import type { BatchNormAttrs } from "../backend";
import { add, mul, rsqrt, sub } from "../ops/elementwise";
import { mean, sum } from "../ops/reduce";
import { reshape } from "../ops/shape_ops";
import type { Tensor } from "../tensor";

// Batch normalization composed from primitives, seeing x as [outer, C, inner]: the defaults for
// backends without fused batchNormTrain / batchNormGrad kernels. Statistics accumulate in float32
// sums here; the fused kernels may do better, and the conformance suite compares both.

const perChannel = (t: Tensor) => reshape(t, [1, t.size, 1]);

/** [x, gamma, beta] -> [y, mean, invstd, unbiased var]. */
export function batchNormTrainDefault([x, gamma, beta]: readonly Tensor[], at: BatchNormAttrs): Tensor[] {
  const n = at.outer * at.inner;
  const x3 = reshape(x, [at.outer, at.channels, at.inner]);
  const mu = mean(x3, [0, 2], true);
  const centered = sub(x3, mu);
  const sq = sum(mul(centered, centered), [0, 2]);
  const biased = div0(sq, n);
  const invstd = rsqrt(add(biased, at.eps));
  const y = add(mul(mul(centered, perChannel(invstd)), perChannel(gamma)), perChannel(beta));
  return [reshape(y, x.shape), reshape(mu, [at.channels]), invstd, div0(sq, n - 1)];
}

/** [dy, x, gamma, mean, invstd] -> [dx, dgamma, dbeta], the closed form. */
export function batchNormGradDefault(
  [dy, x, gamma, mu, invstd]: readonly Tensor[],
  at: BatchNormAttrs,
): Tensor[] {
  const shape3 = [at.outer, at.channels, at.inner];
  const dy3 = reshape(dy, shape3);
  const xhat = mul(sub(reshape(x, shape3), perChannel(mu)), perChannel(invstd));
  const dbeta = sum(dy3, [0, 2]);
  const dgamma = sum(mul(dy3, xhat), [0, 2]);
  const n = at.outer * at.inner;
  // dx = gamma * invstd * (dy - dbeta / n - xhat * dgamma / n)
  const inner = sub(sub(dy3, perChannel(mul(dbeta, 1 / n))), mul(xhat, perChannel(mul(dgamma, 1 / n))));
  const dx = mul(inner, perChannel(mul(gamma, invstd)));
  return [reshape(dx, x.shape), dgamma, dbeta];
}

/** s / d, with s / 0 = NaN for d = 0 as the kernels (unbiased variance of one value). */
function div0(s: Tensor, d: number): Tensor {
  return mul(s, d === 0 ? Number.NaN : 1 / d);
}
