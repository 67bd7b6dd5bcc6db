import {
  add,
  checkOptionKeys,
  clamp,
  div,
  fromArray,
  mul,
  ne,
  sub,
  type Tensor,
  where,
} from "@minibatch/tensor";
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
  sampleCount,
  splitFloat,
} from "./stats";

const EPS64 = 2 ** -52;

export interface MinMaxScalerOptions extends ScalerOptions {
  /** Target range [lo, hi] with lo < hi (default [0, 1]). */
  featureRange?: readonly [number, number];
  /** Clip transformed values to featureRange (transform only, never inverseTransform). */
  clip?: boolean;
}

export interface MinMaxScalerJSON {
  type: "MinMaxScaler";
  version: 1;
  featureRange: [number, number];
  clip: boolean;
  axis: number | number[];
  fitted: null | {
    shape: number[];
    dataMin: JsonNumber[];
    dataMax: JsonNumber[];
    nSamplesSeen: number;
  };
}

/**
 * scikit-learn's MinMaxScaler: x * scale + min with scale = (hi - lo) / (max - min) per feature.
 * Fitting reads the data back and keeps float64 statistics on the host; transforms are tensor ops.
 */
export class MinMaxScaler extends Scaler {
  readonly featureRange: readonly [number, number];
  readonly clip: boolean;
  private lo = new Float64Array(0);
  private hi = new Float64Array(0);
  private seen = 0;

  constructor(opts: MinMaxScalerOptions = {}) {
    checkOptionKeys("MinMaxScaler", opts, ["axis", "featureRange", "clip"]);
    super(opts);
    const [lo, hi] = opts.featureRange ?? [0, 1];
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
      throw new Error(
        `MinMaxScaler: featureRange must be [lo, hi] with finite lo < hi, got [${opts.featureRange?.join(", ")}]`,
      );
    }
    this.featureRange = Object.freeze([lo, hi]) as readonly [number, number];
    this.clip = opts.clip ?? false;
  }

  protected get who(): string {
    return "MinMaxScaler";
  }

  protected resetStats(): void {
    this.lo = new Float64Array(0);
    this.hi = new Float64Array(0);
    this.seen = 0;
  }

  protected initStats(layout: Layout): void {
    // NaN means "no value seen yet"; Math.min/max would propagate it, so updates skip it explicitly.
    this.lo = new Float64Array(layout.nFeatures).fill(Number.NaN);
    this.hi = new Float64Array(layout.nFeatures).fill(Number.NaN);
  }

  protected accumulate(data: HostData, layout: Layout): void {
    const { lo, hi } = this;
    const { values } = data;
    const rank = data.shape.length;
    const leading = layout.sampleAxes.every((a, i) => a === i);
    const visit = (v: number, f: number) => {
      if (v !== v) return;
      if (!(v >= lo[f])) lo[f] = v; // true also when lo[f] is NaN (first value)
      if (!(v <= hi[f])) hi[f] = v;
    };
    if (leading || rank <= 1) {
      const F = layout.nFeatures;
      for (let i = 0; i < values.length; i++) visit(values[i], i % F);
    } else {
      forEachFeature(data, layout, visit);
    }
    // scikit-learn counts rows, NaN or not, for this scaler.
    this.seen += sampleCount(data.shape, layout);
  }

  get dataMin(): Float64Array {
    this.fitted();
    return this.lo.slice();
  }

  get dataMax(): Float64Array {
    this.fitted();
    return this.hi.slice();
  }

  get dataRange(): Float64Array {
    this.fitted();
    return this.hi.map((h, i) => h - this.lo[i]);
  }

  /** (hi - lo) / range; a constant feature (range below 10 machine epsilons) gets (hi - lo) / 1. */
  get scale(): Float64Array {
    const [a, b] = this.featureRange;
    return this.dataRange.map((r) => (b - a) / (r < 10 * EPS64 ? 1 : r));
  }

  /** The offset: lo - dataMin * scale (scikit-learn's `min_`). */
  get min(): Float64Array {
    const s = this.scale;
    return s.map((v, i) => this.featureRange[0] - this.lo[i] * v);
  }

  get nSamplesSeen(): number {
    this.fitted();
    return this.seen;
  }

  /**
   * x * scale + min, evaluated as ((x - dataMin_hi) - dataMin_lo) * scale + lo: dataMin is split
   * into two float32 parts so that data far from zero (1e9 + noise) keeps its digits.
   */
  transform(input: FitInput): Tensor {
    return onTensor(input, `${this.who}.transform`, (x) => this.transformTensor(x));
  }

  private transformTensor(x: Tensor): Tensor {
    const layout = this.checkInput(x, "transform");
    const [a, b] = this.featureRange;
    return scoped(recording(x), () => {
      const { m, s } = this.constants(x, layout);
      let y = add(mul(sub(sub(x, m.hi), m.lo), s), a);
      if (this.clip) {
        // The NaN check keeps NaN passing through on backends whose clamp may not.
        y = where(ne(y, y), y, clamp(y, a, b));
      }
      return y;
    });
  }

  /** (y - lo) / scale + dataMin; never clipped. */
  inverseTransform(input: FitInput): Tensor {
    return onTensor(input, `${this.who}.inverseTransform`, (y) => this.inverseTensor(y));
  }

  private inverseTensor(y: Tensor): Tensor {
    const layout = this.checkInput(y, "inverseTransform");
    return scoped(recording(y), () => {
      const { m, s } = this.constants(y, layout);
      return add(add(div(sub(y, this.featureRange[0]), s), m.lo), m.hi);
    });
  }

  private constants(x: Tensor, layout: Layout) {
    const { hi, lo } = splitFloat(this.lo);
    const opts = { backend: x.backend.name };
    return {
      m: {
        hi: fromArray(hi, layout.keptShape, "float32", opts),
        lo: fromArray(lo, layout.keptShape, "float32", opts),
      },
      s: fromArray(Float32Array.from(this.scale), layout.keptShape, "float32", opts),
    };
  }

  toJSON(): MinMaxScalerJSON {
    const l = this.layout;
    return {
      type: "MinMaxScaler",
      version: 1,
      featureRange: [...this.featureRange] as [number, number],
      clip: this.clip,
      axis: typeof this.axis === "number" ? this.axis : [...this.axis],
      fitted: l && {
        shape: [...l.keptShape],
        dataMin: encodeArray(this.lo),
        dataMax: encodeArray(this.hi),
        nSamplesSeen: this.seen,
      },
    };
  }

  static fromJSON(json: MinMaxScalerJSON | string): MinMaxScaler {
    const j: MinMaxScalerJSON = typeof json === "string" ? JSON.parse(json) : json;
    if (j?.type !== "MinMaxScaler")
      throw new Error(`MinMaxScaler.fromJSON: expected type MinMaxScaler, got ${j?.type}`);
    const s = new MinMaxScaler({ featureRange: j.featureRange, clip: j.clip, axis: j.axis });
    if (j.fitted) {
      s.layout = layoutOf(j.fitted.shape, j.axis, "MinMaxScaler.fromJSON");
      s.lo = decodeArray(j.fitted.dataMin, "MinMaxScaler.fromJSON");
      s.hi = decodeArray(j.fitted.dataMax, "MinMaxScaler.fromJSON");
      s.seen = j.fitted.nSamplesSeen;
      if (s.lo.length !== s.layout.nFeatures || s.hi.length !== s.layout.nFeatures) {
        throw new Error("MinMaxScaler.fromJSON: statistics do not match the feature shape");
      }
    }
    return s;
  }

  /** Combines another scaler's statistics (e.g. fitted by a worker on other data) into this one. */
  merge(other: MinMaxScaler): this {
    const ol = other.fitted();
    if (!this.layout) {
      this.layout = ol;
      this.initStats(ol);
    } else if (this.layout.nFeatures !== ol.nFeatures) {
      throw new Error(`MinMaxScaler.merge: ${ol.nFeatures} features, expected ${this.layout.nFeatures}`);
    }
    for (let f = 0; f < ol.nFeatures; f++) {
      const a = other.lo[f];
      const b = other.hi[f];
      if (a === a && !(a >= this.lo[f])) this.lo[f] = a;
      if (b === b && !(b <= this.hi[f])) this.hi[f] = b;
    }
    this.seen += other.seen;
    return this;
  }
}
