// Pure formatting of the results table (kept apart from main.ts so that it can be unit-tested).
import { type CaseResult, median } from "./common";
import { epochThroughput, ratio } from "./headline";

/** A number in about four significant digits; 100000 and up as "123k". */
export function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e5) return `${(v / 1000).toFixed(0)}k`;
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  return v.toFixed(3);
}

/** "median (min-max)" of a case's values, the single value, or n/a. */
export function cell(r: Pick<CaseResult, "values">): string {
  if (!r.values.length) return "n/a";
  if (r.values.length === 1) return fmt(r.values[0]);
  return `${fmt(median(r.values))} (${fmt(Math.min(...r.values))}-${fmt(Math.max(...r.values))})`;
}

/** How many times better minibatch's median is than the other's (> 1: minibatch is better). */
export function speedRatio(mine: number[], other: number[], lowerIsBetter: boolean): number {
  return ratio(median(mine), median(other), lowerIsBetter);
}

/** Metrics where a smaller number is better (startup time, bundle size). */
export function lowerIsBetter(metric: string): boolean {
  return metric === "ms" || metric === "KiB gz";
}

/** A training row that stopped at its time budget before the end of the epoch. */
export function isPartial(r: Pick<CaseResult, "extra">): boolean {
  const e = r.extra ?? {};
  return typeof e.steps === "number" && typeof e.of === "number" && e.steps < e.of;
}

/**
 * The number a row is compared by. Training rows (with segments): whole-epoch throughput, warm-up
 * included. Every other row: the median of its runs (a single run is its own median).
 */
export function headline(r: Pick<CaseResult, "values" | "segments">): number {
  if (r.segments?.length) return epochThroughput(r.segments);
  return r.values.length ? median(r.values) : Number.NaN;
}

/** The minibatch rows the ratios section compares, and what it compares them with. */
export const MINE = ["minibatch", "minibatch-modules", "minibatch-compiled", "minibatch-modules-compiled"];
export const VERSUS = ["tfjs-wasm", "numpy"];

export interface RatioRow {
  /** "W3 MNIST BN batch 60" */
  key: string;
  mine: string;
  /** Other implementation -> how many times better minibatch's headline is (> 1: minibatch is better). */
  vs: Record<string, number>;
  /**
   * The others for which either side stopped at its time budget: an epoch cut short weighs its
   * warm-up more than a full one, so those ratios are marked.
   */
  partial: string[];
}

/**
 * Ratios of headlines within one run's results: each minibatch row of a case against every other
 * implementation of the same case (TF.js backends and NumPy; not the reference rows whose name
 * has a space, such as "tfjs-wasm tf.batchNorm"). Never mixes runs: it only sees `results`.
 */
export function ratioRows(results: readonly CaseResult[]): RatioRow[] {
  const groups = new Map<string, CaseResult[]>();
  for (const r of results) {
    const key = `${r.workload} ${r.case}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows: RatioRow[] = [];
  for (const [key, rs] of groups) {
    for (const mine of rs) {
      if (!MINE.includes(mine.impl)) continue;
      const a = headline(mine);
      if (!Number.isFinite(a)) continue;
      const row: RatioRow = { key, mine: mine.impl, vs: {}, partial: [] };
      for (const other of rs) {
        if (!(other.impl.startsWith("tfjs") || other.impl === "numpy") || other.impl.includes(" ")) continue;
        const b = headline(other);
        if (!Number.isFinite(b)) continue;
        row.vs[other.impl] = ratio(a, b, lowerIsBetter(mine.metric));
        if (isPartial(mine) || isPartial(other)) row.partial.push(other.impl);
      }
      if (Object.keys(row.vs).length) rows.push(row);
    }
  }
  return rows;
}

/** "2.41x", with a "*" when either side's epoch was cut short by its time budget; "-" when absent. */
export function ratioCell(row: RatioRow, other: string): string {
  const v = row.vs[other];
  if (v === undefined) return "-";
  return `${v.toFixed(2)}x${row.partial.includes(other) ? "*" : ""}`;
}
