import type { Tensor } from "@minibatch/tensor";
import { Module } from "../module";

/** Flattens dims startDim..endDim into one (PyTorch `nn.Flatten`, default startDim 1 keeps the batch). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/** Returns its input unchanged (a placeholder, e.g. to switch a layer off). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
