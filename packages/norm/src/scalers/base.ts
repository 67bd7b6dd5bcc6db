import { Tensor, tensor } from "@minibatch/tensor";
import {
  type BatchSource,
  checkLayout,
  defaultSelect,
  type FitInput,
  type HostData,
  type Layout,
  layoutOf,
  readHost,
  rejectInfinite,
} from "./stats";

export interface ScalerOptions {
  /** The sample axis or axes, reduced over (default 0: rows of [N, F] are samples). */
  axis?: number | readonly number[];
}

export interface FitFromOptions<B> {
  /** Picks the features out of a batch; default: the batch if it is a tensor, else its first element. */
  select?: (batch: B) => FitInput;
}

/** Fitting (host side, float64) shared by the scalers; subclasses own the statistics. */
export abstract class Scaler {
  readonly axis: number | readonly number[];
  protected layout: Layout | null = null;

  constructor(opts: ScalerOptions) {
    this.axis = opts.axis ?? 0;
  }

  protected abstract get who(): string;
  /** Forgets every statistic. */
  protected abstract resetStats(): void;
  /** Allocates the statistics for `layout.nFeatures` features. */
  protected abstract initStats(layout: Layout): void;
  /** Adds finite-or-NaN host data to the statistics. */
  protected abstract accumulate(data: HostData, layout: Layout): void;
  /** Scales x: a tensor, a nested array or `{ values, shape }`, the same inputs `fit` accepts. */
  abstract transform(x: FitInput): Tensor;

  get isFitted(): boolean {
    return this.layout !== null;
  }

  /** The statistics' shape: the fitted input shape with sample axes set to 1. */
  get featureShape(): number[] {
    return [...this.fitted().keptShape];
  }

  get nFeaturesIn(): number {
    return this.fitted().nFeatures;
  }

  /** Forgets previous statistics and fits on `x`. */
  async fit(x: FitInput): Promise<this> {
    const data = await readHost(x, `${this.who}.fit`);
    if (data.values.length === 0) {
      throw new Error(`${this.who}.fit: found an empty input (shape [${data.shape.join(", ")}])`);
    }
    this.reset();
    this.add(data, `${this.who}.fit`);
    return this;
  }

  /** Adds `x` to the statistics; any chunking gives exactly what `fit` on the whole gives. */
  async partialFit(x: FitInput): Promise<this> {
    this.add(await readHost(x, `${this.who}.partialFit`), `${this.who}.partialFit`);
    return this;
  }

  /** Fits on every batch of a (async) iterable such as a DataLoader, one batch at a time. */
  async fitFrom<B>(source: BatchSource<B>, opts: FitFromOptions<B> = {}): Promise<this> {
    this.reset();
    const who = `${this.who}.fitFrom`;
    for await (const batch of source as AsyncIterable<B>) {
      const x = opts.select ? opts.select(batch) : defaultSelect(batch, who);
      this.add(await readHost(x, who), who);
    }
    if (!this.layout) throw new Error(`${who}: the source yielded no batches`);
    return this;
  }

  async fitTransform(x: FitInput): Promise<Tensor> {
    await this.fit(x);
    return this.transform(x);
  }

  reset(): this {
    this.layout = null;
    this.resetStats();
    return this;
  }

  private add(data: HostData, who: string): void {
    let layout = this.layout;
    if (layout) checkLayout(layout, data.shape, who);
    else layout = layoutOf(data.shape, this.axis, who);
    rejectInfinite(data, layout, who);
    if (!this.layout) {
      this.layout = layout;
      this.initStats(layout);
    }
    this.accumulate(data, layout);
  }

  protected fitted(): Layout {
    if (!this.layout) {
      throw new Error(
        `${this.who}: not fitted yet; call await scaler.fit(x) (or partialFit / fitFrom) first`,
      );
    }
    return this.layout;
  }

  protected checkInput(x: Tensor, who: string): Layout {
    const layout = this.fitted();
    checkLayout(layout, x.shape, `${this.who}.${who}`);
    return layout;
  }
}

/**
 * Runs `f` on x as a tensor: plain arrays and `{ values, shape }` (what `fit` accepts) become a
 * float32 tensor that is disposed afterwards, so `transform` takes the same inputs as `fit`.
 */
export function onTensor(x: FitInput, who: string, f: (t: Tensor) => Tensor): Tensor {
  if (x instanceof Tensor) return f(x);
  let t: Tensor;
  if (Array.isArray(x)) t = tensor(x as number[]);
  else if (x && typeof x === "object" && "values" in x && "shape" in x) {
    t = tensor(Float32Array.from((x as { values: ArrayLike<number> }).values), [
      ...(x as { shape: readonly number[] }).shape,
    ]);
  } else {
    throw new Error(
      `${who}: expected a Tensor, a nested array or { values, shape }, got ${x === null ? "null" : typeof x}`,
    );
  }
  try {
    return f(t);
  } finally {
    t.dispose();
  }
}
