import { div, noGrad, scalar, Tensor, tidy } from "@minibatch/tensor";

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
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2): Tensor {
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
      if (normType === Number.POSITIVE_INFINITY) {
        total = grads.map((g) => g.abs().max()).reduce((a, b) => a.maximum(b));
      } else {
        const sumOfPowers = grads
          .map((g) => {
            if (normType === 1) return g.abs().sum();
            if (normType === 2) return g.mul(g).sum();
            return g.abs().pow(normType).sum();
          })
          .reduce((a, b) => a.add(b));
        total =
          normType === 1 ? sumOfPowers : normType === 2 ? sumOfPowers.sqrt() : sumOfPowers.pow(1 / normType);
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
