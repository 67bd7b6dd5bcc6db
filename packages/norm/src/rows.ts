import { cast, formatShape as fmt, reshape, sub, type Tensor } from "@minibatch/tensor";
import { type BatchStats, fusedTrain } from "./functional";

/**
 * Standardizes x seen as [rows, cols] per row. Rows become the channels of the fused batch-norm
 * kernel, so LayerNorm, GroupNorm and InstanceNorm share its one-kernel forward and backward.
 * A row of one value normalizes to 0 (PyTorch gives the bias there), with zero gradient.
 */
export function standardizeRows(
  x: Tensor,
  rows: number,
  cols: number,
  eps: number,
  who: string,
): { y: Tensor; stats: BatchStats | null } {
  if (rows * cols !== x.size)
    throw new Error(`${who}: internal: ${rows} x ${cols} does not fit ${fmt(x.shape)}`);
  if (cols <= 1 || rows === 0) {
    const xf = cast(x, "float32");
    return { y: sub(xf, xf), stats: null };
  }
  const st = fusedTrain(reshape(x, [1, rows, cols]), null, null, eps, 1, who);
  return { y: reshape(st.y, x.shape), stats: st };
}

/** Drops what the recorded backward does not need. */
export function releaseStats(stats: BatchStats | null, keepForGraph: boolean): void {
  if (!stats) return;
  stats.varUnbiased.dispose();
  if (!keepForGraph) {
    stats.mean.dispose();
    stats.invstd.dispose();
  }
}
