import { mergeAxesInto, stridesOf } from "@minibatch/tensor";

/**
 * Visits an output of `shape` row by row (rows run along the last axis), giving each input's
 * element offset at the row start. Inputs are read through their own strides (0 on broadcast
 * axes). Axes are merged first by the core's `mergeAxesInto`, so the common cases (same shapes, a
 * scalar operand, a row vector) become a few long rows.
 *
 * It allocates nothing: a compiled training step makes a dozen calls on tiny shapes, and the
 * merged axes and offsets as new arrays were most of what its replay allocated. The arrays given
 * to `row` are scratch, valid during the call. A call made from inside a row callback gets its
 * own arrays.
 */
export function forEachRow(
  shape: readonly number[],
  inputStrides: readonly (readonly number[])[],
  row: (outOffset: number, offsets: Int32Array, n: number, innerStrides: Int32Array) => void,
): void {
  const k = inputStrides.length;
  const reuse = depth === 0 && k <= MAX_INPUTS && shape.length <= MAX_RANK;
  const s = reuse ? SCRATCH : scratch(k, Math.max(1, shape.length));
  depth++;
  try {
    visit(k, mergeAxesInto(shape, inputStrides, s.dims, s.strides, s.rank), s, row);
  } finally {
    depth--;
  }
}

interface Scratch {
  /** Merged axis sizes. */
  dims: Int32Array;
  /** Merged strides, input j's at [j * rank, (j + 1) * rank). */
  strides: Int32Array;
  rank: number;
  offsets: Int32Array;
  inner: Int32Array;
  idx: Int32Array;
}

const MAX_INPUTS = 4;
const MAX_RANK = 16;

function scratch(k: number, rank: number): Scratch {
  return {
    dims: new Int32Array(rank),
    strides: new Int32Array(k * rank),
    rank,
    offsets: new Int32Array(k),
    inner: new Int32Array(k),
    idx: new Int32Array(rank),
  };
}

const SCRATCH = scratch(MAX_INPUTS, MAX_RANK);
let depth = 0;

function visit(
  k: number,
  rank: number,
  s: Scratch,
  row: (outOffset: number, offsets: Int32Array, n: number, innerStrides: Int32Array) => void,
): void {
  const { dims, strides, rank: R, offsets, inner, idx } = s;
  const n = dims[rank - 1];
  let total = 1;
  for (let d = 0; d < rank; d++) total *= dims[d];
  if (total === 0) return;
  offsets.fill(0, 0, k);
  idx.fill(0, 0, rank);
  for (let j = 0; j < k; j++) inner[j] = strides[j * R + rank - 1];
  const rows = total / n;
  for (let r = 0, out = 0; r < rows; r++, out += n) {
    row(out, offsets, n, inner);
    // advance the odometer over all axes but the last
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      for (let j = 0; j < k; j++) offsets[j] += strides[j * R + d];
      if (idx[d] < dims[d]) break;
      for (let j = 0; j < k; j++) offsets[j] -= strides[j * R + d] * dims[d];
      idx[d] = 0;
    }
  }
}

export { stridesOf };
