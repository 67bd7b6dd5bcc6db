import type { Kernel } from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";

/**
 * Fused batch-norm forward over x seen as [outer, C, inner]. Statistics take one pass per channel,
 * summing in float64 around a shift (the channel's first value) so that large offsets do not
 * cancel; the output takes a second pass.
 */
export const batchNormTrainKernel: Kernel<"batchNormTrain", CpuBackend> = (
  _b,
  [x, gamma, beta],
  [y, mean, invstd, varU],
  { outer, channels, inner, eps },
) => {
  const X = buf(x);
  const G = buf(gamma);
  const B = buf(beta);
  const Y = buf(y);
  const M = buf(mean);
  const S = buf(invstd);
  const V = buf(varU);
  const n = outer * inner;
  for (let c = 0; c < channels; c++) {
    const shift = X[c * inner];
    let s1 = 0;
    let s2 = 0;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const d = X[base + i] - shift;
        s1 += d;
        s2 += d * d;
      }
    }
    const dm = s1 / n;
    const m2 = Math.max(0, s2 - s1 * dm);
    const mu = shift + dm;
    const is = 1 / Math.sqrt(m2 / n + eps);
    M[c] = mu;
    S[c] = is;
    V[c] = n > 1 ? m2 / (n - 1) : Number.NaN;
    const scale = G[c] * is;
    const bias = B[c] - mu * scale;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) Y[base + i] = X[base + i] * scale + bias;
    }
  }
};

/** dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); dgamma = sum(dy * xhat); dbeta = sum(dy). */
export const batchNormGradKernel: Kernel<"batchNormGrad", CpuBackend> = (
  _b,
  [dy, x, gamma, mean, invstd],
  [dx, dgamma, dbeta],
  { outer, channels, inner },
) => {
  const DY = buf(dy);
  const X = buf(x);
  const G = buf(gamma);
  const M = buf(mean);
  const S = buf(invstd);
  const DX = buf(dx);
  const DG = buf(dgamma);
  const DB = buf(dbeta);
  const n = outer * inner;
  for (let c = 0; c < channels; c++) {
    const mu = M[c];
    const is = S[c];
    let sdy = 0;
    let sdyx = 0;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const g = DY[base + i];
        sdy += g;
        sdyx += g * (X[base + i] - mu);
      }
    }
    sdyx *= is; // sum(dy * xhat)
    DB[c] = sdy;
    DG[c] = sdyx;
    const k = G[c] * is;
    const mdy = sdy / n;
    const mdyx = sdyx / n;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const xhat = (X[base + i] - mu) * is;
        DX[base + i] = k * (DY[base + i] - mdy - xhat * mdyx);
      }
    }
  }
};
