import { formatShape as fmt, keep, type Tensor, traceGuard } from "@minibatch/tensor";

/**
 * The base of every layer (PyTorch `nn.Module`). Parameters, buffers and child modules are
 * registered by name explicitly (`this.registerParameter(...)`), which keeps `stateDict()` keys
 * identical to PyTorch's (`0.weight`, `bn.runningMean` ...) without a Proxy.
 * Registered tensors are exempt from `tidy` scopes: a module owns them until `dispose()`.
 */
export abstract class Module<In extends any[] = any[], Out = any> {
  training = true;
  private readonly _params = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  private readonly _modules = new Map<string, Module>();

  abstract forward(...args: In): Out;

  /**
   * Calls `forward` (PyTorch `module(x)`). Typed from the module's own `forward`, so
   * `new Linear(2, 3).call(x)` is a `Tensor` and wrong arguments are compile errors, without
   * every layer having to spell out `Module<[Tensor], Tensor>`.
   */
  call<M extends Module<In, Out>>(this: M, ...args: Parameters<M["forward"]>): ReturnType<M["forward"]> {
    // A compiled step replays what forward did in this mode; switching train/eval traces it again.
    traceGuard(this, "training");
    return this.forward(...args) as ReturnType<M["forward"]>;
  }

  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    checkName(name, this);
    if (t) {
      if (t.dtype !== "float32")
        throw new Error(`registerParameter: '${name}' must be float32, got ${t.dtype}`);
      t.requiresGrad_(true);
      keep(t);
      t.name ??= name;
    }
    this._params.set(name, t);
    return t;
  }

  /** A buffer is state that is not trained (running statistics); `persistent` ones are in the state dict. */
  registerBuffer<T extends Tensor | null>(name: string, t: T, persistent = true): T {
    checkName(name, this);
    if (t) {
      keep(t);
      t.name ??= name;
    }
    this._buffers.set(name, { tensor: t, persistent });
    return t;
  }

  registerModule<M extends Module>(name: string, m: M): M {
    checkName(name, this);
    this._modules.set(name, m);
    return m;
  }

  /** Replaces a registered buffer's tensor (disposing the old one). */
  protected setBuffer(name: string, t: Tensor): void {
    const b = this._buffers.get(name);
    if (!b) throw new Error(`setBuffer: no buffer named '${name}'`);
    if (b.tensor && b.tensor !== t) b.tensor.dispose();
    keep(t);
    b.tensor = t;
  }

  *namedChildren(): IterableIterator<[string, Module]> {
    yield* this._modules.entries();
  }

  children(): Module[] {
    return [...this._modules.values()];
  }

  *namedModules(prefix = ""): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [name, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }

  *namedParameters(prefix = "", recurse = true): IterableIterator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [path, m] of recurse ? this.namedModules(prefix) : [[prefix, this] as [string, Module]]) {
      for (const [name, t] of m._params) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        yield [path ? `${path}.${name}` : name, t];
      }
    }
  }

  parameters(recurse = true): Tensor[] {
    return [...this.namedParameters("", recurse)].map(([, t]) => t);
  }

  *namedBuffers(prefix = "", recurse = true): IterableIterator<[string, Tensor]> {
    for (const [path, m] of recurse ? this.namedModules(prefix) : [[prefix, this] as [string, Module]]) {
      for (const [name, b] of m._buffers) if (b.tensor) yield [path ? `${path}.${name}` : name, b.tensor];
    }
  }

  buffers(recurse = true): Tensor[] {
    return [...this.namedBuffers("", recurse)].map(([, t]) => t);
  }

  /** Sets training mode on this module and its children. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Calls `fn` on every module of the tree, children first, then this one (PyTorch `apply`), e.g. for custom init. */
  apply(fn: (m: Module) => void): this {
    for (const m of this._modules.values()) m.apply(fn);
    fn(this);
    return this;
  }

  /** Freezes (false) or unfreezes every parameter (PyTorch `requires_grad_`). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /** The number of trainable values (elements of all parameters). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Drops (disposes) the gradients of every parameter (PyTorch's set_to_none=True default). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Parameters and persistent buffers by dotted name. The tensors are the module's own, not copies. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [path, m] of this.namedModules()) {
      const pre = path ? `${path}.` : "";
      for (const [name, t] of m._params) if (t) out[pre + name] = t;
      for (const [name, b] of m._buffers) if (b.tensor && b.persistent) out[pre + name] = b.tensor;
    }
    return out;
  }

  /**
   * Copies values into this module's parameters and buffers, in place. With `strict` (the
   * default), missing keys, unexpected keys and shape mismatches are an error listing all of them.
   */
  loadStateDict(
    state: Record<string, Tensor>,
    opts: { strict?: boolean } = {},
  ): { missing: string[]; unexpected: string[] } {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missing = Object.keys(own).filter((k) => !(k in state));
    const unexpected = Object.keys(state).filter((k) => !(k in own));
    const mismatched: string[] = [];
    for (const [k, t] of Object.entries(own)) {
      const v = state[k];
      if (
        v &&
        (v.size !== t.size || v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i]))
      ) {
        mismatched.push(`${k}: expected ${fmt(t.shape)}, got ${fmt(v.shape)}`);
      }
    }
    if (mismatched.length || (strict && (missing.length || unexpected.length))) {
      const parts = [
        missing.length ? `missing keys: ${missing.join(", ")}` : "",
        unexpected.length ? `unexpected keys: ${unexpected.join(", ")}` : "",
        mismatched.length ? `shape mismatches: ${mismatched.join("; ")}` : "",
      ].filter(Boolean);
      throw new Error(`loadStateDict: ${parts.join("; ")}`);
    }
    for (const [k, t] of Object.entries(own)) {
      const v = state[k];
      if (!v) continue;
      if (v.backend !== t.backend) {
        throw new Error(
          `loadStateDict: '${k}' lives on '${v.backend.name}' but the module is on '${t.backend.name}'; move it first`,
        );
      }
      t.assign(v.dtype === t.dtype ? v : v.cast(t.dtype));
    }
    return { missing, unexpected };
  }

  /** Moves every parameter and buffer to another backend (asynchronous: GPU reads are). */
  async to(backend: string): Promise<this> {
    for (const m of this.modules()) {
      for (const [name, t] of m._params) {
        if (!t || t.backend.name === backend) continue;
        const moved = keep(await t.to(backend));
        moved.requiresGrad_(true);
        moved.name = t.name;
        t.dispose();
        m._params.set(name, moved);
        (m as any)[name] === t && ((m as any)[name] = moved);
      }
      for (const [name, b] of m._buffers) {
        const t = b.tensor;
        if (!t || t.backend.name === backend) continue;
        const moved = keep(await t.to(backend));
        moved.name = t.name;
        t.dispose();
        b.tensor = moved;
        (m as any)[name] === t && ((m as any)[name] = moved);
      }
    }
    return this;
  }

  /** Disposes every parameter, gradient and buffer. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const t of m._params.values()) {
        t?.grad?.dispose();
        t?.dispose();
      }
      for (const b of m._buffers.values()) b.tensor?.dispose();
    }
  }

  /** A readable tree of the module, as PyTorch prints it. */
  toString(): string {
    const kids = [...this._modules].map(([n, m]) => `  (${n}): ${m.toString().replace(/\n/g, "\n  ")}`);
    const extra = this.extraRepr();
    if (!kids.length) return `${this.constructor.name}(${extra})`;
    return `${this.constructor.name}(${extra ? `${extra}` : ""}\n${kids.join("\n")}\n)`;
  }

  /** Extra text in `toString()`, e.g. "in=784, out=100". */
  extraRepr(): string {
    return "";
  }
}

function checkName(name: string, m: Module): void {
  if (!name || name.includes(".")) {
    throw new Error(`${m.constructor.name}: invalid name '${name}' (must be non-empty and contain no '.')`);
  }
}
