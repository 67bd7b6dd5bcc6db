import type { Tensor } from "@minibatch/tensor";
import { checkOptionKeys } from "@minibatch/tensor";
import { Module } from "../module";

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** max(0, x) + negativeSlope * min(0, x) (PyTorch `nn.LeakyReLU`, slope 0.01). */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.relu().add(x.neg().relu().mul(-this.negativeSlope));
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/**
 * x * Phi(x) (PyTorch `nn.GELU`): the exact erf form by default, or the tanh approximation with
 * `approximate: 'tanh'`.
 */
export class GELU extends Module {
  readonly approximate: "none" | "tanh";
  constructor(opts: { approximate?: "none" | "tanh" } = {}) {
    super();
    checkOptionKeys("GELU", opts, ["approximate"]);
    this.approximate = opts.approximate ?? "none";
    if (this.approximate !== "none" && this.approximate !== "tanh") {
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${this.approximate}'`);
    }
  }
  forward(x: Tensor): Tensor {
    if (this.approximate === "none") return x.gelu();
    const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(inner.tanh().add(1)).mul(0.5);
  }
  override extraRepr(): string {
    return this.approximate === "none" ? "" : `approximate='tanh'`;
  }
}

/**
 * Softmax along `dim`, by default the last axis. (PyTorch infers a dim with a deprecation warning
 * when none is given: 1 for 2-d and 4-d inputs, 0 for 0-, 1- and 3-d; pass `dim` to be explicit.)
 */
export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.softmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export class LogSoftmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.logSoftmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
