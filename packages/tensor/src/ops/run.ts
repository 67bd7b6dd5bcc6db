import { record } from "../autograd";
import type { OpAttrs, OpName } from "../backend";
import type { DType } from "../dtype";
import { ENGINE } from "../engine";
import { gradFn } from "../gradients";
import { tidy } from "../scope";
import type { Shape } from "../shape";
import type { Tensor } from "../tensor";

/** Runs a kernel and records its gradient from the op's gradient rule (`gradFn`). */
export function runOp<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  outputs: readonly { shape: Shape; dtype: DType }[],
  attrs: OpAttrs[K],
): Tensor[] {
  const outs = ENGINE.run(op, inputs, outputs, attrs);
  const grad = gradFn(op) as
    | ((
        dys: readonly (Tensor | null)[],
        inputs: readonly Tensor[],
        outputs: readonly Tensor[],
        attrs: OpAttrs[K],
      ) => (Tensor | null)[])
    | null;
  if (grad) record(op, inputs, outs, (dys) => grad(dys, inputs, outs, attrs));
  return outs;
}

export function run1<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  shape: Shape,
  dtype: DType,
  attrs: OpAttrs[K],
): Tensor {
  return runOp(op, inputs, [{ shape, dtype }], attrs)[0];
}

/**
 * Runs the body of an op that makes intermediate tensors (casts, number operands, views, partial
 * results). Unless autograd records this call, they are disposed when the op returns and only the
 * result survives, so `op(x).dispose()` gives back everything the op made, inside tidy() or not.
 * When autograd records it, the graph refers to the intermediates until the enclosing tidy() ends,
 * the scope a training step belongs in (as in TF.js).
 */
export function composite<T>(inputs: unknown, body: () => T): T {
  if (ENGINE.gradEnabled && needsGrad(inputs)) return body();
  return tidy(body);
}

function needsGrad(x: unknown): boolean {
  if (Array.isArray(x)) return x.some(needsGrad);
  return typeof x === "object" && x !== null && (x as Tensor).requiresGrad === true;
}
