import type { OpAttrs } from "../backend";
import { fromArray } from "../ops/create";
import { add, cast, eq, gt, logicalNot, lt, mul, ne } from "../ops/elementwise";
import { matmul } from "../ops/linalg";
import { sum } from "../ops/reduce";
import { permute, reshape, unsqueeze } from "../ops/shape_ops";
import type { Tensor } from "../tensor";

// argsort and cumsum composed from primitives: O(n^2) per row, so only the default for backends
// without their own kernels (the CPU and WebGPU backends have them).

const and = (a: Tensor, b: Tensor) => mul(cast(a, "int32"), cast(b, "int32"));
const or = (a: Tensor, b: Tensor) => gt(add(cast(a, "int32"), cast(b, "int32")), 0);

/**
 * Stable argsort by ranks: element i of a row lands at rank_i = #{j : j sorts before i}, where j
 * sorts before i if its key is smaller (larger when descending; NaN is the largest key), or equal
 * with j < i. Then indices[rank_i] = i.
 */
export function argsortDefault([x]: readonly Tensor[], at: OpAttrs["argsort"]): Tensor[] {
  const { outer, n, inner } = at;
  const rows = permute(reshape(x, [outer, n, inner]), [0, 2, 1]); // [outer, inner, n]
  const xi = unsqueeze(rows, 3); // i along axis 2
  const xj = unsqueeze(rows, 2); // j along axis 3
  const nanI = ne(xi, xi);
  const nanJ = ne(xj, xj);
  const jFirstByValue = at.descending
    ? or(and(nanJ, logicalNot(nanI)), gt(xj, xi))
    : or(and(nanI, logicalNot(nanJ)), lt(xj, xi));
  const tie = or(and(nanI, nanJ), eq(xj, xi));
  const order = new Int32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) order[i * n + j] = 1;
  const jBefore = fromArray(order, [n, n], "int32", { backend: x.backend.name });
  const before = or(cast(jFirstByValue, "bool"), cast(and(tie, jBefore), "bool"));
  const rank = sum(cast(before, "int32"), 3); // [outer, inner, n]
  // indices[r] = sum_i i * [rank_i == r]
  const ranks = fromArray(
    Int32Array.from({ length: n }, (_, r) => r),
    [n],
    "int32",
    { backend: x.backend.name },
  );
  const hit = cast(eq(unsqueeze(rank, 3), ranks), "int32"); // [outer, inner, n_i, n_r]
  const idx = sum(
    mul(
      hit,
      reshape(
        fromArray(
          Int32Array.from({ length: n }, (_, i) => i),
          [n],
          "int32",
          { backend: x.backend.name },
        ),
        [n, 1],
      ),
    ),
    2,
  );
  return [reshape(permute(idx, [0, 2, 1]), x.shape)];
}

/** Running sums as a product with a triangular matrix of ones (exact for int32 up to 2^24). */
export function cumsumDefault([x]: readonly Tensor[], at: OpAttrs["cumsum"]): Tensor[] {
  const { outer, n, inner } = at;
  const tri = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (at.reverse ? j >= i : j <= i) tri[i * n + j] = 1;
  }
  const t = fromArray(tri, [n, n], "float32", { backend: x.backend.name });
  const y = matmul(t, reshape(cast(x, "float32"), [outer, n, inner]));
  return [reshape(cast(y, x.dtype), x.shape)];
}
