import { mergeAxes, stridesOf } from "@minibatch/tensor";

/**
 * Visits an output of `shape` row by row (rows run along the last axis), giving each input's
 * element offset at the row start. Inputs are read through their own strides (0 on broadcast
 * axes). Axes are merged first by the core's `mergeAxes`, so the common cases (same shapes, a
 * scalar operand, a row vector) become a few long rows.
 */
export function forEachRow(
  shape: readonly number[],
  inputStrides: readonly (readonly number[])[],
  row: (outOffset: number, offsets: Int32Array, n: number, innerStrides: Int32Array) => void,
): void {
  const { shape: dims, strides } = mergeAxes(shape, inputStrides);
  const k = inputStrides.length;
  const offsets = new Int32Array(k);
  const inner = new Int32Array(k);
  const rank = dims.length;
  if (rank === 0) {
    row(0, offsets, 1, inner);
    return;
  }
  const n = dims[rank - 1];
  for (let j = 0; j < k; j++) inner[j] = strides[j][rank - 1];
  let total = 1;
  for (const d of dims) total *= d;
  if (total === 0) return;
  const rows = total / n;
  const idx = new Int32Array(rank);
  for (let r = 0, out = 0; r < rows; r++, out += n) {
    row(out, offsets, n, inner);
    // advance the odometer over all axes but the last
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      for (let j = 0; j < k; j++) offsets[j] += strides[j][d];
      if (idx[d] < dims[d]) break;
      for (let j = 0; j < k; j++) offsets[j] -= strides[j][d] * dims[d];
      idx[d] = 0;
    }
  }
}

export { stridesOf };
