import { formatShape, type Tensor } from "@minibatch/tensor";

/**
 * Predicted classes (int32) from logits/probabilities [N, C] (or [N, C, d1, ...]) by argmax over
 * the class axis, or the input itself when it already has the labels' shape and is int32.
 */
function predictions(input: Tensor, labels: Tensor, op: string): Tensor {
  if (labels.dtype !== "int32") {
    throw new Error(
      `${op}: labels must be int32 class indices, got ${labels.dtype} of shape ${formatShape(labels.shape)}`,
    );
  }
  const same = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((d, i) => d === b[i]);
  if (same(input.shape, labels.shape)) {
    if (input.dtype !== "int32") {
      throw new Error(
        `${op}: input has the labels' shape ${formatShape(labels.shape)}, so it must hold int32 predicted classes, got ${input.dtype}; pass logits of shape [N, C] instead`,
      );
    }
    return input;
  }
  const expected = input.shape.filter((_, i) => i !== 1);
  if (input.rank < 2 || !same(expected, labels.shape)) {
    throw new Error(
      `${op}: expected logits [N, C, ...] whose shape without axis 1 equals the labels' ${formatShape(labels.shape)}, or int32 predictions of that shape; got ${formatShape(input.shape)}`,
    );
  }
  return input.argmax(1);
}

/** Fraction of predictions equal to the labels (a number in [0, 1]; NaN for zero samples). */
export async function accuracy(logitsOrPredictions: Tensor, labels: Tensor): Promise<number> {
  const pred = predictions(logitsOrPredictions, labels, "accuracy");
  try {
    const [p, l] = await Promise.all([pred.data(), labels.data()]);
    let hits = 0;
    for (let i = 0; i < l.length; i++) if (p[i] === l[i]) hits++;
    return hits / l.length;
  } finally {
    if (pred !== logitsOrPredictions) pred.dispose();
  }
}

/**
 * A confusion matrix over `numClasses` classes, accumulated batch by batch. Rows are true classes
 * and columns predicted ones (scikit-learn's layout): `matrix[t][p]`.
 */
export class ConfusionMatrix {
  readonly counts: Float64Array;

  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses <= 0) {
      throw new Error(`ConfusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
    }
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /** Adds a batch of logits [N, C] (or int32 predictions [N]) and int32 labels [N]. */
  async update(logitsOrPredictions: Tensor, labels: Tensor): Promise<this> {
    const pred = predictions(logitsOrPredictions, labels, "ConfusionMatrix.update");
    try {
      const [p, l] = await Promise.all([pred.data(), labels.data()]);
      this.updateFromArrays(p, l);
    } finally {
      if (pred !== logitsOrPredictions) pred.dispose();
    }
    return this;
  }

  /** Adds predicted and true classes given as plain arrays. */
  updateFromArrays(predicted: ArrayLike<number>, actual: ArrayLike<number>): this {
    if (predicted.length !== actual.length) {
      throw new Error(`ConfusionMatrix: ${predicted.length} predictions but ${actual.length} labels`);
    }
    const c = this.numClasses;
    for (let i = 0; i < actual.length; i++) {
      const t = actual[i];
      const p = predicted[i];
      for (const [what, v] of [
        ["label", t],
        ["prediction", p],
      ] as const) {
        if (!Number.isInteger(v) || v < 0 || v >= c) {
          throw new Error(`ConfusionMatrix: ${what} ${v} at position ${i} is out of range for ${c} classes`);
        }
      }
    }
    for (let i = 0; i < actual.length; i++) this.counts[actual[i] * c + predicted[i]]++;
    return this;
  }

  reset(): this {
    this.counts.fill(0);
    return this;
  }

  /** Counts as rows of true classes: matrix[t][p]. */
  get matrix(): number[][] {
    const c = this.numClasses;
    return Array.from({ length: c }, (_, t) => Array.from(this.counts.subarray(t * c, (t + 1) * c)));
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  private diag(k: number): number {
    return this.counts[k * this.numClasses + k];
  }
  private rowSum(k: number): number {
    let s = 0;
    for (let j = 0; j < this.numClasses; j++) s += this.counts[k * this.numClasses + j];
    return s;
  }
  private colSum(k: number): number {
    let s = 0;
    for (let i = 0; i < this.numClasses; i++) s += this.counts[i * this.numClasses + k];
    return s;
  }

  /** Overall fraction correct. */
  accuracy(): number {
    let d = 0;
    for (let k = 0; k < this.numClasses; k++) d += this.diag(k);
    return d / this.total;
  }

  /** Per class: correct / predicted as that class (0 when never predicted, scikit-learn's zero_division=0). */
  precision(): number[] {
    return Array.from({ length: this.numClasses }, (_, k) => safeDiv(this.diag(k), this.colSum(k)));
  }

  /** Per class: correct / actually of that class (0 when the class never occurs). */
  recall(): number[] {
    return Array.from({ length: this.numClasses }, (_, k) => safeDiv(this.diag(k), this.rowSum(k)));
  }

  /** Per class harmonic mean of precision and recall. */
  f1(): number[] {
    const p = this.precision();
    const r = this.recall();
    return p.map((pk, k) => safeDiv(2 * pk * r[k], pk + r[k]));
  }

  toString(): string {
    const m = this.matrix;
    const width = Math.max(
      4,
      ...m.flat().map((v) => String(v).length),
      String(this.numClasses - 1).length + 2,
    );
    const pad = (s: string) => s.padStart(width);
    const header = `${pad("t\\p")} ${m.map((_, j) => pad(String(j))).join(" ")}`;
    const rows = m.map((row, i) => `${pad(String(i))} ${row.map((v) => pad(String(v))).join(" ")}`);
    const p = this.precision();
    const r = this.recall();
    const stats = p.map((pk, k) => `class ${k}: precision ${pk.toFixed(4)}, recall ${r[k].toFixed(4)}`);
    return [
      `ConfusionMatrix(${this.numClasses} classes, ${this.total} samples, accuracy ${this.accuracy().toFixed(4)})`,
      header,
      ...rows,
      ...stats,
    ].join("\n");
  }
}

function safeDiv(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/** The weighted mean of every value seen (e.g. the epoch's loss): update(batchLoss, batchSize). */
export class RunningMean {
  private sum = 0;
  private weight = 0;

  update(value: number, n = 1): this {
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`RunningMean: weight must be a non-negative number, got ${n}`);
    this.sum += value * n;
    this.weight += n;
    return this;
  }

  /** NaN before the first update. */
  get value(): number {
    return this.weight === 0 ? Number.NaN : this.sum / this.weight;
  }

  get count(): number {
    return this.weight;
  }

  reset(): this {
    this.sum = 0;
    this.weight = 0;
    return this;
  }
}

/**
 * An exponential moving average for smooth progress output: the first value is taken as is, then
 * value = alpha * value + (1 - alpha) * x (PyTorch-Ignite's RunningAverage, alpha 0.98).
 */
export class RunningAverage {
  private current = Number.NaN;

  constructor(readonly alpha = 0.98) {
    if (!(alpha >= 0 && alpha < 1)) throw new Error(`RunningAverage: alpha must be in [0, 1), got ${alpha}`);
  }

  update(x: number): this {
    this.current = Number.isNaN(this.current) ? x : this.alpha * this.current + (1 - this.alpha) * x;
    return this;
  }

  /** NaN before the first update. */
  get value(): number {
    return this.current;
  }

  reset(): this {
    this.current = Number.NaN;
    return this;
  }
}
