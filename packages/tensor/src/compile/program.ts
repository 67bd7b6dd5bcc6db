import type { Backend, DataId } from "../backend";
import type { DType } from "../dtype";
import { ENGINE } from "../engine";
import { assertIndices } from "../index-errors";
import type { Shape } from "../shape";
import { Tensor } from "../tensor";
import { fuseElementwise } from "./fuse";
import type { Guard, Slot, SlotView, Step, Trace } from "./trace";

/** Where a replay finds an output, a new parameter value or a gradient. */
interface SlotTensor {
  slot: number;
  shape: Shape;
  dtype: DType;
  backend: Backend;
}

interface GradEffect {
  param: Tensor;
  /** The step disposed the gradient the parameter had when it started (zeroGrad). */
  disposeOld: boolean;
  value: SlotTensor | null;
}

/** How a step's return value is rebuilt from slots: the same nesting of arrays and objects. */
type OutputShape =
  | { kind: "tensor"; t: SlotTensor }
  | { kind: "array"; items: OutputShape[] }
  | { kind: "object"; entries: [string, OutputShape][] }
  | { kind: "value"; value: unknown };

/** A slot's storage on replay. */
type Binding =
  | { kind: "arg"; index: number }
  | { kind: "external"; owner: Tensor }
  | { kind: "gradAtStart"; of: Tensor }
  | { kind: "fresh" } // allocated on every replay and handed to a tensor at the end
  | { kind: "fixed"; dataId: DataId }; // owned by the program (temporaries, constants)

export class Refusal extends Error {}

/** One step of a profiled replay: the op, its input shapes and the host milliseconds it took. */
export interface ProfileRow {
  op: string;
  shapes: number[][];
  ms: number;
}

/**
 * What a trace does, checked: its effects on tensors outside it and its description, which two
 * traces of a static step share. `compile` compares two of these before building a `Program`.
 * Throws a `Refusal` when a replay could not repeat the step.
 */
export interface Analysis {
  steps: Step[];
  slots: Slot[];
  guards: Guard[];
  grads: GradEffect[];
  /** Tensors whose `.grad` the step sets, and whether each had one when it started. */
  gradStart: Map<Tensor, boolean>;
  rebinds: { owner: Tensor; slot: number }[];
  output: OutputShape;
  /** Slots whose buffers outlive the step (outputs, assigned state, gradients). */
  persistent: Set<number>;
  signature: string;
}

export function analyse(tr: Trace, result: unknown): Analysis {
  const { steps, slots } = tr;
  const guards = tr.guards;
  const rebinds: { owner: Tensor; slot: number }[] = [];
  if (tr.refusal) throw new Refusal(tr.refusal);

  // Gradients the step replaces, and pre-existing tensors it disposed.
  const grads: GradEffect[] = [];
  const gradStart = new Map([...tr.gradSet].map(([p, g0]) => [p, g0 !== null]));
  const startGrads = new Map<Tensor, Tensor>();
  for (const [p, g0] of tr.gradSet) if (g0) startGrads.set(g0, p);
  for (const t of tr.disposed) {
    if (!startGrads.has(t)) {
      throw new Refusal(
        `compile: the step disposed tensor ${t.name ?? `#${t.id}`} of shape [${t.shape.join(", ")}], which it did not create; a replay could not do that again. Dispose it outside the step`,
      );
    }
  }
  for (const s of slots) {
    if (s.def.kind === "external" && startGrads.has(s.def.owner)) {
      s.def = { kind: "gradAtStart", of: startGrads.get(s.def.owner) as Tensor };
    }
  }
  // Freezing or unfreezing a tensor the step reads changes what autograd records: trace again.
  for (const s of slots) {
    if (s.def.kind === "external")
      guards.push({ obj: s.def.owner, key: "requiresGrad", value: s.def.owner.requiresGrad });
  }
  for (const [p] of tr.gradSet) guards.push({ obj: p, key: "requiresGrad", value: p.requiresGrad });

  const slotOfAlive = (t: Tensor, what: string): SlotTensor => {
    const slot = tr.slotOf.get(t.dataId);
    if (slot === undefined)
      throw new Refusal(`compile: internal: ${what} has a buffer the trace does not know`);
    return { slot, shape: t.shape, dtype: t.dtype, backend: t.backend };
  };

  // What survives the step: outputs, assigned state, gradients.
  const persistent = new Set<number>();
  const keepSlot = (st: SlotTensor) => {
    const d = slots[st.slot].def;
    if (d.kind === "launch" || d.kind === "upload") persistent.add(st.slot);
    return st;
  };
  for (const [t, start] of tr.assigned) {
    if (t.isDisposed || t.dataId === start) continue;
    rebinds.push({ owner: t, slot: keepSlot(slotOfAlive(t, "an assigned tensor")).slot });
  }
  for (const [p, g0] of tr.gradSet) {
    const g = p.grad;
    if (g === g0 && !(g0 && tr.disposed.has(g0))) continue;
    grads.push({
      param: p,
      disposeOld: g0 !== null && tr.disposed.has(g0),
      value: g ? keepSlot(slotOfAlive(g, "a gradient")) : null,
    });
  }
  const build = (x: unknown, depth: number): OutputShape => {
    if (x instanceof Tensor) return { kind: "tensor", t: keepSlot(slotOfAlive(x, "an output")) };
    if (depth < 8 && Array.isArray(x)) return { kind: "array", items: x.map((v) => build(v, depth + 1)) };
    if (depth < 8 && x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
      return { kind: "object", entries: Object.entries(x).map(([k, v]) => [k, build(v, depth + 1)]) };
    }
    return { kind: "value", value: x };
  };
  const output = build(result, 0);

  // Anything else the step made and left alive would be lost (or leak) on replay.
  const stray: string[] = [];
  for (const [dataId, id] of tr.slotOf) {
    const s = slots[id];
    if ((s.def.kind === "launch" || s.def.kind === "upload") && !persistent.has(id) && s.dataId === dataId) {
      stray.push(`[${s.size} ${s.dtype}]`);
    }
  }
  if (stray.length) {
    throw new Refusal(
      `compile: the step left ${stray.length} tensor(s) alive that it does not return, assign or store as a gradient (sizes ${stray.slice(0, 5).join(", ")}${stray.length > 5 ? ", ..." : ""}); a replay would lose them. Return them, or keep() them outside the step`,
    );
  }

  return {
    steps,
    slots,
    guards,
    grads,
    gradStart,
    rebinds,
    output,
    persistent,
    signature: signature(steps, slots, output, rebinds, grads, guards),
  };
}

/**
 * A traced step, ready to replay: its launches with their buffers planned once. Temporaries share
 * buffers when their lifetimes do not overlap, so the program holds no more than eager mode's peak.
 * State (parameters, optimizer state, gradients, outputs) gets fresh buffers on each replay, which
 * the tensors that own them take over at the end, as `assign` does in eager mode.
 */
export class Program {
  private readonly bindings: Binding[];
  private readonly viewsOf: SlotView[][];
  private readonly fixed: DataId[] = [];
  private readonly fresh: number[] = [];
  /** The fresh slots each step makes (indexed by step). */
  private readonly freshAt: number[][] = [];
  private readonly rebinds: { owner: Tensor; slot: number }[];
  private readonly grads: GradEffect[];
  private readonly output: OutputShape;
  private readonly steps: Step[];
  readonly guards: Guard[];
  /** A description of the trace that two traces of a static step share (see `compile`). */
  readonly signature: string;
  readonly launches: number;
  /** Chains of elementwise launches merged into one kernel each. */
  readonly fused: number;
  /** Bytes of the buffers the program keeps between replays. */
  readonly heldBytes: number;

  constructor(a: Analysis) {
    const { slots, persistent } = a;
    this.steps = a.steps;
    this.guards = a.guards;
    this.grads = a.grads;
    this.rebinds = a.rebinds;
    this.output = a.output;
    this.signature = a.signature;

    // Bindings and buffer planning.
    this.slotMeta = slots.map((s) => ({ backend: s.backend, size: s.size, dtype: s.dtype }));
    this.viewsOf = slots.map(() => []);
    for (const st of this.steps) {
      if (st.kind === "launch" || st.kind === "fused") {
        for (const v of [...st.ins, ...st.outs]) this.viewsOf[v.slot].push(v);
      } else if (st.kind === "check") this.viewsOf[st.view.slot].push(st.view);
    }
    this.fused = fuseElementwise(
      this.steps,
      slots,
      (st) => st.kind === "upload" && !st.redraw && !persistent.has(st.slot),
      (slot, after) => persistent.has(slot) || slots[slot].lastUse > after,
    );
    this.bindings = slots.map((s) => this.bindingFor(s, persistent));
    this.plan(slots, persistent);
    for (const s of this.fresh) {
      const at = slotStep(slots[s]);
      (this.freshAt[at] ??= []).push(s);
    }
    this.heldBytes = this.fixedBytes;
    this.launches = this.steps.filter((s) => s.kind === "launch" || s.kind === "fused").length;
    const backends = new Set(slots.map((s) => s.backend));
    this.unit = backends.size === 1 ? [...backends][0] : null;
  }

  private fixedBytes = 0;
  /** The one backend all the step's buffers live on (null when it spans several). */
  private readonly unit: Backend | null;
  private readonly slotMeta: { backend: Backend; size: number; dtype: DType }[];

  private bindingFor(s: Slot, persistent: Set<number>): Binding {
    switch (s.def.kind) {
      case "arg":
        return { kind: "arg", index: s.def.index };
      case "external":
        return { kind: "external", owner: s.def.owner };
      case "gradAtStart":
        return { kind: "gradAtStart", of: s.def.of };
      default:
        if (persistent.has(s.id)) {
          this.fresh.push(s.id);
          return { kind: "fresh" };
        }
        return { kind: "fixed", dataId: s.dataId }; // replaced by plan()
    }
  }

  /**
   * Gives every temporary a buffer: greedy over the steps, a buffer returns to the pool after the
   * last step that reads it, and a step's outputs are placed before its inputs are released (a
   * kernel never writes over its own input). Constant uploads get buffers of their own, written once.
   */
  private plan(slots: Slot[], persistent: Set<number>): void {
    const pool = new Map<string, DataId[]>();
    const keyOf = (s: Slot) => `${s.backend.name}:${s.dtype}:${s.size}`;
    const endsAt = new Map<number, number[]>();
    const take = (s: Slot): DataId => {
      const free = pool.get(keyOf(s));
      const id = free?.pop() ?? this.allocFixed(s);
      const end = Math.max(s.lastUse, slotStep(s));
      const list = endsAt.get(end) ?? [];
      list.push(s.id);
      endsAt.set(end, list);
      return id;
    };
    this.steps.forEach((st, i) => {
      if (st.kind === "launch" || st.kind === "fused") {
        for (const v of st.outs) {
          if (!persistent.has(v.slot)) this.setFixed(v.slot, take(slots[v.slot]));
        }
      } else if (st.kind === "upload" && !persistent.has(st.slot)) {
        const s = slots[st.slot];
        if (st.redraw) this.setFixed(st.slot, take(s));
        else {
          // A constant: its own buffer, written now and never again.
          const id = this.allocFixed(s);
          s.backend.write(id, st.values);
          this.setFixed(st.slot, id);
        }
      }
      for (const done of endsAt.get(i) ?? []) {
        const s = slots[done];
        const b = this.bindings[done];
        if (b.kind !== "fixed") continue;
        const list = pool.get(keyOf(s)) ?? [];
        list.push(b.dataId);
        pool.set(keyOf(s), list);
      }
    });
    // Constant uploads now live in the program: the replay skips their steps.
    this.steps.forEach((st, i) => {
      if (st.kind === "upload" && !st.redraw && !persistent.has(st.slot)) this.steps[i] = NOOP;
    });
  }

  private allocFixed(s: Slot): DataId {
    const id = ENGINE.alloc(s.backend, [s.size], s.dtype);
    this.fixed.push(id);
    this.fixedBytes += ENGINE.buffers.get(id)?.bytes ?? 0;
    return id;
  }

  private setFixed(slot: number, dataId: DataId): void {
    this.bindings[slot] = { kind: "fixed", dataId };
    for (const v of this.viewsOf[slot]) v.dataId = dataId;
  }

  /** Whether the guards and the state the trace assumed still hold (else trace again). */
  valid(): string | null {
    for (const g of this.guards) {
      const now = (g.obj as Record<string, unknown>)[g.key];
      if (!Object.is(now, g.value)) return `${g.key} changed from ${String(g.value)} to ${String(now)}`;
    }
    for (const b of this.bindings) {
      if (b.kind === "gradAtStart" && !b.of.grad) return "a gradient the step accumulates into is gone";
      if (b.kind === "external" && b.owner.isDisposed) {
        return `tensor ${b.owner.name ?? `#${b.owner.id}`} of shape [${b.owner.shape.join(", ")}], which the step reads, was disposed`;
      }
    }
    for (const r of this.rebinds) if (r.owner.isDisposed) return "a tensor the step assigns was disposed";
    for (const g of this.grads) if (g.param.isDisposed) return "a parameter the step updates was disposed";
    return null;
  }

  /** The buffers made by the replay in progress, by slot. */
  private readonly made = new Map<number, DataId>();

  run(args: readonly Tensor[]): unknown {
    const { bindings, viewsOf } = this;
    for (let s = 0; s < bindings.length; s++) {
      const b = bindings[s];
      let id: DataId;
      switch (b.kind) {
        case "fixed":
          continue;
        case "arg":
          id = args[b.index].dataId;
          break;
        case "external":
          id = b.owner.dataId;
          break;
        case "gradAtStart":
          id = (b.of.grad as Tensor).dataId;
          break;
        case "fresh":
          continue;
      }
      for (const v of viewsOf[s]) v.dataId = id;
    }
    // One map for every replay (a replay does not nest in itself): the buffers made this call.
    const fresh = this.made;
    fresh.clear();
    try {
      if (this.unit?.runProgram) this.unit.runProgram(() => this.replaySteps(fresh));
      else this.replaySteps(fresh);
    } catch (e) {
      // Nothing outside the program has changed yet: state is only handed over below.
      for (const id of fresh.values()) ENGINE.decRef(id);
      fresh.clear();
      throw e;
    }
    const out = this.handOver(args, fresh);
    // The tensors own the buffers now: hold no reference to them until the next replay.
    fresh.clear();
    return out;
  }

  private replaySteps(fresh: Map<number, DataId>): void {
    const { bindings, timings, viewsOf, freshAt } = this;
    for (let i = 0; i < this.steps.length; i++) {
      const st = this.steps[i];
      const t0 = timings ? performance.now() : 0;
      // State gets its new buffer only when the step that makes it runs, as in eager mode.
      const made = freshAt[i];
      if (made) {
        for (const s of made) {
          const m = this.slotMeta[s];
          const id = ENGINE.alloc(m.backend, [m.size], m.dtype);
          fresh.set(s, id);
          for (const v of viewsOf[s]) v.dataId = id;
        }
      }
      switch (st.kind) {
        case "launch":
          st.kernel(st.backend, st.ins, st.outs, st.attrs as never);
          break;
        case "fused":
          st.run(st.ins, st.outs);
          break;
        case "upload": {
          const id = fresh.get(st.slot) ?? (bindings[st.slot] as { dataId: DataId }).dataId;
          st.backend.write(id, st.redraw ? st.redraw() : st.values);
          break;
        }
        case "check": {
          const b = this.slotMeta[st.view.slot].backend;
          if (b.checkIndices) b.checkIndices(st.view, st.check);
          else if (b.readSync)
            assertIndices(b.readSync(st.view.dataId, st.view.size, "int32"), st.view.shape, st.check);
          break;
        }
        case "effect":
          st.run();
          break;
        case "noop":
          break;
      }
      if (timings) timings[i] += performance.now() - t0;
    }
  }

  /** Per-step host times of the replays run while set (see `profile`). */
  private timings: Float64Array | null = null;

  /**
   * Replays once with a timer around each step and returns the launches, slowest op first. On a
   * GPU backend the times are those of encoding, not of the device.
   */
  profile(args: readonly Tensor[]): { result: unknown; rows: ProfileRow[] } {
    this.timings = new Float64Array(this.steps.length);
    const result = this.run(args);
    const rows: ProfileRow[] = [];
    this.steps.forEach((st, i) => {
      const ms = (this.timings as Float64Array)[i];
      if (st.kind === "launch" || st.kind === "fused") {
        rows.push({
          op: st.kind === "fused" ? st.label : st.op,
          shapes: st.ins.map((v) => [...v.shape]),
          ms,
        });
      } else if (st.kind !== "noop") rows.push({ op: `(${st.kind})`, shapes: [], ms });
    });
    this.timings = null;
    return { result, rows };
  }

  /** Gives the step's results to their tensors: outputs, assigned state, gradients. */
  private handOver(args: readonly Tensor[], fresh: Map<number, DataId>): unknown {
    const { bindings } = this;
    const bufferOf = (slot: number): DataId => {
      const f = fresh.get(slot);
      if (f) return f;
      const b = bindings[slot];
      switch (b.kind) {
        case "fixed":
          return b.dataId;
        case "arg":
          return args[b.index].dataId;
        case "external":
          return b.owner.dataId;
        case "gradAtStart":
          return (b.of.grad as Tensor).dataId;
        case "fresh":
          throw new Error("compile: internal: a fresh slot without a buffer");
      }
    };
    const tensorOn = (st: SlotTensor): Tensor => {
      const id = bufferOf(st.slot);
      ENGINE.incRef(id);
      return new Tensor(id, st.shape, st.dtype, st.backend);
    };
    const out = this.rebuild(this.output, tensorOn);
    for (const r of this.rebinds) r.owner._setData(bufferOf(r.slot));
    for (const g of this.grads) {
      if (g.disposeOld) g.param.grad?.dispose();
      if (!g.value) {
        g.param.grad = null;
        continue;
      }
      const t = tensorOn(g.value);
      ENGINE.untrack(t);
      t._kept = true;
      g.param.grad = t;
    }
    for (const id of fresh.values()) ENGINE.decRef(id);
    return out;
  }

  private rebuild(o: OutputShape, tensorOn: (st: SlotTensor) => Tensor): unknown {
    switch (o.kind) {
      case "tensor":
        return tensorOn(o.t);
      case "array":
        return o.items.map((i) => this.rebuild(i, tensorOn));
      case "object":
        return Object.fromEntries(o.entries.map(([k, v]) => [k, this.rebuild(v, tensorOn)]));
      case "value":
        return o.value;
    }
  }

  /** Frees the buffers the program holds. */
  dispose(): void {
    for (const id of this.fixed) ENGINE.decRef(id);
    this.fixed.length = 0;
  }
}

const NOOP: Step = { kind: "noop" };

function slotStep(s: Slot): number {
  return s.def.kind === "launch" || s.def.kind === "upload" ? s.def.step : -1;
}

/** Two traces of a static step have the same launches, wiring, constants, effects and guards. */
function signature(
  steps: readonly Step[],
  slots: readonly Slot[],
  output: OutputShape,
  rebinds: readonly { owner: Tensor; slot: number }[],
  grads: readonly GradEffect[],
  guards: readonly Guard[],
): string {
  const ids = new Map<object, number>();
  const idOf = (o: object) => {
    let i = ids.get(o);
    if (i === undefined) ids.set(o, (i = ids.size));
    return i;
  };
  const slotSig = (s: number) => {
    const d = slots[s].def;
    const who = d.kind === "external" ? idOf(d.owner) : d.kind === "gradAtStart" ? idOf(d.of) : "";
    return `${s}:${d.kind}${who}`;
  };
  const parts: string[] = [];
  for (const st of steps) {
    switch (st.kind) {
      case "launch":
        parts.push(
          `L ${st.op} ${st.ins.map((v) => `${slotSig(v.slot)}[${v.shape}]`).join(",")} -> ${st.outs.map((v) => `${v.slot}[${v.shape}]`).join(",")} ${JSON.stringify(st.attrs)}`,
        );
        break;
      case "upload":
        parts.push(`U ${st.slot} ${st.redraw ? "random" : Array.from(st.values).join(",")}`);
        break;
      case "check":
        parts.push(`C ${slotSig(st.view.slot)} ${JSON.stringify(st.check)}`);
        break;
      case "effect":
        parts.push("E");
        break;
    }
  }
  parts.push(`O ${JSON.stringify(output, (k, v) => (k === "backend" ? v.name : v))}`);
  for (const r of rebinds) parts.push(`R ${idOf(r.owner)} ${r.slot}`);
  for (const g of grads) parts.push(`G ${idOf(g.param)} ${g.disposeOld} ${g.value?.slot}`);
  for (const g of guards) parts.push(`Q ${idOf(g.obj)}.${g.key}=${String(g.value)}`);
  return parts.join("\n");
}
