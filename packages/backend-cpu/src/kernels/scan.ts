import type { Kernel } from "@minibatch/tensor";
import { buf, type CpuBackend } from "../backend";

/**
 * Stable argsort of each row (outer x inner rows of length n). NaN is the largest key: last when
 * ascending, first when descending; ties keep their order either way.
 */
export const argsortKernel: Kernel<"argsort", CpuBackend> = (
  _b,
  [x],
  [y],
  { outer, n, inner, descending },
) => {
  const X = buf(x);
  const Y = buf(y);
  const order = new Array<number>(n);
  const key = new Float64Array(n);
  const sign = descending ? -1 : 1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let j = 0; j < n; j++) {
        order[j] = j;
        key[j] = X[base + j * inner];
      }
      // Array.prototype.sort is stable; NaN compares as the largest value.
      order.sort((p, q) => {
        const a = key[p];
        const b = key[q];
        if (a !== a) return b !== b ? 0 : sign;
        if (b !== b) return -sign;
        return a < b ? -sign : a > b ? sign : 0;
      });
      for (let j = 0; j < n; j++) Y[base + j * inner] = order[j];
    }
  }
};

/** Running sums along n, from the end when `reverse`; accumulated in float64, stored per dtype. */
export const cumsumKernel: Kernel<"cumsum", CpuBackend> = (_b, [x], [y], { outer, n, inner, reverse }) => {
  const X = buf(x);
  const Y = buf(y);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let s = 0;
      for (let k = 0; k < n; k++) {
        const j = reverse ? n - 1 - k : k;
        s += X[base + j * inner];
        Y[base + j * inner] = s;
      }
    }
  }
};
