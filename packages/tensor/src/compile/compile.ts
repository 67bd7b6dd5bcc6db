import { ENGINE } from "../engine";
import { checkOptionKeys } from "../options";
import { tidy } from "../scope";
import { Tensor } from "../tensor";
import { type Analysis, analyse, type ProfileRow, Program, Refusal } from "./program";
import { closeTrace, openTrace, tracing } from "./trace";

export interface CompileOptions {
  /**
   * What to do when a step cannot be replayed (it reads values, keeps tensors it does not return,
   * or bakes in numbers that change from call to call): `"warn"` (the default) runs it eagerly
   * from then on and says why once on the console; `"error"` throws that reason.
   */
  onRefusal?: "warn" | "error";
}

export interface CompileStats {
  /** Calls run eagerly: the warm-up call of each input signature, and every call of a refused one. */
  eager: number;
  /** Calls traced (two per input signature, more when a guard changed). */
  traced: number;
  /** Calls replayed from a program. */
  replayed: number;
  /** Kernel launches of the newest program, and the bytes of buffers it holds between calls. */
  launches: number;
  /** How many of those launches are chains of elementwise ops fused into one kernel. */
  fused: number;
  heldBytes: number;
  /** Why a signature runs eagerly, if one does. */
  refusal: string | null;
}

export interface CompiledFn<A extends unknown[], R> {
  (...args: A): R;
  /** Counters, for tests and benchmarks. */
  stats(): CompileStats;
  /**
   * Calls the step; when the call is a replay, also times each of its launches (host time: on a
   * GPU, the time to encode). `rows` is null when the call was eager or traced.
   */
  profile(...args: A): { result: R; rows: ProfileRow[] | null };
  /** Frees the buffers held by the programs; the next call traces again. */
  dispose(): void;
}

interface Entry {
  calls: number;
  program: Program | null;
  /** The description of the first of the two traces, until the second confirms it. */
  candidate: string | null;
  refusal: string | null;
}

/**
 * Compiles a step (forward, backward, optimizer update) into a program that replays its kernels
 * with no per-op JavaScript: no tensor objects, no autograd graph, no allocation per op. The
 * temporaries' buffers are planned once (shared where lifetimes do not overlap) and kept.
 *
 * `compile(fn)` returns a function with `fn`'s signature. For each signature of its arguments
 * (shapes, dtypes and backends of the tensors; the values of the others):
 * - the first call runs `fn` eagerly (lazily created state, such as momentum buffers, appears);
 * - the second and third calls run `fn` eagerly while tracing it; when both traces agree (same
 *   kernels, same constants), later calls replay the program;
 * - if they differ (a number baked into the step changes from call to call: Adam's bias
 *   correction, a learning rate computed in the step), or the step does something a replay cannot
 *   repeat (reads values with `dataSync()`/`data()`, keeps tensors it does not return, assign or
 *   store as `.grad`), that signature runs eagerly from then on, and `onRefusal` says so.
 *
 * Like `tidy`, a compiled step disposes the tensors it makes and does not return. A replay gives
 * the same results as eager mode (the same kernels in the same order), updates parameters and
 * optimizer state through `assign`, and stores gradients in `.grad`, as the eager step does.
 * Modules and optimizers declare the settings the step depends on (`training`, `lr`, ...): when
 * one changes the step is traced again. Numbers the step computes from other JavaScript state
 * are constants of the program, as in `jax.jit`: pass changing values in as tensors.
 * The returned tensors carry no autograd graph; do the backward pass inside the step.
 */
export function compile<A extends unknown[], R>(
  fn: (...args: A) => R,
  opts: CompileOptions = {},
): CompiledFn<A, R> {
  if (typeof fn !== "function") throw new Error(`compile: expected a function, got ${typeof fn}`);
  checkOptionKeys("compile", opts, ["onRefusal"]);
  const onRefusal = opts.onRefusal ?? "warn";
  if (onRefusal !== "warn" && onRefusal !== "error") {
    throw new Error(`compile: onRefusal must be 'warn' or 'error', got ${String(onRefusal)}`);
  }
  const entries = new Map<string, Entry>();
  /**
   * Tensors whose `.grad` a trace set. Whether each has a gradient when a call starts is part of
   * the call's key: a step that accumulates into existing gradients and the same step after
   * `zeroGrad` are different programs (gradient accumulation over micro-batches uses both).
   */
  const watch: Tensor[] = [];
  const watched = new Set<Tensor>();
  const stats: CompileStats = {
    eager: 0,
    traced: 0,
    replayed: 0,
    launches: 0,
    fused: 0,
    heldBytes: 0,
    refusal: null,
  };

  const eager = (args: A): R => {
    stats.eager++;
    return notAsync(tidy(() => fn(...args)));
  };

  const refuse = (e: Entry, why: string) => {
    e.refusal = why;
    stats.refusal = why;
    e.program?.dispose();
    e.program = e.candidate = null;
    if (onRefusal === "error") throw new Error(why);
    console.warn(`${why}\n(compile: this step now runs eagerly for these argument shapes)`);
  };

  const trace = (e: Entry, args: A, argsKey: string): R => {
    stats.traced++;
    const tr = openTrace(ENGINE.nextId);
    args.forEach((a, i) => {
      if (a instanceof Tensor) tr.newSlot({ kind: "arg", index: i }, a.size, a.dtype, a.backend, a.dataId);
    });
    let result: R;
    try {
      result = notAsync(tidy(() => fn(...args)));
    } finally {
      closeTrace();
    }
    let a: Analysis;
    try {
      a = analyse(tr, result);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      refuse(e, err.message);
      return result;
    }
    const fresh = [...a.gradStart.keys()].filter((t) => !watched.has(t));
    if (fresh.length) {
      // New tensors to watch: every key changes. This call's entry moves to its key under the new
      // watch list (from the gradients the trace found at its start); the others are dropped.
      const bits = watch.map((t) => a.gradStart.get(t) ?? t.grad !== null);
      for (const t of fresh) {
        watched.add(t);
        watch.push(t);
        bits.push(a.gradStart.get(t) as boolean);
      }
      for (const x of entries.values()) if (x !== e) x.program?.dispose();
      entries.clear();
      entries.set(`${argsKey}|grads:${bits.map(Number).join("")}`, e);
    }
    if (e.candidate === null) {
      // Only its description is needed, to compare with the next trace: no program is built
      // (no buffers planned, no kernels fused) until two traces agree.
      e.candidate = a.signature;
      return result;
    }
    const first = e.candidate;
    e.candidate = null;
    if (first !== a.signature) {
      refuse(e, `compile: two traces of the step differ${firstDifference(first, a.signature)}`);
      return result;
    }
    const program = new Program(a);
    e.program = program;
    stats.launches = program.launches;
    stats.fused = program.fused;
    stats.heldBytes = program.heldBytes;
    return result;
  };

  let profiling = false;
  let rows: ProfileRow[] | null = null;
  const compiled = ((...args: A): R => {
    if (tracing()) return fn(...args); // inside another traced step: part of its trace
    const argsKey = signatureOf(args);
    const key = `${argsKey}|grads:${watch.map((t) => (t.grad ? 1 : 0)).join("")}`;
    let e = entries.get(key);
    if (!e) {
      e = { calls: 0, program: null, candidate: null, refusal: null };
      entries.set(key, e);
    }
    e.calls++;
    if (e.refusal) return eager(args);
    if (e.program) {
      const stale = e.program.valid();
      if (stale === null) {
        stats.replayed++;
        if (!profiling) return e.program.run(args as unknown as Tensor[]) as R;
        const p = e.program.profile(args as unknown as Tensor[]);
        rows = p.rows;
        return p.result as R;
      }
      // A setting the step depends on changed: trace twice again.
      e.program.dispose();
      e.program = null;
    }
    if (e.calls === 1) return eager(args);
    return trace(e, args, argsKey);
  }) as CompiledFn<A, R>;

  compiled.stats = () => ({ ...stats });
  compiled.profile = (...args: A) => {
    profiling = true;
    rows = null;
    try {
      const result = compiled(...args);
      return { result, rows };
    } finally {
      profiling = false;
    }
  };
  compiled.dispose = () => {
    for (const e of entries.values()) e.program?.dispose();
    entries.clear();
  };
  return compiled;
}

/** The cache key of a call: tensors by shape, dtype, backend and aliasing; other values by value. */
function signatureOf(args: readonly unknown[]): string {
  const seen = new Map<object, number>();
  return args
    .map((a, i) => {
      if (a instanceof Tensor) {
        a.assertAlive("compile");
        const alias = seen.get(a.dataId);
        seen.set(a.dataId, i);
        return `T${a.dtype}[${a.shape.join(",")}]@${a.backend.name}${alias === undefined ? "" : `=${alias}`}`;
      }
      if (a === undefined || a === null || ["number", "boolean", "string", "bigint"].includes(typeof a)) {
        return `V${typeof a}:${String(a)}`;
      }
      throw new Error(
        `compile: argument ${i} is ${Array.isArray(a) ? "an array" : typeof a}; a compiled step takes tensors and plain numbers, booleans or strings (close over other values)`,
      );
    })
    .join("|");
}

function firstDifference(a: string, b: string): string {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) {
      const show = (s: string | undefined) =>
        s === undefined ? "(nothing)" : s.length > 160 ? `${s.slice(0, 160)}...` : s;
      return ` at entry ${i}: ${show(la[i])} vs ${show(lb[i])}; a number the step computes changes from call to call (pass it in as a tensor), or the step's ops depend on state that is not declared`;
    }
  }
  return "";
}

function notAsync<R>(result: R): R {
  if (result !== null && typeof (result as { then?: unknown })?.then === "function") {
    (result as unknown as Promise<unknown>).then(undefined, () => {});
    throw new Error(
      "compile: the step returned a Promise; a compiled step must be synchronous (tensor ops are). Read values after it returns",
    );
  }
  return result;
}
