import { ENGINE } from "./engine";
import { add, onesLike, view } from "./ops";
import { checkOptionKeys } from "./options";
import { fmt, sameShape } from "./shape";
import type { Tensor } from "./tensor";

/** One recorded op: which tensors went in, which came out, and how to send gradients back. */
export interface Node {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  /** Given the gradients of the outputs (null where none flowed), the gradients of the inputs. */
  readonly backward: (dys: readonly (Tensor | null)[]) => readonly (Tensor | null)[];
  /** @internal versions of inputs then outputs when recorded (see `Tensor._version`). */
  readonly versions?: readonly number[];
  /** @internal set once a backward pass without `retainGraph` has gone through this node. */
  freed?: boolean;
}

export interface BackwardOptions {
  /** Keep the graph so that backward can run through it again (PyTorch `retain_graph`). */
  retainGraph?: boolean;
}

/** Whether autograd records an op on `inputs`: grad mode is on and one of them requires a gradient. */
export function recordsGrad(inputs: readonly Tensor[]): boolean {
  if (!ENGINE.gradEnabled) return false;
  for (let i = 0; i < inputs.length; i++) if (inputs[i].requiresGrad) return true;
  return false;
}

/** Attaches a node to `outputs` when grad mode is on and an input requires a gradient. */
export function record(
  op: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  backward: Node["backward"],
): void {
  if (recordsGrad(inputs)) attach(op, inputs, outputs, backward);
}

/** `record` for a caller that has checked `recordsGrad` (runOp, to make its closure only then). */
export function attach(
  op: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  backward: Node["backward"],
): void {
  // Which values the backward function saved is hidden in its closure, so every input and output
  // counts as saved: changing any of them in place before backward is an error (a superset of
  // PyTorch's check, which looks only at what each op saves).
  const versions = new Array<number>(inputs.length + outputs.length);
  for (let i = 0; i < inputs.length; i++) versions[i] = inputs[i]._version;
  for (let i = 0; i < outputs.length; i++) versions[inputs.length + i] = outputs[i]._version;
  const node: Node = { op, inputs, outputs, backward, versions };
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i];
    if (o.dtype !== "float32") continue;
    o.requiresGrad = true;
    o._node = node;
  }
}

export function isGradEnabled(): boolean {
  return ENGINE.gradEnabled;
}

/**
 * Runs `fn` without recording the autograd graph (PyTorch `torch.no_grad()`). `fn` must be
 * synchronous: the grad mode is one process-wide flag, and JavaScript cannot scope it to one
 * async function across its awaits (keeping it off until the promise settles would switch
 * gradients off for every other piece of code that runs meanwhile). An async `fn` is an error;
 * wrap the synchronous tensor work inside it instead. Ops are synchronous, so that is always possible.
 */
export function noGrad<T>(fn: () => T): T {
  const prev = ENGINE.gradEnabled;
  ENGINE.gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } finally {
    ENGINE.gradEnabled = prev;
  }
  if (result !== null && typeof (result as { then?: unknown })?.then === "function") {
    // Keep its rejection from surfacing as an unhandled one: the error below reports the misuse.
    (result as unknown as Promise<unknown>).then(undefined, () => {});
    throw new Error(
      "noGrad: fn returned a Promise; noGrad only works with synchronous functions, since grad mode " +
        "cannot follow an async function across await (code that runs while it waits would lose " +
        "its gradients too). Call noGrad(() => ...) around the tensor ops inside the async function.",
    );
  }
  return result;
}

/**
 * Reverse-mode differentiation from `root`, visiting nodes in reverse topological order and
 * accumulating into the `.grad` of every leaf that requires a gradient. Intermediate gradients
 * are disposed as soon as they have been propagated.
 */
export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  root.assertAlive("backward");
  checkOptionKeys("backward", opts, ["retainGraph"]);
  if (!root.requiresGrad) {
    throw new Error(
      "backward: this tensor does not require a gradient (no input of the ops that made it had requiresGrad set)",
    );
  }
  if (!grad && root.size !== 1) {
    throw new Error(
      `backward: a gradient can only be created implicitly for a scalar output, got shape ${fmt(root.shape)}; pass the gradient of the output: t.backward(grad)`,
    );
  }
  if (grad && !sameShape(grad.shape, root.shape)) {
    throw new Error(
      `backward: gradient of shape ${fmt(grad.shape)} does not match output shape ${fmt(root.shape)}`,
    );
  }

  // Topological order of nodes by depth-first search (iterative, so deep graphs do not overflow).
  const order: Node[] = [];
  const seen = new Set<Node>();
  if (root._node) {
    const stack: [Node, number][] = [[root._node, 0]];
    seen.add(root._node);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i < node.inputs.length) {
        top[1]++;
        const child = node.inputs[i]._node;
        if (child && !seen.has(child)) {
          seen.add(child);
          stack.push([child, 0]);
        }
      } else {
        order.push(node);
        stack.pop();
      }
    }
  }

  // Check the whole graph before computing anything, so that a refused backward changes no .grad.
  for (const node of order) {
    if (node.freed) {
      throw new Error(
        `backward: trying to backward through the graph a second time (through ${node.op}); ` +
          "the first backward() released it. Pass { retainGraph: true } to the first backward() " +
          "if you need to run backward through the same graph again",
      );
    }
    // Saved versions index the inputs, then the outputs. (Index loops: this runs for every node of
    // every backward, and a copied array with a closure per node was most of backward's garbage.)
    const versions = node.versions;
    const nIn = node.inputs.length;
    for (let i = 0; versions && i < versions.length; i++) {
      const saved = versions[i];
      const t = i < nIn ? node.inputs[i] : node.outputs[i - nIn];
      if (saved !== undefined && t !== undefined && t._version !== saved) {
        const which = i < nIn ? `input ${i}` : `output ${i - nIn}`;
        throw new Error(
          `backward: a tensor needed for the gradient of ${node.op} (${which}, ${t.name ?? `#${t.id}`} of shape ` +
            `${fmt(t.shape)}) has been modified by an inplace operation (assign): it is at version ` +
            `${t._version}, expected version ${saved}. Compute the gradient before changing it, or ` +
            "assign a clone",
        );
      }
    }
  }

  const prev = ENGINE.gradEnabled;
  ENGINE.gradEnabled = false;
  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    if (!t.requiresGrad) {
      g.dispose();
      return;
    }
    if (!t._node) {
      // A leaf: its .grad outlives every scope.
      if (t.grad) {
        const sum = add(t.grad, g);
        t.grad.dispose();
        g.dispose();
        t.grad = sum;
      } else {
        t.grad = g;
      }
      ENGINE.untrack(t.grad);
      t.grad._kept = true;
      return;
    }
    const old = grads.get(t);
    if (old) {
      grads.set(t, add(old, g));
      old.dispose();
      g.dispose();
    } else {
      grads.set(t, g);
    }
  };
  try {
    // Views share the buffer (tensors are immutable), so handing gradients around copies nothing.
    accumulate(root, grad ? view(grad, grad.shape, false) : onesLike(root));
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k];
      const dys = node.outputs.map((o) => grads.get(o) ?? null);
      if (dys.every((d) => d === null)) continue;
      const dxs = runNodeBackward(node, dys);
      for (const o of node.outputs) grads.delete(o);
      node.inputs.forEach((input, i) => {
        const g = dxs[i];
        if (!g) return;
        if (!sameShape(g.shape, input.shape)) {
          throw new Error(
            `internal: gradient of ${node.op} input ${i} has shape ${fmt(g.shape)}, expected ${fmt(input.shape)}`,
          );
        }
        // A gradient function may hand back the incoming gradient itself: never alias it.
        accumulate(input, dys.includes(g) ? view(g, g.shape, false) : g);
      });
      for (const d of dys) d?.dispose();
    }
    if (!opts.retainGraph) for (const node of order) node.freed = true;
  } finally {
    ENGINE.gradEnabled = prev;
    for (const g of grads.values()) g.dispose();
  }
}

function runNodeBackward(node: Node, dys: readonly (Tensor | null)[]): readonly (Tensor | null)[] {
  try {
    return node.backward(dys);
  } catch (e) {
    // The usual cause: the forward ran in a tidy() that has ended, disposing what the gradient needs.
    if (e instanceof Error && /already disposed/.test(e.message)) {
      throw new Error(
        `backward: a tensor saved for the gradient of ${node.op} was already disposed (${e.message}); ` +
          "call backward() inside the tidy() that built the graph, or keep() what it needs",
      );
    }
    throw e;
  }
}

/**
 * Defines an op with its own backward, for fused kernels and numerically careful formulas
 * (PyTorch `autograd.Function`, TF.js `customGrad`). `forward` runs without recording; it returns
 * its outputs and a function from the outputs' gradients to the inputs' gradients.
 */
export function customOp<I extends Tensor[]>(
  name: string,
  forward: (...inputs: I) => {
    outputs: Tensor[];
    backward: (dys: readonly (Tensor | null)[]) => readonly (Tensor | null)[];
  },
): (...inputs: I) => Tensor[] {
  return (...inputs: I) => {
    const { outputs, backward: bw } = noGrad(() => forward(...inputs));
    record(name, inputs, outputs, bw);
    return outputs;
  };
}
