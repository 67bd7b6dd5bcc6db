import type { Backend, TensorInfo } from "../backend";
import { stridesOf } from "../shape";
import type { Slot, SlotView, Step } from "./trace";

/**
 * The elementwise ops a compiled step may merge into one kernel: float32 arithmetic whose result
 * is exactly rounded (IEEE), so a fused kernel computes the same bits as the ops one by one.
 * Transcendental ops (exp, sigmoid, ...) stay separate: each backend approximates them in its own
 * way, and their kernels are vectorized already.
 */
export const FUSIBLE_OPS = ["add", "sub", "mul", "div", "neg", "abs"] as const;
export type FusibleOp = (typeof FUSIBLE_OPS)[number];

/** An operand of a fused node: one of the kernel's inputs, or an earlier node's value. */
export type FusedArg = { input: number } | { node: number };

/**
 * A chain of elementwise ops over float32 arrays of one size, as data: the backend renders it into
 * one kernel (`Backend.fuseElementwise`) that reads each input once and writes only the values
 * used after the chain.
 */
export interface FusedExpr {
  /** Elements of every full input and of every output. */
  readonly size: number;
  /** Each input is a full array of `size` values or a scalar read for every element. */
  readonly inputs: readonly ("full" | "scalar")[];
  /** Operations in order; arguments refer to inputs or to earlier nodes. */
  readonly nodes: readonly { readonly op: FusibleOp; readonly args: readonly FusedArg[] }[];
  /** The nodes written out, in the order of the kernel's outputs. */
  readonly outputs: readonly number[];
  /** Identifies the expression whatever its size: backends cache compiled code by it. */
  readonly key: string;
}

/** A fused kernel: reads `inputs` (in FusedExpr order), writes `outputs`. */
export type FusedKernel = (inputs: readonly TensorInfo[], outputs: readonly TensorInfo[]) => void;

const FUSIBLE: ReadonlySet<string> = new Set(FUSIBLE_OPS);

/** A fused launch in a compiled program. */
export interface FusedStep {
  kind: "fused";
  label: string;
  backend: Backend;
  run: FusedKernel;
  ins: SlotView[];
  outs: SlotView[];
}

/** How a launch's operand is read: the whole output's size in order, a single value, or otherwise. */
function operandKind(
  view: SlotView,
  outShape: readonly number[],
  strides: readonly number[] | null,
): "full" | "scalar" | null {
  if (view.size === 1) return "scalar";
  const out = outShape.reduce((a, b) => a * b, 1);
  if (view.size !== out) return null;
  if (!strides) return "full";
  const contiguous = stridesOf(outShape);
  for (let d = 0; d < outShape.length; d++) {
    if (outShape[d] !== 1 && strides[d] !== contiguous[d]) return null;
  }
  return "full";
}

/** The fusible shape of a launch: its operands' kinds, or null when it cannot join a chain. */
function fusible(st: Step): ("full" | "scalar")[] | null {
  if (st.kind !== "launch" || !FUSIBLE.has(st.op) || st.outs.length !== 1) return null;
  const out = st.outs[0];
  if (out.dtype !== "float32" || st.ins.some((v) => v.dtype !== "float32")) return null;
  if (st.ins.length === 1) return st.ins[0].size === out.size ? ["full"] : null;
  const attrs = st.attrs as { aStrides: number[]; bStrides: number[] };
  const kinds = [
    operandKind(st.ins[0], out.shape, attrs.aStrides),
    operandKind(st.ins[1], out.shape, attrs.bStrides),
  ];
  if (kinds[0] === null || kinds[1] === null) return null;
  // A chain is over arrays of one size: a scalar result (both operands scalar) stays alone.
  if (out.size === 1) return null;
  return kinds as ("full" | "scalar")[];
}

/**
 * Merges runs of consecutive fusible launches (same backend, same size) into fused launches, in
 * place: the run's last step becomes the fused one, the others become no-ops, so step indices
 * (and the buffer plan built on them) keep their meaning. Constant uploads between the launches
 * do not break a run (the program writes them once, before any replay); anything else does.
 * `keep(slot)` tells whether a value is needed after the run (read later, or handed over).
 */
export function fuseElementwise(
  steps: Step[],
  slots: Slot[],
  isConstant: (st: Step) => boolean,
  keep: (slot: number, after: number) => boolean,
): number {
  let fused = 0;
  let run: number[] = [];
  const flush = () => {
    if (run.length >= 2) {
      const f = build(steps, slots, run, keep);
      if (f) {
        for (const i of run) steps[i] = { kind: "noop" };
        steps[run[run.length - 1]] = f;
        fused++;
      }
    }
    run = [];
  };
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i];
    if (st.kind === "upload" && isConstant(st)) continue;
    if (st.kind === "effect") continue; // plain JavaScript state: order against launches does not matter
    const kinds = fusible(st);
    if (!kinds || st.kind !== "launch") {
      flush();
      continue;
    }
    const first = run.length ? (steps[run[0]] as Extract<Step, { kind: "launch" }>) : null;
    if (first && (first.backend !== st.backend || first.outs[0].size !== st.outs[0].size)) flush();
    if (!st.backend.fuseElementwise) continue;
    run.push(i);
  }
  flush();
  return fused;
}

function build(
  steps: Step[],
  slots: Slot[],
  run: number[],
  keep: (slot: number, after: number) => boolean,
): FusedStep | null {
  const last = run[run.length - 1];
  const launches = run.map((i) => steps[i] as Extract<Step, { kind: "launch" }>);
  const backend = launches[0].backend;
  const size = launches[0].outs[0].size;
  const nodeOf = new Map<number, number>(); // slot -> node
  const inputOf = new Map<number, number>(); // slot -> input
  const inputs: ("full" | "scalar")[] = [];
  const ins: SlotView[] = [];
  const nodes: { op: FusibleOp; args: FusedArg[] }[] = [];
  for (const l of launches) {
    const kinds = fusible(l) as ("full" | "scalar")[];
    const args = l.ins.map((v, k): FusedArg => {
      const node = nodeOf.get(v.slot);
      if (node !== undefined && kinds[k] === "full") return { node };
      let input = inputOf.get(v.slot);
      if (input === undefined || inputs[input] !== kinds[k]) {
        input = inputs.length;
        inputOf.set(v.slot, input);
        inputs.push(kinds[k]);
        ins.push(v);
      }
      return { input };
    });
    nodeOf.set(l.outs[0].slot, nodes.length);
    nodes.push({ op: l.op as FusibleOp, args });
  }
  const outputs: number[] = [];
  const outs: SlotView[] = [];
  launches.forEach((l, j) => {
    if (keep(l.outs[0].slot, last)) {
      outputs.push(j);
      outs.push(l.outs[0]);
    }
  });
  const key = `${inputs.join(",")}|${nodes.map((n) => `${n.op}(${n.args.map((a) => ("input" in a ? `i${a.input}` : `n${a.node}`)).join(",")})`).join(";")}|${outputs.join(",")}`;
  const expr: FusedExpr = { size, inputs, nodes, outputs, key };
  const kernel = backend.fuseElementwise?.(expr);
  if (!kernel) return null;
  // The outputs are now made, and the inputs read, at the run's last step.
  for (const v of outs) {
    const d = slots[v.slot].def;
    if (d.kind === "launch") d.step = last;
  }
  for (const v of ins) slots[v.slot].lastUse = Math.max(slots[v.slot].lastUse, last);
  return {
    kind: "fused",
    label: `fused(${nodes.map((n) => n.op).join(",")})`,
    backend,
    run: kernel,
    ins,
    outs,
  };
}
