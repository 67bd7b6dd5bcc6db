import { type Tensor, zerosLike } from "@minibatch/tensor";
import {
  nonNegative,
  Optimizer,
  optionChecker,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer";

export interface RMSpropOptions {
  lr: number;
  /** Smoothing constant of the squared-gradient average. */
  alpha: number;
  eps: number;
  /** L2 penalty, added to the gradient. */
  weightDecay: number;
  momentum: number;
  /** Normalize by the estimated variance (mean of g² minus the squared mean of g). */
  centered: boolean;
  maximize: boolean;
}

/**
 * RMSprop (PyTorch `torch.optim.RMSprop`): v = α·v + (1-α)·g²; avg = sqrt(v - ḡ²) when centered
 * (ḡ = α·ḡ + (1-α)·g), else sqrt(v); plus eps. Then buf = momentum·buf + g/avg and p -= lr·buf,
 * or p -= lr·g/avg without momentum.
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super(
      params,
      {
        lr: 1e-2,
        alpha: 0.99,
        eps: 1e-8,
        weightDecay: 0,
        momentum: 0,
        centered: false,
        maximize: false,
      },
      options,
    );
  }

  protected validate(o: RMSpropOptions, where: string): void {
    const expect = optionChecker("RMSprop", where);
    expect(nonNegative(o.lr), "lr", o.lr, "a number >= 0");
    expect(nonNegative(o.alpha), "alpha", o.alpha, "a number >= 0");
    expect(nonNegative(o.eps), "eps", o.eps, "a number >= 0");
    expect(nonNegative(o.weightDecay), "weightDecay", o.weightDecay, "a number >= 0");
    expect(nonNegative(o.momentum), "momentum", o.momentum, "a number >= 0");
    expect(typeof o.centered === "boolean", "centered", o.centered, "a boolean");
    expect(typeof o.maximize === "boolean", "maximize", o.maximize, "a boolean");
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<RMSpropOptions>, state: ParamState): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    this.nextStep(state);
    const { g } = this.direction(p, grad, { lr, weightDecay, maximize });
    const v = this.ema(state, "squareAvg", p, alpha, g.mul(g));
    let avg: Tensor;
    if (centered) {
      const gAvg = this.ema(state, "gradAvg", p, alpha, g);
      avg = v.sub(gAvg.mul(gAvg)).sqrt().add(eps);
    } else {
      avg = v.sqrt().add(eps);
    }
    if (momentum > 0) {
      const buf0 = (state.momentumBuffer as Tensor | undefined) ?? zerosLike(p);
      const buf = this.setState(state, "momentumBuffer", buf0.mul(momentum).add(g.div(avg)));
      p.assign(p.sub(buf.mul(lr)));
    } else {
      p.assign(p.sub(g.div(avg).mul(lr)));
    }
  }
}
