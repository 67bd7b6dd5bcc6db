import { fullLike, type Tensor } from "@minibatch/tensor";
import {
  nonNegative,
  Optimizer,
  optionChecker,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer";

export interface AdagradOptions {
  /** Learning rate (PyTorch's default 1e-2). */
  lr: number;
  /** The rate at step t is lr / (1 + (t - 1)·lrDecay). */
  lrDecay: number;
  /** L2 penalty, added to the gradient. */
  weightDecay: number;
  /** Starting value of the sum of squared gradients. */
  initialAccumulatorValue: number;
  /** Added to the denominator; PyTorch's default 1e-10. */
  eps: number;
  maximize: boolean;
}

/**
 * Adagrad (PyTorch `torch.optim.Adagrad`): g = ±grad + wd·p; sum += g²;
 * p -= lr/(1 + (t-1)·lrDecay) · g / (sqrt(sum) + eps).
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super(
      params,
      { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false },
      options,
    );
  }

  protected validate(o: AdagradOptions, where: string): void {
    const expect = optionChecker("Adagrad", where);
    expect(nonNegative(o.lr), "lr", o.lr, "a number >= 0");
    expect(nonNegative(o.lrDecay), "lrDecay", o.lrDecay, "a number >= 0");
    expect(nonNegative(o.weightDecay), "weightDecay", o.weightDecay, "a number >= 0");
    expect(
      nonNegative(o.initialAccumulatorValue),
      "initialAccumulatorValue",
      o.initialAccumulatorValue,
      "a number >= 0",
    );
    expect(nonNegative(o.eps), "eps", o.eps, "a number >= 0");
    expect(typeof o.maximize === "boolean", "maximize", o.maximize, "a boolean");
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<AdagradOptions>, state: ParamState): void {
    const { lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize } = group;
    const step = this.nextStep(state);
    const { g } = this.direction(p, grad, { lr, weightDecay, maximize });
    const clr = lr / (1 + (step - 1) * lrDecay);
    const sum0 = (state.sum as Tensor | undefined) ?? fullLike(p, initialAccumulatorValue);
    const sum = this.setState(state, "sum", sum0.add(g.mul(g)));
    p.assign(p.sub(g.div(sum.sqrt().add(eps)).mul(clr)));
  }
}
