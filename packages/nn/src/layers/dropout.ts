import { checkOptionKeys, defaultGenerator, fromDraw, type Generator, type Tensor } from "@minibatch/tensor";
import { Module } from "../module";

export interface DropoutOptions {
  /** Draws the masks; the default generator when omitted. */
  generator?: Generator;
}

/**
 * Zeroes each element with probability p in training and scales the rest by 1 / (1 - p), so the
 * expected value is unchanged (PyTorch `nn.Dropout`); the identity in eval mode.
 */
export class Dropout extends Module {
  private readonly generator?: Generator;

  constructor(
    readonly p = 0.5,
    opts: DropoutOptions = {},
  ) {
    super();
    checkOptionKeys("Dropout", opts, ["generator"]);
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be between 0 and 1, got ${p}`);
    this.generator = opts.generator;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, { generator: this.generator });
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * Functional dropout (always applies; the module checks `training`). The mask is drawn on the host
 * from the generator, so a seed gives the same mask on every backend.
 */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  checkOptionKeys("dropout", opts, ["generator"]);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be between 0 and 1, got ${p}`);
  if (x.dtype !== "float32") throw new Error(`dropout: expected a float32 input, got ${x.dtype}`);
  const g = opts.generator ?? defaultGenerator;
  const scale = p === 1 ? 0 : 1 / (1 - p);
  // Drawn again on every replay of a compiled step (fromDraw), as on every eager call.
  const m = fromDraw(
    () => {
      const mask = new Float32Array(x.size);
      for (let i = 0; i < mask.length; i++) mask[i] = g.random() < p ? 0 : scale;
      return mask;
    },
    x.shape,
    { backend: x.backend.name },
  );
  return x.mul(m);
}
