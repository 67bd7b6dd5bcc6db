import { traceCheck, tracing } from "./compile/trace";
import type { Shape } from "./shape";
import type { Tensor } from "./tensor";

/**
 * A data-dependent check on int32 indices (class labels, embedding rows, gather and scatter
 * positions), declared once by the op that knows the valid range. Every backend enforces it: one
 * that reads host memory throws at once; a GPU backend records the first violation on the device
 * and throws it on the next read or `sync()`. Both build the message with `indexErrorMessage`, so
 * the error is the same on every backend.
 */
export interface IndexCheck {
  /** The op or class named in the error: "indexSelect", "Embedding", "crossEntropy", ... */
  readonly op: string;
  /** What one entry is called: "index", "target", ... */
  readonly what: string;
  /** The smallest valid value. */
  readonly low: number;
  /** One past the largest valid value. */
  readonly high: number;
  /** A value outside [low, high) that is allowed too (a loss's ignoreIndex). */
  readonly ignore?: number;
  /** The range in words, after "out of range for": "axis 0 of size 5", "10 embeddings", "3 classes". */
  readonly range: string;
}

/** Whether `v` passes `check`. */
export function isValidIndex(check: IndexCheck, v: number): boolean {
  return (v >= check.low && v < check.high) || v === check.ignore;
}

/** The flat position of the first value that fails `check`, or -1 when all pass. */
export function firstBadIndex(values: ArrayLike<number>, check: IndexCheck): number {
  for (let i = 0; i < values.length; i++) if (!isValidIndex(check, values[i])) return i;
  return -1;
}

/**
 * The one message for an index that fails its check, e.g.
 * `Embedding: index 12 at position [0, 1] is out of range for 10 embeddings (expected 0..9)`.
 * `position` is flat; for indices of rank 2 and up it is shown as a multi-index of `shape`.
 */
export function indexErrorMessage(check: IndexCheck, value: number, position: number, shape: Shape): string {
  const expected = check.high > check.low ? `expected ${check.low}..${check.high - 1}` : "the range is empty";
  const ignore = check.ignore === undefined ? "" : `, or ignoreIndex ${check.ignore}`;
  return `${check.op}: ${check.what} ${value} at position ${formatPosition(position, shape)} is out of range for ${check.range} (${expected}${ignore})`;
}

/** The error thrown for an index that fails its check (a RangeError on every backend). */
export function indexError(check: IndexCheck, value: number, position: number, shape: Shape): RangeError {
  return new RangeError(indexErrorMessage(check, value, position, shape));
}

/** Throws the check's error for the first failing value, if any (host-memory backends). */
export function assertIndices(values: ArrayLike<number>, shape: Shape, check: IndexCheck): void {
  const p = firstBadIndex(values, check);
  if (p >= 0) throw indexError(check, values[p], p, shape);
}

/**
 * Enforces `check` on an int32 index tensor on its backend: through the backend's `checkIndices`
 * where it has one (a GPU: the error comes on the next read or sync), else by a synchronous read
 * (throws now). Ops call this before the kernel that uses the indices.
 */
export function checkIndices(indices: Tensor, check: IndexCheck): void {
  if (indices.dtype !== "int32") {
    throw new Error(`${check.op}: ${check.what} tensor must be int32, got ${indices.dtype}`);
  }
  if (indices.size === 0) return;
  if (tracing()) traceCheck(indices, check);
  const b = indices.backend;
  if (b.checkIndices) b.checkIndices(indices, check);
  else if (b.readSync) assertIndices(b.readSync(indices.dataId, indices.size, "int32"), indices.shape, check);
  // A backend with neither cannot be checked here; its gather and scatterAdd kernels are the last guard.
}

function formatPosition(position: number, shape: Shape): string {
  if (shape.length <= 1) return String(position);
  const at = new Array<number>(shape.length);
  let rest = position;
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return `[${at.join(", ")}]`;
}
