import type { Tensor } from "@minibatch/tensor";
import { Dataset } from "./datasets";
import { type HostDType, NDArray } from "./ndarray";
import type { Describe } from "./workers/descriptor";

/**
 * Rows of tensors that share their first dimension: sample i is the tuple of row i of each.
 * Rows are served as NDArray views of one host copy per tensor (read once, on first access), so a
 * batch costs one copy and one upload rather than a tensor per sample.
 */
export class TensorDataset extends Dataset<NDArray[]> {
  readonly tensors: readonly Tensor[];
  private host: { data: NDArray["data"]; rowShape: number[]; rowSize: number; dtype: HostDType }[] | null =
    null;
  private loading: Promise<void> | null = null;

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new Error("TensorDataset: expected at least one tensor");
    for (const t of tensors) {
      if (t.rank === 0)
        throw new Error("TensorDataset: tensors must have at least one dimension (the sample axis)");
      if (t.shape[0] !== tensors[0].shape[0]) {
        throw new Error(
          `TensorDataset: every tensor needs the same first dimension, got [${tensors[0].shape.join(", ")}] and [${t.shape.join(", ")}]`,
        );
      }
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  private setHost(arrays: NDArray["data"][]): void {
    this.host = this.tensors.map((t, k) => {
      const rowShape = t.shape.slice(1);
      return { data: arrays[k], rowShape, rowSize: rowShape.reduce((a, b) => a * b, 1), dtype: t.dtype };
    });
  }

  private row(i: number): NDArray[] {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(
        `TensorDataset: index ${i} is out of range for a dataset of length ${this.length}`,
      );
    }
    return this.host!.map(
      (h) => new NDArray(h.data.subarray(i * h.rowSize, (i + 1) * h.rowSize), h.rowShape, h.dtype),
    );
  }

  get(i: number): NDArray[] | Promise<NDArray[]> {
    if (this.host) return this.row(i);
    if (this.tensors.every((t) => t.backend.readSync)) {
      this.setHost(this.tensors.map((t) => t.dataSync()));
      return this.row(i);
    }
    this.loading ??= Promise.all(this.tensors.map((t) => t.data())).then((a) => this.setHost(a));
    return this.loading.then(() => this.row(i));
  }

  override describe(): Describe {
    return {
      reason:
        "TensorDataset already holds its data in memory on this thread, so workers would only copy it; use workers: 0",
    };
  }
}
