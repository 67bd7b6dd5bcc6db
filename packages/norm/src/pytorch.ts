/** Our camelCase buffer names and PyTorch's snake_case ones; parameters (weight, bias) match already. */
const TO_TORCH: Record<string, string> = {
  runningMean: "running_mean",
  runningVar: "running_var",
  numBatchesTracked: "num_batches_tracked",
};
const FROM_TORCH: Record<string, string> = Object.fromEntries(
  Object.entries(TO_TORCH).map(([a, b]) => [b, a]),
);

function renameLast(key: string, table: Record<string, string>): string {
  const i = key.lastIndexOf(".");
  const last = key.slice(i + 1);
  return last in table ? key.slice(0, i + 1) + table[last] : key;
}

/**
 * Renames a state dict's normalization buffers to PyTorch's keys (`bn.runningMean` ->
 * `bn.running_mean`) for safetensors exchange; other keys pass unchanged. Values are untouched:
 * numBatchesTracked is int32 here and int64 in PyTorch, which the writer has to widen.
 */
export function toPyTorchStateDictKeys<T>(state: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [renameLast(k, TO_TORCH), v]));
}

/** The inverse of `toPyTorchStateDictKeys`: PyTorch keys to this package's, for `loadStateDict`. */
export function fromPyTorchStateDictKeys<T>(state: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [renameLast(k, FROM_TORCH), v]));
}

/** Alias of `fromPyTorchStateDictKeys`. */
export const fromPyTorch = fromPyTorchStateDictKeys;
