import type { Kernel } from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";

/**
 * Batched matrix product. Loops are ordered so the innermost loop walks memory contiguously:
 * i-k-j for A @ B (a row of B times a scalar of A), a dot product along k for A @ B^T.
 * The k loop is blocked so a panel of B stays in cache across rows of A.
 */
export const matmulKernel: Kernel<"matmul", CpuBackend> = (_b, [a, b], [y], at) => {
  const A = buf(a);
  const B = buf(b);
  const C = buf(y);
  const { m, n, k, batch, transA, transB, batchA, batchB } = at;
  C.fill(0);
  const KB = 64;
  for (let p = 0; p < batch; p++) {
    const aOff = (batchA === 1 ? 0 : p) * m * k;
    const bOff = (batchB === 1 ? 0 : p) * k * n;
    const cOff = p * m * n;
    if (!transA && !transB) {
      for (let k0 = 0; k0 < k; k0 += KB) {
        const k1 = Math.min(k, k0 + KB);
        for (let i = 0; i < m; i++) {
          const ci = cOff + i * n;
          const ai = aOff + i * k;
          for (let kk = k0; kk < k1; kk++) {
            const av = A[ai + kk];
            if (av === 0) continue;
            const bk = bOff + kk * n;
            for (let j = 0; j < n; j++) C[ci + j] += av * B[bk + j];
          }
        }
      }
    } else if (!transA && transB) {
      // B is [n, k]
      for (let i = 0; i < m; i++) {
        const ai = aOff + i * k;
        for (let j = 0; j < n; j++) {
          const bj = bOff + j * k;
          let s = 0;
          for (let kk = 0; kk < k; kk++) s += A[ai + kk] * B[bj + kk];
          C[cOff + i * n + j] = s;
        }
      }
    } else if (transA && !transB) {
      // A is [k, m]
      for (let kk = 0; kk < k; kk++) {
        const ak = aOff + kk * m;
        const bk = bOff + kk * n;
        for (let i = 0; i < m; i++) {
          const av = A[ak + i];
          if (av === 0) continue;
          const ci = cOff + i * n;
          for (let j = 0; j < n; j++) C[ci + j] += av * B[bk + j];
        }
      }
    } else {
      // A is [k, m], B is [n, k]
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let kk = 0; kk < k; kk++) s += A[aOff + kk * m + i] * B[bOff + j * k + kk];
          C[cOff + i * n + j] = s;
        }
      }
    }
  }
};
