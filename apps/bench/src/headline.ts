// The numbers the tables lead with, computed from raw timings by pure functions (unit-tested in
// headline.test.ts). Every training row (minibatch, TF.js, NumPy) reports the same raw data, its
// epoch as contiguous segments, and these functions turn it into the headline and the secondary
// column, so every row is computed the same way.
import { median } from "./common";

/** One stretch of consecutive training steps; segments are contiguous (each starts where the last ended). */
export interface Segment {
  /** Training samples processed in the segment (steps x batch size). */
  samples: number;
  /** Wall-clock milliseconds from the end of the previous segment (or the first step) to its end. */
  ms: number;
}

/**
 * Whole-epoch throughput, warm-up included: all samples over all the time, from the first step of
 * a fresh process to the last one finished. JIT compilation, first-touch allocations and caches
 * warming up during the first steps all count, as they do for a user who trains one epoch.
 */
export function epochThroughput(segments: readonly Segment[]): number {
  let samples = 0;
  let ms = 0;
  for (const s of segments) {
    samples += s.samples;
    ms += s.ms;
  }
  return ms > 0 ? samples / (ms / 1000) : Number.NaN;
}

/** The samples/s of each segment (the secondary column's raw values). */
export function segmentRates(segments: readonly Segment[]): number[] {
  return segments.filter((s) => s.ms > 0).map((s) => s.samples / (s.ms / 1000));
}

/**
 * Steady-state throughput: the median of the segments' rates. It leaves out a slow start (warm-up)
 * as long as fewer than half the segments are slow, so it is the better number for "how fast once
 * running", and the worse one for "how long will my epoch take".
 */
export function steadyStateMedian(segments: readonly Segment[]): number {
  const r = segmentRates(segments);
  return r.length ? median(r) : Number.NaN;
}

/** Milliseconds the warm-up costs: the epoch's time minus the time the same samples take at steady state. */
export function warmupCostMs(segments: readonly Segment[]): number {
  const steady = steadyStateMedian(segments);
  let samples = 0;
  let ms = 0;
  for (const s of segments) {
    samples += s.samples;
    ms += s.ms;
  }
  return Number.isFinite(steady) ? ms - (samples / steady) * 1000 : Number.NaN;
}

/**
 * Splits `steps` into about `count` contiguous segments of equal size (the last may be shorter):
 * the step index at which each segment ends.
 */
export function segmentEnds(steps: number, count: number): number[] {
  const per = Math.max(1, Math.ceil(steps / count));
  const ends: number[] = [];
  for (let e = per; e < steps; e += per) ends.push(e);
  if (steps > 0) ends.push(steps);
  return ends;
}

/** How many times better `mine` is than `other` (> 1: mine is better). */
export function ratio(mine: number, other: number, lowerIsBetter = false): number {
  return lowerIsBetter ? other / mine : mine / other;
}
