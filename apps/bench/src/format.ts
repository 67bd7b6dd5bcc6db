// Pure formatting of the results table (kept apart from main.ts so that it can be unit-tested).
import { type CaseResult, median } from "./common";

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
  const a = median(mine);
  const b = median(other);
  return lowerIsBetter ? b / a : a / b;
}
