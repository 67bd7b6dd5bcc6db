import type { Tensor } from "@minibatch/tensor";
import { checkBetas } from "./adam";
import {
  nonNegative,
  Optimizer,
  optionChecker,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer";

export interface NAdamOptions {
  /** Learning rate (PyTorch's default 2e-3). */
  lr: number;
  betas: readonly [number, number];
  eps: number;
  /** L2 penalty added to the gradient, or with `decoupledWeightDecay` p *= 1 - lr·weightDecay. */
  weightDecay: number;
  /** ψ of the momentum schedule μ_t = β1·(1 - 0.5·0.96^(t·ψ)); default 4e-3. */
  momentumDecay: number;
  /** Decay the weights directly, as AdamW does (NAdamW). */
  decoupledWeightDecay: boolean;
  maximize: boolean;
}

/**
 * NAdam, Adam with Nesterov momentum (PyTorch `torch.optim.NAdam`): with μ_t as above and
 * Πμ the product of μ_1..μ_t, p -= lr·(1-μ_t)/(1-Πμ) · g/d + lr·μ_{t+1}/(1-Πμ·μ_{t+1}) · m/d,
 * where d = sqrt(v/(1-β2^t)) + eps.
 */
export class NAdam extends Optimizer<NAdamOptions> {
  constructor(params: Params<NAdamOptions>, options: Partial<NAdamOptions> = {}) {
    super(
      params,
      {
        lr: 2e-3,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 0,
        momentumDecay: 4e-3,
        decoupledWeightDecay: false,
        maximize: false,
      },
      options,
    );
  }

  protected validate(o: NAdamOptions, where: string): void {
    const expect = optionChecker("NAdam", where);
    expect(nonNegative(o.lr), "lr", o.lr, "a number >= 0");
    expect(nonNegative(o.eps), "eps", o.eps, "a number >= 0");
    checkBetas(expect, o.betas);
    expect(nonNegative(o.weightDecay), "weightDecay", o.weightDecay, "a number >= 0");
    expect(nonNegative(o.momentumDecay), "momentumDecay", o.momentumDecay, "a number >= 0");
    expect(
      typeof o.decoupledWeightDecay === "boolean",
      "decoupledWeightDecay",
      o.decoupledWeightDecay,
      "a boolean",
    );
    expect(typeof o.maximize === "boolean", "maximize", o.maximize, "a boolean");
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<NAdamOptions>, state: ParamState): void {
    const {
      lr,
      betas: [beta1, beta2],
      eps,
      weightDecay,
      momentumDecay,
      decoupledWeightDecay,
      maximize,
    } = group;
    const step = this.nextStep(state);
    const { g, param } = this.direction(p, grad, { lr, weightDecay, maximize }, decoupledWeightDecay);
    const mu = beta1 * (1 - 0.5 * 0.96 ** (step * momentumDecay));
    const muNext = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * momentumDecay));
    const muProduct = ((state.muProduct as number | undefined) ?? 1) * mu;
    state.muProduct = muProduct;
    const m = this.ema(state, "expAvg", p, beta1, g);
    const v = this.ema(state, "expAvgSq", p, beta2, g.mul(g));
    const denom = v
      .div(1 - beta2 ** step)
      .sqrt()
      .add(eps);
    const gradPart = g.div(denom).mul((lr * (1 - mu)) / (1 - muProduct));
    const momPart = m.div(denom).mul((lr * muNext) / (1 - muProduct * muNext));
    p.assign(param.sub(gradPart).sub(momPart));
  }
}
