import { readFileSync } from "node:fs";

/** Reads a JSON fixture written by scripts/fixtures.py (PyTorch reference values). */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}

/** Tracks the worst absolute difference seen, to report against PyTorch. */
export class WorstError {
  max = 0;
  count = 0;
  add(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
    this.count++;
    for (let i = 0; i < expected.length; i++) {
      this.max = Math.max(this.max, Math.abs(actual[i] - expected[i]));
    }
  }
}
