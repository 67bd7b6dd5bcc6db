import { attach, noGrad, recordsGrad } from "../autograd";
import { FUSED_OPS, type FusedOp, type OpAttrs, type OpName } from "../backend";
import { FUSED_DEFAULTS } from "../defaults";
import type { DType } from "../dtype";
import { ENGINE } from "../engine";
import { gradFn } from "../gradients";
import { tidy } from "../scope";
import type { Shape } from "../shape";
import { sameShape } from "../shape";
import type { Tensor } from "../tensor";

/** Runs a kernel and records its gradient from the op's gradient rule (`gradFn`). */
export function runOp<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  outputs: readonly { shape: Shape; dtype: DType }[],
  attrs: OpAttrs[K],
): Tensor[] {
  const backend = inputs[0]?.backend ?? ENGINE.backend();
  const outs =
    backend.kernels[op] || !FUSED.has(op)
      ? ENGINE.run(op, inputs, outputs, attrs)
      : runDefault(op as FusedOp, inputs, outputs, attrs as OpAttrs[FusedOp]);
  const grad = gradFn(op) as
    | ((
        dys: readonly (Tensor | null)[],
        inputs: readonly Tensor[],
        outputs: readonly Tensor[],
        attrs: OpAttrs[K],
      ) => (Tensor | null)[])
    | null;
  // The closure is made only when autograd records this call (most calls in a step do not).
  if (grad && recordsGrad(inputs)) attach(op, inputs, outs, (dys) => grad(dys, inputs, outs, attrs));
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

const COMPOSITES = new Set<string>();

/**
 * Declares an op built from other ops: its body runs through `composite` (intermediates disposed
 * when autograd does not record the call), and its name is enrolled in `compositeNames()`, which
 * the packages' leak tests check against their cases, so a composite without a leak case fails.
 * Name it `package.op` (`nn.mseLoss`).
 */
export function defineComposite<A extends unknown[], R>(
  name: string,
  body: (...args: A) => R,
): (...args: A) => R {
  if (COMPOSITES.has(name)) throw new Error(`defineComposite: '${name}' is already defined`);
  COMPOSITES.add(name);
  return (...args: A) => composite(args, () => body(...args));
}

/** The names given to defineComposite so far (for leak tests). */
export function compositeNames(): string[] {
  return [...COMPOSITES];
}

function needsGrad(x: unknown): boolean {
  if (Array.isArray(x)) return x.some(needsGrad);
  return typeof x === "object" && x !== null && (x as Tensor).requiresGrad === true;
}

const FUSED: ReadonlySet<OpName> = new Set(FUSED_OPS);

/**
 * A fused kernel the backend does not provide: its default, composed from primitives, runs
 * without recording (the op's own gradient rule is recorded by runOp) and inside a scope, so only
 * the outputs survive.
 */
function runDefault<K extends FusedOp>(
  op: K,
  inputs: readonly Tensor[],
  outputs: readonly { shape: Shape; dtype: DType }[],
  attrs: OpAttrs[K],
): Tensor[] {
  for (const t of inputs) t.assertAlive(op);
  const run = FUSED_DEFAULTS[op] as (i: readonly Tensor[], a: OpAttrs[K], o: typeof outputs) => Tensor[];
  const outs = noGrad(() => tidy(() => run(inputs, attrs, outputs)));
  outs.forEach((t, i) => {
    if (!sameShape(t.shape, outputs[i].shape) || t.dtype !== outputs[i].dtype) {
      throw new Error(
        `internal: the default of ${op} made output ${i} of shape [${t.shape.join(", ")}] (${t.dtype}), expected [${outputs[i].shape.join(", ")}] (${outputs[i].dtype})`,
      );
    }
  });
  return outs;
}
