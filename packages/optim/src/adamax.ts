import { dynamicScalar, type Tensor, zerosLike } from "@minibatch/tensor";
import { checkBetas } from "./adam";
import {
  nonNegative,
  Optimizer,
  optionChecker,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer";

export interface AdamaxOptions {
  /** Learning rate (PyTorch's default 2e-3). */
  lr: number;
  betas: readonly [number, number];
  eps: number;
  /** L2 penalty, added to the gradient. */
  weightDecay: number;
  maximize: boolean;
}

/**
 * Adamax, Adam with the infinity norm (PyTorch `torch.optim.Adamax`): m = β1·m + (1-β1)·g,
 * u = max(β2·u, |g| + eps), p -= lr/(1-β1^t) · m/u.
 */
export class Adamax extends Optimizer<AdamaxOptions> {
  constructor(params: Params<AdamaxOptions>, options: Partial<AdamaxOptions> = {}) {
    super(params, { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false }, options);
  }

  protected validate(o: AdamaxOptions, where: string): void {
    const expect = optionChecker("Adamax", where);
    expect(nonNegative(o.lr), "lr", o.lr, "a number >= 0");
    expect(nonNegative(o.eps), "eps", o.eps, "a number >= 0");
    checkBetas(expect, o.betas);
    expect(nonNegative(o.weightDecay), "weightDecay", o.weightDecay, "a number >= 0");
    expect(typeof o.maximize === "boolean", "maximize", o.maximize, "a boolean");
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdamaxOptions>, state: ParamState): void {
    const {
      lr,
      betas: [beta1, beta2],
      eps,
      weightDecay,
      maximize,
    } = group;
    this.nextStep(state);
    const { g } = this.direction(p, grad, { lr, weightDecay, maximize });
    const m = this.ema(state, "expAvg", p, beta1, g);
    const u0 = (state.expInf as Tensor | undefined) ?? zerosLike(p);
    const u = this.setState(state, "expInf", u0.mul(beta2).maximum(g.abs().add(eps)));
    // Recomputed from the step count on every replay of a compiled step (see Adam).
    const rate = dynamicScalar(() => lr / (1 - beta1 ** (state.step as number)), { backend: p.backend.name });
    p.assign(p.sub(m.div(u).mul(rate)));
  }
}
