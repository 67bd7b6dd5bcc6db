import { checkOptionKeys } from "@minibatch/tensor";
import { type MapStyleDataset, Subset } from "./datasets";
import { checkSeed, drawSeed, epochGenerator } from "./seeds";

/**
 * Splits a dataset into non-overlapping random subsets. `fractionsOrLengths` are either lengths
 * summing to the dataset length or fractions summing to 1 (the remainder of flooring goes one by
 * one to the first parts, as PyTorch does).
 */
export function randomSplit<T>(
  dataset: MapStyleDataset<T>,
  fractionsOrLengths: readonly number[],
  opts: { seed?: number } = {},
): Subset<T>[] {
  checkOptionKeys("randomSplit", opts, ["seed"]);
  checkSeed(opts.seed, "randomSplit");
  const n = dataset.length;
  const parts = fractionsOrLengths;
  if (parts.length === 0) throw new Error("randomSplit: expected at least one length or fraction");
  const sum = parts.reduce((a, b) => a + b, 0);
  let lengths: number[];
  if (parts.every((p) => Number.isInteger(p) && p >= 0) && sum === n) {
    lengths = [...parts];
  } else if (parts.every((p) => p >= 0 && p <= 1) && Math.abs(sum - 1) < 1e-9) {
    lengths = parts.map((f) => Math.floor(f * n));
    let rest = n - lengths.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % lengths.length, rest--) lengths[i]++;
  } else {
    throw new Error(
      `randomSplit: expected lengths summing to the dataset length ${n} or fractions summing to 1, got [${parts.join(", ")}] (sum ${sum})`,
    );
  }
  const perm = epochGenerator(opts.seed ?? drawSeed(), 0).permutation(n);
  const out: Subset<T>[] = [];
  let start = 0;
  for (const len of lengths) {
    out.push(new Subset(dataset, perm.subarray(start, start + len)));
    start += len;
  }
  return out;
}
