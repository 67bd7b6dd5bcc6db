import type { Tensor } from "@minibatch/tensor";
import {
  nonNegative,
  Optimizer,
  optionChecker,
  type ParamGroup,
  type ParamState,
  type Params,
} from "./optimizer";

export interface SGDOptions {
  /** Learning rate (PyTorch's default 1e-3). */
  lr: number;
  momentum: number;
  dampening: number;
  /** L2 penalty, added to the gradient. */
  weightDecay: number;
  nesterov: boolean;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

/**
 * Stochastic gradient descent with optional momentum (PyTorch `torch.optim.SGD`):
 * g = ±grad + wd·p; buf = g on the first step, then buf = momentum·buf + (1 - dampening)·g;
 * the step is g + momentum·buf with Nesterov, else buf; p -= lr·step.
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(
      params,
      {
        lr: 1e-3,
        momentum: 0,
        dampening: 0,
        weightDecay: 0,
        nesterov: false,
        maximize: false,
      },
      options,
    );
  }

  protected validate(o: SGDOptions, where: string): void {
    const expect = optionChecker("SGD", where);
    expect(nonNegative(o.lr), "lr", o.lr, "a number >= 0");
    expect(nonNegative(o.momentum), "momentum", o.momentum, "a number >= 0");
    expect(
      typeof o.dampening === "number" && Number.isFinite(o.dampening),
      "dampening",
      o.dampening,
      "a number",
    );
    expect(nonNegative(o.weightDecay), "weightDecay", o.weightDecay, "a number >= 0");
    expect(typeof o.nesterov === "boolean", "nesterov", o.nesterov, "a boolean");
    expect(typeof o.maximize === "boolean", "maximize", o.maximize, "a boolean");
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new Error(
        `SGD: nesterov momentum requires momentum > 0 and dampening = 0, got momentum = ${o.momentum} and dampening = ${o.dampening} in ${where}`,
      );
    }
  }

  protected updateParam(p: Tensor, grad: Tensor, group: ParamGroup<SGDOptions>, state: ParamState): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    let { g } = this.direction(p, grad, { lr, weightDecay, maximize });
    if (momentum !== 0) {
      const prev = state.momentumBuffer;
      // PyTorch starts the buffer at the first gradient itself, without dampening.
      const buf = this.setState(
        state,
        "momentumBuffer",
        prev ? (prev as Tensor).mul(momentum).add(g.mul(1 - dampening)) : g.clone(),
      );
      g = nesterov ? g.add(buf.mul(momentum)) : buf;
    }
    p.assign(p.sub(g.mul(lr)));
  }
}
