import { add, checkOptionKeys, div, fromArray, mul, sub, type Tensor } from "@minibatch/tensor";
import { recording, scoped } from "../util";
import { onTensor, Scaler, type ScalerOptions } from "./base";
import {
  decodeArray,
  encodeArray,
  type FitInput,
  forEachFeature,
  type HostData,
  type JsonNumber,
  type Layout,
  layoutOf,
  splitFloat,
} from "./stats";

const EPS64 = 2 ** -52;

export interface StandardScalerOptions extends ScalerOptions {
  /** Subtract the mean (default true). */
  withMean?: boolean;
  /** Divide by the (biased) standard deviation (default true). */
  withStd?: boolean;
}

export interface StandardScalerJSON {
  type: "StandardScaler";
  version: 1;
  withMean: boolean;
  withStd: boolean;
  axis: number | number[];
  /** `shift` (added in 0.2): the per-feature value the running mean is kept relative to. */
  fitted: null | {
    shape: number[];
    count: number[];
    mean: JsonNumber[];
    m2: JsonNumber[];
    shift?: JsonNumber[];
  };
}

/**
 * scikit-learn's StandardScaler: (x - mean) / scale with the biased (ddof 0) standard deviation.
 * Statistics are float64 Welford sums per feature, updated sample by sample in input order; so
 * partialFit over any chunking along the sample axes reproduces fit on the whole bit for bit.
 * Each feature's first value is kept as a shift and the sums run over x - shift: data such as
 * 1e9 plus noise of 1e-6 then keeps its variance to float64 rounding (scikit-learn does as well with
 * a two-pass sum per batch); without the shift the running mean's rounding swamps the noise.
 */
export class StandardScaler extends Scaler {
  readonly withMean: boolean;
  readonly withStd: boolean;
  private count = new Float64Array(0);
  private mu = new Float64Array(0);
  private m2 = new Float64Array(0);
  /** Per-feature shift: the first non-NaN value seen (0 until then). `mu` is the mean of x - shift. */
  private shift = new Float64Array(0);

  constructor(opts: StandardScalerOptions = {}) {
    checkOptionKeys("StandardScaler", opts, ["axis", "withMean", "withStd"]);
    super(opts);
    this.withMean = opts.withMean ?? true;
    this.withStd = opts.withStd ?? true;
  }

  protected get who(): string {
    return "StandardScaler";
  }

  protected resetStats(): void {
    this.count = new Float64Array(0);
    this.mu = new Float64Array(0);
    this.m2 = new Float64Array(0);
    this.shift = new Float64Array(0);
  }

  protected initStats(layout: Layout): void {
    this.count = new Float64Array(layout.nFeatures);
    this.mu = new Float64Array(layout.nFeatures);
    this.m2 = new Float64Array(layout.nFeatures);
    this.shift = new Float64Array(layout.nFeatures);
  }

  protected accumulate(data: HostData, layout: Layout): void {
    const { count, mu, m2, shift } = this;
    const visit = (v: number, f: number) => {
      if (v !== v) return;
      if (count[f] === 0) shift[f] = v;
      v -= shift[f];
      const n = ++count[f];
      const d = v - mu[f];
      mu[f] += d / n;
      m2[f] += d * (v - mu[f]);
    };
    const { values } = data;
    if (layout.sampleAxes.every((a, i) => a === i)) {
      const F = layout.nFeatures;
      for (let i = 0; i < values.length; i++) visit(values[i], i % F);
    } else {
      forEachFeature(data, layout, visit);
    }
  }

  /** Per-feature mean (NaN for a feature that has only seen NaN); null when neither option is on, as sklearn. */
  get mean(): Float64Array | null {
    this.fitted();
    if (!this.withMean && !this.withStd) return null;
    return this.mu.map((m, f) => (this.count[f] > 0 ? this.shift[f] + m : Number.NaN));
  }

  /** Per-feature biased variance M2 / n; null without withStd, as sklearn. */
  get var(): Float64Array | null {
    this.fitted();
    if (!this.withStd) return null;
    return this.m2.map((s, f) => s / this.count[f]);
  }

  /**
   * sqrt(var), or 1 for a feature indistinguishable from a constant: var at most the rounding
   * error bound n * eps * var + (n * mean * eps)^2 (scikit-learn's test, after Chan, Golub, LeVeque).
   */
  get scale(): Float64Array | null {
    const v = this.var;
    if (!v) return null;
    return v.map((x, f) => {
      const n = this.count[f];
      const bound = n * EPS64 * x + (n * (this.shift[f] + this.mu[f]) * EPS64) ** 2;
      return x <= bound ? 1 : Math.sqrt(x);
    });
  }

  /** A number when every feature saw the same count, else per-feature counts (NaN are not counted). */
  get nSamplesSeen(): number | number[] {
    this.fitted();
    const c = Array.from(this.count);
    return c.every((v) => v === c[0]) ? c[0] : c;
  }

  /** (x - mean) / scale; the mean is applied as two float32 parts so large offsets keep their digits. */
  transform(input: FitInput): Tensor {
    return onTensor(input, `${this.who}.transform`, (x) => this.transformTensor(x));
  }

  private transformTensor(x: Tensor): Tensor {
    const layout = this.checkInput(x, "transform");
    return scoped(recording(x), () => {
      const { m, s } = this.constants(x, layout);
      let y = x;
      if (m) y = sub(sub(y, m.hi), m.lo);
      if (s) y = div(y, s);
      return y === x ? mul(x, 1) : y;
    });
  }

  /** y * scale + mean. */
  inverseTransform(input: FitInput): Tensor {
    return onTensor(input, `${this.who}.inverseTransform`, (y) => this.inverseTensor(y));
  }

  private inverseTensor(y: Tensor): Tensor {
    const layout = this.checkInput(y, "inverseTransform");
    return scoped(recording(y), () => {
      const { m, s } = this.constants(y, layout);
      let x = y;
      if (s) x = mul(x, s);
      if (m) x = add(add(x, m.lo), m.hi);
      return x === y ? mul(y, 1) : x;
    });
  }

  private constants(x: Tensor, layout: Layout) {
    const opts = { backend: x.backend.name };
    const t = (a: Float32Array) => fromArray(a, layout.keptShape, "float32", opts);
    const mean = this.withMean ? this.mean : null;
    const scale = this.withStd ? this.scale : null;
    const split = mean && splitFloat(mean);
    return {
      m: split && { hi: t(split.hi), lo: t(split.lo) },
      s: scale && t(Float32Array.from(scale)),
    };
  }

  /** Combines another scaler's statistics with the parallel formula (a worker with no data adds nothing). */
  merge(other: StandardScaler): this {
    const ol = other.fitted();
    if (!this.layout) {
      this.layout = ol;
      this.initStats(ol);
    } else if (this.layout.nFeatures !== ol.nFeatures) {
      throw new Error(`StandardScaler.merge: ${ol.nFeatures} features, expected ${this.layout.nFeatures}`);
    }
    for (let f = 0; f < ol.nFeatures; f++) {
      const nb = other.count[f];
      if (nb === 0) continue;
      const na = this.count[f];
      if (na === 0) this.shift[f] = other.shift[f];
      const n = na + nb;
      // Means relative to each side's shift; the shifts' difference is exact for nearby values.
      const d = other.shift[f] - this.shift[f] + (other.mu[f] - this.mu[f]);
      this.mu[f] += (d * nb) / n;
      this.m2[f] += other.m2[f] + (d * d * na * nb) / n;
      this.count[f] = n;
    }
    return this;
  }

  toJSON(): StandardScalerJSON {
    const l = this.layout;
    return {
      type: "StandardScaler",
      version: 1,
      withMean: this.withMean,
      withStd: this.withStd,
      axis: typeof this.axis === "number" ? this.axis : [...this.axis],
      fitted: l && {
        shape: [...l.keptShape],
        count: Array.from(this.count),
        mean: encodeArray(this.mu),
        m2: encodeArray(this.m2),
        shift: encodeArray(this.shift),
      },
    };
  }

  static fromJSON(json: StandardScalerJSON | string): StandardScaler {
    const j: StandardScalerJSON = typeof json === "string" ? JSON.parse(json) : json;
    if (j?.type !== "StandardScaler") {
      throw new Error(`StandardScaler.fromJSON: expected type StandardScaler, got ${j?.type}`);
    }
    const s = new StandardScaler({ withMean: j.withMean, withStd: j.withStd, axis: j.axis });
    if (j.fitted) {
      const who = "StandardScaler.fromJSON";
      s.layout = layoutOf(j.fitted.shape, j.axis, who);
      s.count = Float64Array.from(j.fitted.count);
      s.mu = decodeArray(j.fitted.mean, who);
      s.m2 = decodeArray(j.fitted.m2, who);
      const F = s.layout.nFeatures;
      s.shift = j.fitted.shift ? decodeArray(j.fitted.shift, who) : new Float64Array(F);
      if (s.count.length !== F || s.mu.length !== F || s.m2.length !== F || s.shift.length !== F) {
        throw new Error(`${who}: statistics do not match the feature shape`);
      }
    }
    return s;
  }
}
