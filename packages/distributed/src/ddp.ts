import type { Module } from "@minibatch/nn";
import { fromArray, keep, noGrad, type Tensor } from "@minibatch/tensor";
import type { Collective } from "./collective";

function readSync(t: Tensor, who: string): Float32Array | Int32Array | Uint8Array {
  try {
    return t.dataSync();
  } catch (e) {
    throw new Error(
      `${who}: needs a backend with synchronous reads (the CPU backend): ${(e as Error).message}`,
    );
  }
}

/**
 * Averages the gradients of `model`'s parameters over the ranks of `group` (what PyTorch's
 * DistributedDataParallel does during backward), in one all-reduce of a flat buffer. A parameter
 * without a gradient counts as zeros, so every rank sends the same layout. When each rank's loss
 * is the mean over an equal share of the global batch, the result is the gradient of the mean
 * loss over the whole batch.
 */
export function allReduceGradients(model: Module, group: Collective, flat?: Float32Array): Float32Array {
  const params = model.parameters();
  if (group.worldSize === 1) return flat ?? new Float32Array(0);
  const total = params.reduce((s, p) => s + p.size, 0);
  const buf = flat && flat.length === total ? flat : new Float32Array(total);
  let off = 0;
  for (const p of params) {
    if (p.grad) buf.set(readSync(p.grad, "allReduceGradients") as Float32Array, off);
    else buf.fill(0, off, off + p.size);
    off += p.size;
  }
  group.allReduce(buf, "mean");
  off = 0;
  noGrad(() => {
    for (const p of params) {
      const g = fromArray(buf.slice(off, off + p.size), p.shape, "float32");
      off += p.size;
      if (p.grad) {
        p.grad.assign(g);
        g.dispose();
      } else {
        p.grad = keep(g);
      }
    }
  });
  return buf;
}

/**
 * Copies every parameter and persistent buffer of `root`'s model to the other ranks (PyTorch DDP
 * does this when it wraps a model), so replicas start identical whatever their initialization.
 */
export function broadcastModule(model: Module, group: Collective, root = 0): void {
  if (group.worldSize === 1) return;
  const state = Object.entries(model.stateDict()).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const total = state.reduce((s, [, t]) => s + t.size, 0);
  const buf = new Float64Array(total);
  let off = 0;
  for (const [, t] of state) {
    buf.set(readSync(t, "broadcastModule"), off);
    off += t.size;
  }
  group.broadcast(buf, root);
  off = 0;
  noGrad(() => {
    for (const [, t] of state) {
      const part = buf.subarray(off, off + t.size);
      off += t.size;
      const values = t.dtype === "float32" ? Float32Array.from(part) : Int32Array.from(part);
      const v = fromArray(t.dtype === "bool" ? Uint8Array.from(part) : values, t.shape, t.dtype);
      t.assign(v);
      v.dispose();
    }
  });
}
