import { fromArray, noGrad, type Tensor } from "@minibatch/tensor";
import { Optimizer, optionChecker, type ParamGroup, type ParamState, type Params } from "./optimizer";

export interface LBFGSOptions {
  /** Step length (PyTorch's default 1). */
  lr: number;
  /** Iterations per `step`; default 20. */
  maxIter: number;
  /** Loss evaluations per `step`; default maxIter · 5/4 (rounded down). */
  maxEval: number;
  /** Stop when every gradient entry is at most this in size; default 1e-7. */
  toleranceGrad: number;
  /** Stop when the loss or the step changes by less than this; default 1e-9. */
  toleranceChange: number;
  /** Number of curvature pairs kept; default 100. */
  historySize: number;
  /** Only null (a fixed step of lr) is available; 'strong_wolfe' is rejected. */
  lineSearchFn: null;
}

/**
 * L-BFGS (PyTorch `torch.optim.LBFGS`, without line search): each step runs up to `maxIter`
 * quasi-Newton iterations, re-evaluating the model through the closure. The loss and the
 * gradients must be read every iteration, so the step is asynchronous:
 * `await optimizer.stepAsync(closure)`, where the closure zeroes the gradients, computes the loss,
 * calls `backward()` and returns the loss. It works on one parameter group; the curvature history
 * lives on the host in float64 and is not part of `stateDict()`.
 */
export class LBFGS extends Optimizer<LBFGSOptions> {
  private memory: {
    d: Float64Array | null;
    t: number;
    dirs: Float64Array[];
    steps: Float64Array[];
    ro: number[];
    hDiag: number;
    prevGrad: Float64Array | null;
    prevLoss: number;
    nIter: number;
    funcEvals: number;
  } = {
    d: null,
    t: 0,
    dirs: [],
    steps: [],
    ro: [],
    hDiag: 1,
    prevGrad: null,
    prevLoss: 0,
    nIter: 0,
    funcEvals: 0,
  };

  constructor(params: Params<LBFGSOptions>, options: Partial<LBFGSOptions> = {}) {
    const maxIter = options?.maxIter ?? 20;
    super(
      params,
      {
        lr: 1,
        maxIter,
        maxEval: Math.floor((maxIter * 5) / 4),
        toleranceGrad: 1e-7,
        toleranceChange: 1e-9,
        historySize: 100,
        lineSearchFn: null,
      },
      options,
    );
    if (this.paramGroups.length !== 1) {
      throw new Error(
        `LBFGS: supports a single parameter group (as PyTorch), got ${this.paramGroups.length}; pass the parameters directly`,
      );
    }
  }

  protected validate(o: LBFGSOptions, where: string): void {
    const expect = optionChecker("LBFGS", where);
    const positive = (v: unknown) => typeof v === "number" && v > 0 && Number.isFinite(v);
    const count = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
    expect(positive(o.lr), "lr", o.lr, "a number > 0");
    expect(count(o.maxIter), "maxIter", o.maxIter, "a positive integer");
    expect(count(o.maxEval), "maxEval", o.maxEval, "a positive integer");
    expect(count(o.historySize), "historySize", o.historySize, "a positive integer");
    expect(
      typeof o.toleranceGrad === "number" && o.toleranceGrad >= 0,
      "toleranceGrad",
      o.toleranceGrad,
      "a number >= 0",
    );
    expect(
      typeof o.toleranceChange === "number" && o.toleranceChange >= 0,
      "toleranceChange",
      o.toleranceChange,
      "a number >= 0",
    );
    expect(o.lineSearchFn === null, "lineSearchFn", o.lineSearchFn, "null ('strong_wolfe' is not available)");
  }

  protected updateParam(_p: Tensor, _g: Tensor, _group: ParamGroup<LBFGSOptions>, _s: ParamState): void {
    throw new Error("LBFGS: internal, updates happen in stepAsync");
  }

  /** L-BFGS re-evaluates the model several times per step and needs the loss each time: use `await stepAsync(closure)`. */
  override step<T = undefined>(_closure?: () => T): T | undefined {
    throw new Error(
      "LBFGS: step() cannot run L-BFGS, which reads the loss every iteration; use `await optimizer.stepAsync(closure)`",
    );
  }

  /**
   * One L-BFGS step (up to maxIter iterations). `closure` must zero the gradients, compute the
   * loss, call backward() and return the loss; run it inside tidy() if it makes temporaries.
   * Returns the loss of the first evaluation, as PyTorch's step does.
   */
  async stepAsync(closure: () => Tensor): Promise<number> {
    if (typeof closure !== "function")
      throw new Error("LBFGS.stepAsync: expected a closure that returns the loss");
    const group = this.paramGroups[0];
    const { lr, maxIter, maxEval, toleranceGrad, toleranceChange, historySize } = group;
    const params = group.params;
    const m = this.memory;
    const evaluate = async (): Promise<[number, Float64Array]> => {
      const lossT = closure();
      const loss = Number((await lossT.data())[0]);
      lossT.dispose();
      return [loss, await this.flatGrad(params)];
    };
    let [loss, g] = await evaluate();
    const origLoss = loss;
    let currentEvals = 1;
    m.funcEvals++;
    if (maxAbs(g) <= toleranceGrad) return origLoss;
    let nIter = 0;
    let d = m.d;
    let t = m.t;
    while (nIter < maxIter) {
      nIter++;
      m.nIter++;
      if (m.nIter === 1 || !d || !m.prevGrad) {
        d = g.map((v) => -v);
        m.dirs = [];
        m.steps = [];
        m.ro = [];
        m.hDiag = 1;
      } else {
        const prev = m.prevGrad;
        const y = g.map((v, i) => v - prev[i]);
        const s = d.map((v) => v * t);
        const ys = dot(y, s);
        if (ys > 1e-10) {
          if (m.dirs.length === historySize) {
            m.dirs.shift();
            m.steps.shift();
            m.ro.shift();
          }
          m.dirs.push(y);
          m.steps.push(s);
          m.ro.push(1 / ys);
          m.hDiag = ys / dot(y, y);
        }
        // Two-loop recursion: d = -H·g with H the L-BFGS inverse-Hessian estimate.
        const k = m.dirs.length;
        const al = new Array<number>(k);
        const q = g.map((v) => -v);
        for (let i = k - 1; i >= 0; i--) {
          al[i] = dot(m.steps[i], q) * m.ro[i];
          axpy(q, m.dirs[i], -al[i]);
        }
        const r = q.map((v) => v * m.hDiag);
        for (let i = 0; i < k; i++) {
          const be = dot(m.dirs[i], r) * m.ro[i];
          axpy(r, m.steps[i], al[i] - be);
        }
        d = r;
      }
      m.prevGrad = g.slice();
      m.prevLoss = loss;
      // The first iteration ever scales the step so it is at most lr in L1 size.
      t = m.nIter === 1 ? Math.min(1, 1 / sumAbs(g)) * lr : lr;
      if (dot(g, d) > -toleranceChange) break;
      this.addToParams(params, d, t);
      let lsEvals = 0;
      if (nIter !== maxIter) {
        [loss, g] = await evaluate();
        lsEvals = 1;
      }
      currentEvals += lsEvals;
      m.funcEvals += lsEvals;
      if (nIter === maxIter || currentEvals >= maxEval || maxAbs(g) <= toleranceGrad) break;
      if (maxAbs(d) * Math.abs(t) <= toleranceChange) break;
      if (Math.abs(loss - m.prevLoss) < toleranceChange) break;
    }
    m.d = d;
    m.t = t;
    const first = params[0];
    this.state.set(first, { funcEvals: m.funcEvals, nIter: m.nIter });
    return origLoss;
  }

  private async flatGrad(params: Tensor[]): Promise<Float64Array> {
    const parts = await Promise.all(
      params.map(async (p) => (p.grad ? await p.grad.data() : new Float32Array(p.size))),
    );
    const out = new Float64Array(parts.reduce((a, b) => a + b.length, 0));
    let o = 0;
    for (const part of parts) {
      out.set(part, o);
      o += part.length;
    }
    return out;
  }

  /** p += t·d, parameter by parameter, in place. */
  private addToParams(params: Tensor[], d: Float64Array, t: number): void {
    let o = 0;
    noGrad(() => {
      for (const p of params) {
        const step = new Float32Array(p.size);
        for (let i = 0; i < p.size; i++) step[i] = t * d[o + i];
        o += p.size;
        const delta = fromArray(step, p.shape, "float32", { backend: p.backend.name });
        const next = p.add(delta);
        p.assign(next);
        next.dispose();
        delta.dispose();
      }
    });
  }

  override dispose(): void {
    super.dispose();
    this.memory.dirs = [];
    this.memory.steps = [];
  }
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const axpy = (y: Float64Array, x: Float64Array, a: number): void => {
  for (let i = 0; i < y.length; i++) y[i] += a * x[i];
};
const maxAbs = (a: Float64Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const sumAbs = (a: Float64Array): number => a.reduce((s, v) => s + Math.abs(v), 0);
