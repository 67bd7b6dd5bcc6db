import { isGradEnabled, type Tensor, tidy } from "@minibatch/tensor";

/**
 * Runs a function built from several ops so that, unless autograd records it, its intermediate
 * tensors are disposed when it returns: `f(x).dispose()` then gives back everything f made, inside
 * tidy() or not. When autograd records it the graph needs them until the enclosing tidy() ends.
 */
export function noLeak<T>(inputs: readonly unknown[], body: () => T): T {
  const recording = isGradEnabled() && inputs.some((x) => (x as Tensor | null)?.requiresGrad === true);
  return recording ? body() : tidy(body);
}
