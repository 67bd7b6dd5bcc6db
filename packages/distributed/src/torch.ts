import { loadSafetensors, type Module, saveSafetensors } from "@minibatch/nn";
import { fromPyTorchStateDictKeys, toPyTorchStateDictKeys } from "@minibatch/norm";
import type { Tensor } from "@minibatch/tensor";

/**
 * The model's parameters and buffers as a safetensors file that PyTorch loads into the same
 * architecture with `model.load_state_dict(safetensors.torch.load_file(path))`: keys follow
 * PyTorch's names (`running_mean`, `running_var`, `num_batches_tracked`); num_batches_tracked
 * is stored as int32 (PyTorch's is int64: cast it with `.long()` before loading, or load with
 * strict=False and copy). This is the route to multi-machine training with PyTorch DDP.
 */
export async function toTorchSafetensors(
  model: Module,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  return saveSafetensors(toPyTorchStateDictKeys(model.stateDict()), metadata);
}

/**
 * Loads a safetensors file written by PyTorch (`safetensors.torch.save_file(model.state_dict())`,
 * from a DDP-trained model: a leading `module.` is stripped) into `model`, in place. Extra
 * tensors in the file (e.g. outputs saved next to the weights) are an error unless `strict` is
 * false. Returns the keys of the file that the model does not have.
 */
export function fromTorchSafetensors(
  model: Module,
  bytes: Uint8Array,
  opts: { strict?: boolean } = {},
): { unexpected: string[] } {
  const { tensors } = loadSafetensors(bytes);
  const renamed: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) renamed[k.startsWith("module.") ? k.slice(7) : k] = t;
  const state = fromPyTorchStateDictKeys(renamed);
  const own = model.stateDict();
  const unexpected = Object.keys(state).filter((k) => !(k in own));
  try {
    if (opts.strict ?? true) model.loadStateDict(state);
    else model.loadStateDict(Object.fromEntries(Object.entries(state).filter(([k]) => k in own)));
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return { unexpected };
}
