import type { Backend, DataId, OpAttrs, OpName, TensorInfo } from "../backend";
import type { DType, TypedArray } from "../dtype";
import type { IndexCheck } from "../index-errors";
import type { Shape } from "../shape";
import type { Tensor } from "../tensor";
import type { FusedStep } from "./fuse";

/**
 * The recorder behind `compile`. While a trace is open, the engine and the tensor class report
 * every kernel launch, upload, index check, assign, gradient store and dispose here; everything
 * else in the package runs as in eager mode. With no trace open each hook is one null check.
 *
 * A buffer is a *slot*. A slot is made by a launch or an upload inside the step, is an argument
 * of the step, or is *external*: a buffer that existed before the step and is reached through a
 * tensor that existed before it (a parameter, optimizer state, a captured constant) or through a
 * gradient the step replaces (`p.grad` at the start of the step).
 */

export type SlotDef =
  | { kind: "arg"; index: number }
  | { kind: "external"; owner: Tensor }
  | { kind: "gradAtStart"; of: Tensor }
  | { kind: "launch"; step: number }
  | { kind: "upload"; step: number };

export interface Slot {
  readonly id: number;
  def: SlotDef;
  readonly size: number;
  readonly dtype: DType;
  readonly backend: Backend;
  /** Index of the last step that reads it (-1: none). */
  lastUse: number;
  /** The trace's buffer (for matching tensors at the end of the trace). */
  readonly dataId: DataId;
}

/** The TensorInfo a kernel sees: shape fixed by the trace, buffer rebound on every replay. */
export interface SlotView extends TensorInfo {
  dataId: DataId;
  readonly slot: number;
}

export type LaunchKernel = (b: Backend, i: readonly TensorInfo[], o: readonly TensorInfo[], a: never) => void;

export type Step =
  | {
      kind: "launch";
      op: OpName;
      backend: Backend;
      kernel: LaunchKernel;
      ins: SlotView[];
      outs: SlotView[];
      attrs: OpAttrs[OpName];
    }
  | {
      kind: "upload";
      slot: number;
      backend: Backend;
      values: TypedArray;
      /** Random values are drawn again on every replay (the generator advances as in eager mode). */
      redraw: (() => TypedArray) | null;
    }
  | { kind: "check"; view: SlotView; check: IndexCheck }
  | { kind: "effect"; run: () => void }
  /** A chain of elementwise launches merged into one kernel (see fuse.ts). */
  | FusedStep
  /** A step the program made unnecessary (a constant upload it wrote once, a fused launch). */
  | { kind: "noop" };

export interface Guard {
  readonly obj: object;
  readonly key: string;
  readonly value: unknown;
}

export class Trace {
  readonly slots: Slot[] = [];
  readonly steps: Step[] = [];
  readonly slotOf = new Map<DataId, number>();
  readonly guards: Guard[] = [];
  /** Tensors that existed before the step and were assigned in it, with their buffer at the start. */
  readonly assigned = new Map<Tensor, DataId>();
  /** Tensors whose `.grad` the step set, with the gradient they had at the start. */
  readonly gradSet = new Map<Tensor, Tensor | null>();
  /** Tensors that existed before the step and were disposed in it. */
  readonly disposed = new Set<Tensor>();
  /** Why the step cannot be replayed, if something said so (a value read, ...). */
  refusal: string | null = null;

  /** Tensor ids below this existed before the step. */
  constructor(readonly firstId: number) {}

  isOld(t: Tensor): boolean {
    return t.id < this.firstId;
  }

  newSlot(def: SlotDef, size: number, dtype: DType, backend: Backend, dataId: DataId): number {
    const id = this.slots.length;
    this.slots.push({ id, def, size, dtype, backend, lastUse: -1, dataId });
    this.slotOf.set(dataId, id);
    return id;
  }

  /** The slot of a tensor the step reads, registering an external one on first sight. */
  slotFor(t: Tensor): number {
    const known = this.slotOf.get(t.dataId);
    if (known !== undefined) return known;
    // A view made before the step is its own owner (its base may be gone); a view made in the step
    // reaches the buffer through the tensor it was cut from.
    const owner = this.isOld(t) ? t : (t._base ?? t);
    if (!this.isOld(owner)) {
      throw new Error(
        `compile: internal: tensor #${t.id} of shape [${t.shape.join(", ")}] reads a buffer the trace does not know`,
      );
    }
    // A gradient the step replaces becomes a `gradAtStart` slot when the program is built.
    return this.newSlot({ kind: "external", owner }, owner.size, owner.dtype, owner.backend, t.dataId);
  }

  view(t: TensorInfo & { backend?: Backend }, slot: number): SlotView {
    return { dataId: t.dataId, shape: t.shape, dtype: t.dtype, size: t.size, slot };
  }

  use(slot: number): void {
    this.slots[slot].lastUse = this.steps.length;
  }
}

let ACTIVE: Trace | null = null;

/** The open trace, if any (the hooks' fast path is `if (tracing())`). */
export function tracing(): Trace | null {
  return ACTIVE;
}

/** Whether a compiled step is being traced now: code that declares guards can skip the work otherwise. */
export function isTracing(): boolean {
  return ACTIVE !== null;
}

export function openTrace(firstId: number): Trace {
  if (ACTIVE) {
    throw new Error(
      "compile: a compiled step called another compiled step while tracing; compile the outer step only",
    );
  }
  ACTIVE = new Trace(firstId);
  return ACTIVE;
}

export function closeTrace(): void {
  ACTIVE = null;
}

// ---- hooks called by the engine and the tensor class ----------------------------------------------

export function traceLaunch(
  op: OpName,
  backend: Backend,
  kernel: LaunchKernel,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  attrs: OpAttrs[OpName],
): void {
  const tr = ACTIVE;
  if (!tr) return;
  const ins = inputs.map((t) => {
    const s = tr.slotFor(t);
    tr.use(s);
    return tr.view(t, s);
  });
  const index = tr.steps.length;
  const outs = outputs.map((t) =>
    tr.view(t, tr.newSlot({ kind: "launch", step: index }, t.size, t.dtype, backend, t.dataId)),
  );
  tr.steps.push({ kind: "launch", op, backend, kernel, ins, outs, attrs });
}

export function traceUpload(t: Tensor, values: TypedArray): void {
  const tr = ACTIVE;
  if (!tr) return;
  const step = tr.steps.length;
  const slot = tr.newSlot({ kind: "upload", step }, t.size, t.dtype, t.backend, t.dataId);
  tr.steps.push({ kind: "upload", slot, backend: t.backend, values: values.slice(), redraw: null });
}

/** Marks the upload that made `t` as random: a replay draws its values again with `redraw`. */
export function traceRedraw(t: Tensor, redraw: () => TypedArray): void {
  const tr = ACTIVE;
  if (!tr) return;
  const slot = tr.slotOf.get(t.dataId);
  const step = slot === undefined ? undefined : tr.slots[slot].def;
  if (step?.kind !== "upload") return;
  const s = tr.steps[step.step];
  if (s.kind === "upload") s.redraw = redraw;
}

export function traceCheck(indices: Tensor, check: IndexCheck): void {
  const tr = ACTIVE;
  if (!tr) return;
  const s = tr.slotFor(indices);
  tr.use(s);
  tr.steps.push({ kind: "check", view: tr.view(indices, s), check });
}

/** A buffer freed inside the step: a later buffer object that compares equal is a new slot. */
export function traceFree(id: DataId): void {
  ACTIVE?.slotOf.delete(id);
}

/** Before `t.assign(value)`: registers the value's buffer (it may come from before the step). */
export function traceAssign(t: Tensor, value: Tensor): void {
  const tr = ACTIVE;
  if (!tr) return;
  tr.slotFor(value);
  if (tr.isOld(t) && !tr.assigned.has(t)) tr.assigned.set(t, t.dataId);
}

export function traceGradSet(t: Tensor, old: Tensor | null): void {
  const tr = ACTIVE;
  if (!tr?.isOld(t) || tr.gradSet.has(t)) return;
  tr.gradSet.set(t, old);
}

export function traceDispose(t: Tensor): void {
  const tr = ACTIVE;
  if (tr?.isOld(t)) tr.disposed.add(t);
}

/**
 * Reading values inside a traced step: the step's JavaScript could depend on them, and a replay
 * runs none. The traced call itself goes on (it runs eagerly); the step is then refused.
 */
export function traceRead(t: Tensor, how: string): void {
  if (!ACTIVE) return;
  ACTIVE.refusal ??=
    `compile: the step reads the values of tensor ${t.name ?? `#${t.id}`} of shape [${t.shape.join(", ")}] ` +
    `(${how}); a replay runs no JavaScript, so it could not read them again. ` +
    "Return the tensor from the step and read it afterwards";
}

/**
 * Declares that the step's ops depend on `obj[key]` (a module's `training` flag, an optimizer's
 * learning rate): a replay first checks it still holds the value it had when traced, and traces
 * again if not. Code outside the core calls this where it branches on, or bakes in, such a value.
 */
export function traceGuard(obj: object, key: string): void {
  const tr = ACTIVE;
  if (!tr) return;
  tr.guards.push({ obj, key, value: (obj as Record<string, unknown>)[key] });
}

/**
 * Work on plain JavaScript state that a step does besides its tensor ops (an optimizer's step
 * count): `run` is called on every replay, at the same point of the step. The traced call itself
 * has already done it.
 */
export function traceEffect(run: () => void): void {
  ACTIVE?.steps.push({ kind: "effect", run });
}

export type { Shape };
