/** The q-th percentile (0..100) with linear interpolation between order statistics (NumPy's default). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (q / 100) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Several percentiles of unsorted values (sorts a copy once). */
export function percentiles(values: ArrayLike<number>, qs: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  return qs.map((q) => percentile(sorted, q));
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length ? s / values.length : Number.NaN;
}

/** Biased (population) variance. */
export function variance(values: ArrayLike<number>): number {
  const m = mean(values);
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] - m) ** 2;
  return values.length ? s / values.length : Number.NaN;
}

/** Median and the smallest and largest of repeated measurements (the spread the reports show). */
export function spread(values: readonly number[]): { median: number; min: number; max: number; n: number } {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return {
    median: percentiles(finite, [50])[0],
    min: Math.min(...finite),
    max: Math.max(...finite),
    n: finite.length,
  };
}

/** Least-squares slope and intercept of y on x, with R². */
export function linearFit(
  xs: readonly number[],
  ys: readonly number[],
): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : Number.NaN;
  return { slope, intercept: my - slope * mx, r2: sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 1 };
}
