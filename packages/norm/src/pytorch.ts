import { fromPyTorchKey, toPyTorchKey } from "@minibatch/nn";

/**
 * Renames a state dict's normalization buffers to PyTorch's keys (`bn.runningMean` ->
 * `bn.running_mean`, the names nn's checkpoints write), for safetensors exchange; other keys
 * pass unchanged. Values are untouched:
 * numBatchesTracked is int32 here and int64 in PyTorch, which the writer has to widen.
 */
export function toPyTorchStateDictKeys<T>(state: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [toPyTorchKey(k), v]));
}

/** The inverse of `toPyTorchStateDictKeys`: PyTorch keys to this package's, for `loadStateDict`. */
export function fromPyTorchStateDictKeys<T>(state: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [fromPyTorchKey(k), v]));
}

/** Alias of `fromPyTorchStateDictKeys`. */
export const fromPyTorch = fromPyTorchStateDictKeys;
