import {
  checkOptionKeys,
  formatShape as fmt,
  isTracing,
  keep,
  markStep,
  noGrad,
  Tensor,
  tidy,
  traceEffect,
  traceGuard,
  zerosLike,
} from "@minibatch/tensor";

/** Keys schedulers write into parameter groups; a group passed back in may carry them. */
const SCHEDULER_KEYS = ["initialLr", "maxLr", "minLr", "maxMomentum", "baseMomentum"];

/** Per-parameter optimizer state (moment buffers and step counts), as in PyTorch's `optimizer.state[p]`. */
export type ParamState = Record<string, Tensor | number>;

/**
 * One parameter group: its parameters and its own hyper-parameters. Schedulers add keys of their
 * own (`initialLr`, `maxLr`, ...), as PyTorch's do, so groups accept any extra key.
 */
export type ParamGroup<O extends object = { lr: number }> = O & {
  params: Tensor[];
  lr: number;
  [key: string]: unknown;
};

/** A group as passed to a constructor: `{ params, lr: 0.1 }` overrides the optimizer's defaults. */
export type ParamGroupInput<O extends object = { lr: number }> = {
  params: Tensor | Iterable<Tensor>;
} & Partial<O>;

/** What optimizers accept: the parameters themselves, or a list of parameter groups. */
export type Params<O extends object = { lr: number }> =
  | Tensor
  | Iterable<Tensor>
  | Iterable<ParamGroupInput<O>>;

/** PyTorch's `optimizer.state_dict()` layout, with parameters named by their global index. */
export interface OptimizerStateDict {
  state: Record<string, Record<string, Tensor | number>>;
  paramGroups: Record<string, unknown>[];
}

/**
 * The base of every optimizer (PyTorch `torch.optim.Optimizer`). Subclasses validate their
 * hyper-parameters and update one parameter at a time; this class owns the groups, the state and
 * its memory. State tensors are created once and then updated with `assign`, so references
 * handed out by `stateDict()` stay valid (and current) across steps, as PyTorch's do.
 */
export abstract class Optimizer<O extends { lr: number } = { lr: number }> {
  readonly defaults: Readonly<O>;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** State per parameter, created on the parameter's first update. */
  readonly state = new Map<Tensor, ParamState>();

  /**
   * `defaults` holds every option with its default value; `options` (the user's) may only use
   * those keys: an unknown one is an error with a "did you mean" hint, never silently ignored.
   */
  constructor(params: Params<O>, defaults: O, options: Partial<O> = {}) {
    checkOptionKeys(this.constructor.name, options, Object.keys(defaults));
    this.defaults = copyOptions({ ...defaults, ...defined(options) } as O);
    this.validate(this.defaults, "the options");
    const items =
      params instanceof Tensor ? [params] : [...(params as Iterable<Tensor | ParamGroupInput<O>>)];
    if (items.length === 0) throw new Error(`${this.constructor.name}: got an empty parameter list`);
    if (items.every((x) => x instanceof Tensor)) {
      this.addParamGroup({ params: items as Tensor[] } as unknown as ParamGroupInput<O>);
    } else if (items.some((x) => x instanceof Tensor)) {
      throw new Error(
        `${this.constructor.name}: pass either parameters or parameter groups ({ params, ...options }), not a mix`,
      );
    } else {
      for (const g of items as ParamGroupInput<O>[]) this.addParamGroup(g);
    }
  }

  /** Checks a group's hyper-parameters; `where` names the group in errors. */
  protected abstract validate(options: O, where: string): void;

  /** Updates one parameter from its gradient; runs under `noGrad` inside a `tidy` scope. */
  protected abstract updateParam(p: Tensor, grad: Tensor, group: ParamGroup<O>, state: ParamState): void;

  /** Adds a group (PyTorch `add_param_group`); options it leaves out come from the defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    const name = this.constructor.name;
    const where = `parameter group ${this.paramGroups.length}`;
    if (group === null || typeof group !== "object" || !("params" in group)) {
      throw new Error(`${name}: ${where} must be an object with 'params'`);
    }
    const { params: raw, ...overrides } = group;
    checkOptionKeys(name, overrides, [...Object.keys(this.defaults), ...SCHEDULER_KEYS], where);
    const params = raw instanceof Tensor ? [raw] : [...raw];
    if (params.length === 0) throw new Error(`${name}: ${where} has no parameters`);
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new Error(`${name}: ${where}: params[${i}] is not a Tensor`);
      if (p.dtype !== "float32") {
        throw new Error(
          `${name}: ${where}: params[${i}] has dtype ${p.dtype}; only float32 can be optimized`,
        );
      }
      if (p._node) {
        throw new Error(
          `${name}: ${where}: params[${i}] is the result of an op, not a leaf; optimize the tensors you created`,
        );
      }
      if (seen.has(p)) {
        throw new Error(`${name}: ${where}: params[${i}] already appears in a parameter group`);
      }
      seen.add(p);
    });
    const options = { ...this.defaults, ...copyOptions(defined(overrides)) } as unknown as O;
    this.validate(options, where);
    this.paramGroups.push({ ...options, params } as ParamGroup<O>);
  }

  /**
   * Updates every parameter that has a gradient. `closure`, as in PyTorch, re-evaluates the model
   * and returns the loss; it runs before the update, with autograd on.
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    const loss = closure?.();
    // A compiled step bakes the hyperparameters into its program: changing one (a scheduler
    // setting lr) makes it trace again.
    if (isTracing()) {
      traceGuard(this.paramGroups, "length");
      for (const group of this.paramGroups) {
        for (const key of Object.keys(group)) if (key !== "params") traceGuard(group, key);
      }
    }
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          const grad = p.grad;
          if (!grad) continue;
          const state = this.state.get(p) ?? {};
          // One scope per parameter bounds the temporaries alive at once to one parameter's worth.
          tidy(() => this.updateParam(p, grad, group, state));
          // Stateless updates (plain SGD) leave no entry, so stateDict() lists only real state.
          if (Object.keys(state).length > 0) this.state.set(p, state);
        }
      }
    });
    // Development-mode leak warning: live tensors growing at every step (off in production).
    markStep();
    return loss;
  }

  /** Disposes every gradient and sets it to null (PyTorch's default `set_to_none=True`). */
  zeroGrad(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /**
   * Stores `value` as `state[key]`. The first time it becomes the state tensor (exempt from scopes);
   * afterwards the existing state tensor takes over its buffer and the old buffer is freed.
   */
  protected setState(state: ParamState, key: string, value: Tensor): Tensor {
    const old = state[key];
    if (old instanceof Tensor) return old.assign(value);
    state[key] = keep(value);
    return value;
  }

  /** Counts this parameter's steps in `state.step` and returns the new count (1 on the first). */
  protected nextStep(state: ParamState): number {
    const step = ((state.step as number | undefined) ?? 0) + 1;
    state.step = step;
    // A replay of a compiled step counts too; a bias correction computed from `step` changes the
    // program's constants, which compile detects (that step then runs eagerly).
    traceEffect(() => {
      state.step = ((state.step as number | undefined) ?? 0) + 1;
    });
    return step;
  }

  /**
   * The gradient to follow and the parameter to step from, as PyTorch's update rules start: the
   * gradient negated for `maximize`; weight decay added to it as L2 (`g + weightDecay * p`), or,
   * when `decoupled` (AdamW, decoupledWeightDecay), applied to the parameter (`p * (1 - lr * wd)`).
   */
  protected direction(
    p: Tensor,
    grad: Tensor,
    o: { lr: number; weightDecay: number; maximize: boolean },
    decoupled = false,
  ): { g: Tensor; param: Tensor } {
    let g = o.maximize ? grad.neg() : grad;
    let param = p;
    if (o.weightDecay !== 0) {
      if (decoupled) param = p.mul(1 - o.lr * o.weightDecay);
      else g = g.add(p.mul(o.weightDecay));
    }
    return { g, param };
  }

  /** An exponential moving average kept in `state[key]` (zeros at first): beta * avg + (1 - beta) * value. */
  protected ema(state: ParamState, key: string, like: Tensor, beta: number, value: Tensor): Tensor {
    const prev = (state[key] as Tensor | undefined) ?? zerosLike(like);
    return this.setState(state, key, prev.mul(beta).add(value.mul(1 - beta)));
  }

  /**
   * The state in PyTorch's layout. The tensors are the optimizer's own (not copies): read them with
   * `await t.data()` to save them, and do not dispose them.
   */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...options } = g;
      return {
        ...copyOptions(options),
        params: params.map((p) => {
          index.set(p, index.size);
          return index.size - 1;
        }),
      };
    });
    const state: OptimizerStateDict["state"] = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[String(i)] = { ...s };
    }
    return { state, paramGroups };
  }

  /**
   * Loads a state dict made by `stateDict()` of an optimizer of the same kind whose groups have the
   * same sizes. Tensors are copied; hyper-parameters are taken from the dict, parameters are kept.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const name = `${this.constructor.name}.loadStateDict`;
    const saved = stateDict?.paramGroups;
    if (!Array.isArray(saved) || typeof stateDict.state !== "object" || stateDict.state === null) {
      throw new Error(`${name}: expected { state, paramGroups }`);
    }
    if (saved.length !== this.paramGroups.length) {
      throw new Error(
        `${name}: the state dict has ${saved.length} parameter groups, this optimizer has ${this.paramGroups.length}`,
      );
    }
    const byIndex = new Map<number, Tensor>();
    const groups = saved.map((g, gi) => {
      const ids = g.params;
      const mine = this.paramGroups[gi].params;
      if (!Array.isArray(ids) || ids.length !== mine.length) {
        throw new Error(
          `${name}: parameter group ${gi} has ${Array.isArray(ids) ? ids.length : "no"} parameters in the state dict, ${mine.length} in this optimizer`,
        );
      }
      ids.forEach((id, k) => {
        if (!Number.isInteger(id))
          throw new Error(`${name}: parameter group ${gi} lists ${id}, not an index`);
        byIndex.set(id, mine[k]);
      });
      const { params: _, ...options } = g;
      const group = { ...copyOptions(options), params: mine } as ParamGroup<O>;
      this.validate(group, `parameter group ${gi}`);
      return group;
    });
    for (const [key, s] of Object.entries(stateDict.state)) {
      const p = byIndex.get(Number(key));
      if (!p) throw new Error(`${name}: state for parameter ${key}, which no parameter group lists`);
      for (const [k, v] of Object.entries(s)) {
        if (!(v instanceof Tensor)) continue;
        if (v.isDisposed) throw new Error(`${name}: state '${k}' of parameter ${key} was disposed`);
        if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
          throw new Error(
            `${name}: state '${k}' of parameter ${key} has shape ${fmt(v.shape)}, the parameter ${fmt(p.shape)}`,
          );
        }
        if (v.backend !== p.backend) {
          throw new Error(
            `${name}: state '${k}' of parameter ${key} lives on '${v.backend.name}', the parameter on '${p.backend.name}'; move it with await t.to('${p.backend.name}') first`,
          );
        }
      }
    }
    // Everything is checked: now replace, so a failed load leaves the optimizer as it was.
    const next = new Map<Tensor, ParamState>();
    noGrad(() => {
      for (const [key, s] of Object.entries(stateDict.state)) {
        const copy: ParamState = {};
        for (const [k, v] of Object.entries(s)) copy[k] = v instanceof Tensor ? keep(v.clone()) : v;
        next.set(byIndex.get(Number(key))!, copy);
      }
    });
    this.disposeState();
    for (const [p, s] of next) this.state.set(p, s);
    this.paramGroups.splice(0, this.paramGroups.length, ...groups);
  }

  /** Frees the state tensors (not the parameters); the optimizer starts afresh if stepped again. */
  dispose(): void {
    this.disposeState();
  }

  private disposeState(): void {
    for (const s of this.state.values()) {
      for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    }
    this.state.clear();
  }
}

/** Drops keys set to `undefined`, so `{ lr: undefined }` keeps the default. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Copies options one level deep, so groups never share an array such as `betas`. */
function copyOptions<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v])) as T;
}

/**
 * Makes the option checker of one validation: `expect(ok, "lr", value, ">= 0")` throws
 * `SGD: invalid lr = -1 in the options (expected >= 0)` unless `ok`.
 */
export function optionChecker(
  optimizer: string,
  where: string,
): (ok: boolean, option: string, value: unknown, expected: string) => void {
  return (ok, option, value, expected) => {
    if (ok) return;
    const shown = Array.isArray(value) ? `[${value.join(", ")}]` : String(value);
    throw new Error(`${optimizer}: invalid ${option} = ${shown} in ${where} (expected ${expected})`);
  };
}

/** A finite number >= 0. */
export const nonNegative = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v >= 0;
