import { record } from "../autograd";
import type { OpAttrs, OpName } from "../backend";
import type { DType } from "../dtype";
import { ENGINE } from "../engine";
import { GRADS } from "../gradients";
import type { Shape } from "../shape";
import type { Tensor } from "../tensor";

/** Runs a kernel and records its gradient from the GRADS table. */
export function runOp<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  outputs: readonly { shape: Shape; dtype: DType }[],
  attrs: OpAttrs[K],
): Tensor[] {
  const outs = ENGINE.run(op, inputs, outputs, attrs);
  const grad = GRADS[op] as
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
