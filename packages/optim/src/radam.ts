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

export interface RAdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  /** L2 penalty added to the gradient, or with `decoupledWeightDecay` p *= 1 - lr·weightDecay. */
  weightDecay: number;
  decoupledWeightDecay: boolean;
  maximize: boolean;
}

/**
 * RAdam, rectified Adam (PyTorch `torch.optim.RAdam`): while the variance estimate is unreliable
 * (ρ_t <= 5, the first few steps) it steps by lr·m̂ like SGD with momentum; afterwards by
 * lr·m̂·r_t·sqrt(1-β2^t)/(sqrt(v) + eps), with ρ_∞ = 2/(1-β2) - 1, ρ_t = ρ_∞ - 2tβ2^t/(1-β2^t),
 * r_t = sqrt((ρ_t-4)(ρ_t-2)ρ_∞ / ((ρ_∞-4)(ρ_∞-2)ρ_t)).
 */
export class RAdam extends Optimizer<RAdamOptions> {
  constructor(params: Params<RAdamOptions>, options: Partial<RAdamOptions> = {}) {
    super(
      params,
      {
        lr: 1e-3,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 0,
        decoupledWeightDecay: false,
        maximize: false,
      },
      options,
    );
  }

  protected validate(o: RAdamOptions, where: string): void {
    const expect = optionChecker("RAdam", where);
    expect(nonNegative(o.lr), "lr", o.lr, "a number >= 0");
    expect(nonNegative(o.eps), "eps", o.eps, "a number >= 0");
    checkBetas(expect, o.betas);
    expect(nonNegative(o.weightDecay), "weightDecay", o.weightDecay, "a number >= 0");
    expect(
      typeof o.decoupledWeightDecay === "boolean",
      "decoupledWeightDecay",
      o.decoupledWeightDecay,
      "a boolean",
    );
    expect(typeof o.maximize === "boolean", "maximize", o.maximize, "a boolean");
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<RAdamOptions>, state: ParamState): void {
    const {
      lr,
      betas: [beta1, beta2],
      eps,
      weightDecay,
      decoupledWeightDecay,
      maximize,
    } = group;
    const step = this.nextStep(state);
    const { g, param } = this.direction(p, grad, { lr, weightDecay, maximize }, decoupledWeightDecay);
    const m = this.ema(state, "expAvg", p, beta1, g);
    const v = this.ema(state, "expAvgSq", p, beta2, g.mul(g));
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const rhoInf = 2 / (1 - beta2) - 1;
    const rhoT = rhoInf - (2 * step * beta2 ** step) / bc2;
    if (rhoT > 5) {
      const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
      const update = m.div(v.sqrt().add(eps)).mul((lr * rect * Math.sqrt(bc2)) / bc1);
      p.assign(param.sub(update));
    } else {
      p.assign(param.sub(m.mul(lr / bc1)));
    }
  }
}
