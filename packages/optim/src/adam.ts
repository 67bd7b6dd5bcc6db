import { checkOptionKeys, dynamicScalar, type Tensor } from "@minibatch/tensor";
import {
  defined,
  nonNegative,
  Optimizer,
  optionChecker,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer";

export interface AdamOptions {
  lr: number;
  /** Decay rates of the first and second moment averages. */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability. */
  eps: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay, p *= 1 - lr·weightDecay. */
  weightDecay: number;
  /** Divide by the largest second moment seen so far (AMSGrad). */
  amsgrad: boolean;
  maximize: boolean;
}

/**
 * Adam (PyTorch `torch.optim.Adam`): m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
 * p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps), with v replaced by its running maximum
 * under AMSGrad and weight decay added to g.
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, ADAM_DEFAULTS, options);
  }

  protected validate(o: AdamOptions, where: string): void {
    const expect = optionChecker(this.constructor.name, where);
    expect(nonNegative(o.lr), "lr", o.lr, "a number >= 0");
    expect(nonNegative(o.eps), "eps", o.eps, "a number >= 0");
    checkBetas(expect, o.betas);
    expect(nonNegative(o.weightDecay), "weightDecay", o.weightDecay, "a number >= 0");
    expect(typeof o.amsgrad === "boolean", "amsgrad", o.amsgrad, "a boolean");
    expect(typeof o.maximize === "boolean", "maximize", o.maximize, "a boolean");
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdamOptions>, state: ParamState): void {
    const {
      lr,
      betas: [beta1, beta2],
      eps,
      weightDecay,
      amsgrad,
      maximize,
    } = group;
    this.nextStep(state);
    const { g, param } = this.direction(p, grad, { lr, weightDecay, maximize }, this.isDecoupled());
    const m = this.ema(state, "expAvg", p, beta1, g);
    let v = this.ema(state, "expAvgSq", p, beta2, g.mul(g));
    if (amsgrad) {
      const prevMax = state.maxExpAvgSq as Tensor | undefined;
      v = this.setState(state, "maxExpAvgSq", prevMax ? prevMax.maximum(v) : v.clone());
    }
    // The bias corrections change every step: dynamic scalars, so a compiled step computes them
    // again from the step count on every replay instead of baking in the first one.
    const count = () => state.step as number;
    const stepSize = dynamicScalar(() => lr / (1 - beta1 ** count()), { backend: p.backend.name });
    const bc2 = dynamicScalar(() => Math.sqrt(1 - beta2 ** count()), { backend: p.backend.name });
    const denom = v.sqrt().div(bc2).add(eps);
    p.assign(param.sub(m.div(denom).mul(stepSize)));
  }

  /** Whether weight decay scales the parameter directly (AdamW) instead of entering the gradient. */
  protected isDecoupled(): boolean {
    return false;
  }
}

/**
 * AdamW (PyTorch `torch.optim.AdamW`): Adam whose weight decay is decoupled from the gradient,
 * p *= 1 - lr·weightDecay before the Adam step; weightDecay defaults to 1e-2.
 */
export class AdamW extends Adam {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    // Checked here too: the merge below must not turn a bad options value into a TypeError.
    checkOptionKeys("AdamW", options, Object.keys(ADAM_DEFAULTS));
    super(params, { weightDecay: 1e-2, ...defined(options) });
  }

  protected override isDecoupled(): boolean {
    return true;
  }
}

const ADAM_DEFAULTS: AdamOptions = {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0,
  amsgrad: false,
  maximize: false,
};

/** Checks Adam-style `betas`: two numbers in [0, 1). */
export function checkBetas(expect: ReturnType<typeof optionChecker>, b: readonly [number, number]): void {
  expect(Array.isArray(b) && b.length === 2, "betas", b, "two numbers");
  const inUnit = (v: unknown) => typeof v === "number" && v >= 0 && v < 1;
  expect(inUnit(b[0]), "betas[0]", b[0], "a number in [0, 1)");
  expect(inUnit(b[1]), "betas[1]", b[1], "a number in [0, 1)");
}
