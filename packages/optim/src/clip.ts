import { checkOptionKeys, div, noGrad, scalar, Tensor, tidy, where } from "@minibatch/tensor";

export interface ClipGradNormOptions {
  /**
   * Throw when the total norm is NaN or Infinity, before any gradient is changed (PyTorch
   * `error_if_nonfinite`). Checking needs the value on the host, so it reads it back synchronously;
   * on a backend without synchronous reads (WebGPU) it is an error to ask for it.
   */
  errorIfNonfinite?: boolean;
}

function gradsOf(params: Tensor | Iterable<Tensor>, fn: string): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${fn}: params[${i}] is not a Tensor`);
  });
  return list.flatMap((p) => (p.grad ? [p.grad] : []));
}

/**
 * Rescales gradients in place so that their total norm (over all of them together, as if
 * concatenated) is at most `maxNorm` (PyTorch `clip_grad_norm_`): each gradient is multiplied by
 * min(1, maxNorm / (total + 1e-6)). `normType` is any p > 0 or Infinity (largest |g|).
 * Returns the total norm before clipping as a scalar tensor, computed on the device without a
 * read-back: `await norm.item()` to see it. Parameters without a gradient are ignored.
 *
 * The norm is computed from the gradients divided by their largest |g|, then multiplied back, so
 * that squaring gradients near 1e30 does not overflow float32 (PyTorch computes in float32 without
 * this and overflows there too; this gives the true norm whenever the norm itself fits in float32).
 */
export function clipGradNorm(
  params: Tensor | Iterable<Tensor>,
  maxNorm: number,
  normType = 2,
  opts: ClipGradNormOptions = {},
): Tensor {
  checkOptionKeys("clipGradNorm", opts, ["errorIfNonfinite"]);
  if (!(typeof maxNorm === "number" && maxNorm >= 0)) {
    throw new Error(`clipGradNorm: invalid maxNorm = ${maxNorm} (expected a number >= 0)`);
  }
  if (!(typeof normType === "number" && normType > 0)) {
    throw new Error(`clipGradNorm: invalid normType = ${normType} (expected a number > 0, or Infinity)`);
  }
  const grads = gradsOf(params, "clipGradNorm");
  if (grads.length === 0) return scalar(0);
  return noGrad(() =>
    tidy(() => {
      let total: Tensor;
      const amax = grads.map((g) => g.abs().max()).reduce((a, b) => a.maximum(b));
      if (normType === Number.POSITIVE_INFINITY) {
        total = amax;
      } else {
        // Scale by the largest |g| first (1 when all are zero, so that 0/0 does not appear).
        const scale = where(amax.gt(0), amax, 1);
        const sumOfPowers = grads
          .map((g) => {
            const u = g.div(scale);
            if (normType === 1) return u.abs().sum();
            if (normType === 2) return u.mul(u).sum();
            return u.abs().pow(normType).sum();
          })
          .reduce((a, b) => a.add(b));
        const norm =
          normType === 1 ? sumOfPowers : normType === 2 ? sumOfPowers.sqrt() : sumOfPowers.pow(1 / normType);
        total = norm.mul(scale);
      }
      if (opts.errorIfNonfinite) {
        if (!total.backend.readSync) {
          throw new Error(
            `clipGradNorm: errorIfNonfinite needs a synchronous read, which the '${total.backend.name}' backend does not have; check the returned norm with await norm.item() instead`,
          );
        }
        const v = total.dataSync()[0];
        if (!Number.isFinite(v)) {
          throw new Error(
            `clipGradNorm: the total norm of order ${normType} of the gradients is ${v}, so they cannot be clipped (errorIfNonfinite is set; no gradient was changed)`,
          );
        }
      }
      // Multiplying by a clamped factor, rather than testing total > maxNorm, keeps this free of
      // read-backs, so it stays synchronous on a GPU.
      const coef = div(maxNorm, total.add(1e-6)).clamp(null, 1);
      for (const g of grads) g.assign(g.mul(coef));
      return total;
    }),
  );
}

/** Clamps every gradient to [-clipValue, clipValue] in place (PyTorch `clip_grad_value_`). */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (!(typeof clipValue === "number" && clipValue >= 0)) {
    throw new Error(`clipGradValue: invalid clipValue = ${clipValue} (expected a number >= 0)`);
  }
  const grads = gradsOf(params, "clipGradValue");
  noGrad(() =>
    tidy(() => {
      for (const g of grads) g.assign(g.clamp(-clipValue, clipValue));
    }),
  );
}
