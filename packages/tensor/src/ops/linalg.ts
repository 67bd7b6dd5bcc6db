import { broadcastShapes, fmt, sizeOf } from "../shape";
import type { Tensor } from "../tensor";
import { cast } from "./elementwise";
import { composite, run1 } from "./run";
import { expand, reshape, squeeze } from "./shape_ops";

/**
 * Matrix product with NumPy/PyTorch semantics: 1-d operands are promoted and the added axis
 * removed, leading (batch) axes broadcast. Integer operands compute in float32.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return composite([a, b], () => {
    if (a.rank === 0 || b.rank === 0) {
      throw new Error(
        `matmul: both operands need at least one dimension, got ${fmt(a.shape)} and ${fmt(b.shape)}`,
      );
    }
    if (a.dtype !== "float32") a = cast(a, "float32");
    if (b.dtype !== "float32") b = cast(b, "float32");
    const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
    const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
    const m = a2.shape[a2.rank - 2];
    const k = a2.shape[a2.rank - 1];
    const k2 = b2.shape[b2.rank - 2];
    const n = b2.shape[b2.rank - 1];
    if (k !== k2) {
      throw new Error(
        `matmul: inner dimensions must agree, got ${fmt(a.shape)} @ ${fmt(b.shape)} (${k} vs ${k2})`,
      );
    }
    // Two matrices (the usual case: a layer's input and weight): one product, no batch views.
    if (a2.rank === 2 && b2.rank === 2) {
      let out = mm(a2, b2, false, false);
      if (a.rank === 1) out = squeeze(out, -2);
      if (b.rank === 1) out = squeeze(out, -1);
      return out;
    }
    const batchShape = broadcastShapes("matmul", a2.shape.slice(0, -2), b2.shape.slice(0, -2));
    const _batch = sizeOf(batchShape);
    const as3 = batch3(a2, batchShape, m, k);
    const bs3 = batch3(b2, batchShape, k, n);
    let out = mm(as3, bs3, false, false);
    out = reshape(out, [...batchShape, m, n]);
    if (a.rank === 1) out = squeeze(out, -2);
    if (b.rank === 1) out = squeeze(out, -1);
    return out;
  });
}

/** Views x as [batch or 1, r, c], expanding only when its batch axes partly broadcast. */
function batch3(x: Tensor, batchShape: readonly number[], r: number, c: number): Tensor {
  const own = sizeOf(x.shape.slice(0, -2));
  const batch = sizeOf(batchShape);
  if (own === batch && x.rank - 2 === batchShape.length) return reshape(x, [batch, r, c]);
  if (own === 1) return reshape(x, [1, r, c]);
  return reshape(expand(x, [...batchShape, r, c]), [batch, r, c]);
}

/**
 * The kernel-level product of [Ba, M, K] (or [Ba, K, M] with transA) and [Bb, K, N] (or [Bb, N, K]),
 * or of two matrices [M, K] and [K, N] (transposed likewise), which gives an [M, N] result: layers
 * multiply matrices, and views to and from rank 3 cost more than a small product's kernel call.
 * The gradient (gradients.ts) calls it with operands of the ranks it was given, so both operands
 * have rank 2 or both rank 3.
 */
export function mm(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const r = a.rank;
  if ((r !== 2 && r !== 3) || b.rank !== r) {
    throw new Error(
      `mm: expected two matrices or two rank-3 batches of them, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`,
    );
  }
  const batchA = r === 3 ? a.shape[0] : 1;
  const batchB = r === 3 ? b.shape[0] : 1;
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new Error(
      `mm: batch sizes ${batchA} and ${batchB} differ and neither is 1 (shapes ${fmt(a.shape)} and ${fmt(b.shape)})`,
    );
  }
  const batch = Math.max(batchA, batchB);
  const m = transA ? a.shape[r - 1] : a.shape[r - 2];
  const k = transA ? a.shape[r - 2] : a.shape[r - 1];
  const kb = transB ? b.shape[r - 1] : b.shape[r - 2];
  const n = transB ? b.shape[r - 2] : b.shape[r - 1];
  if (k !== kb) {
    const op = (x: Tensor, t: boolean) => `${fmt(x.shape)}${t ? " transposed" : ""}`;
    throw new Error(
      `mm: inner dimensions must agree, got ${op(a, transA)} @ ${op(b, transB)} (${k} vs ${kb})`,
    );
  }
  const shape = r === 3 ? [batch, m, n] : [m, n];
  return run1("matmul", [a, b], shape, "float32", { batch, m, n, k, transA, transB, batchA, batchB });
}
