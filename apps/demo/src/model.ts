import { Conv2d, init, Linear, Module, ModuleList, Sequential, Sigmoid } from "@minibatch/nn";
import { BatchNorm1d, BatchNorm2d, BatchRenorm, GhostBatchNorm, GroupNorm, LayerNorm } from "@minibatch/norm";
import { Generator, type Tensor } from "@minibatch/tensor";
import type { ModelKind, NormKind } from "./config";

/** A classifier that can also hand back the input of its last hidden sigmoid layer (Figure 1b, c). */
export interface ProbedModel extends Module {
  /**
   * Logits [N, 10], the last hidden layer's sigmoid inputs [N, units] (`probe`) and the same
   * layer's inputs to its normalization (`preNorm`, equal to `probe` without one).
   */
  forwardWithProbe(x: Tensor): { logits: Tensor; probe: Tensor; preNorm: Tensor };
  /** The last hidden layer's normalization (whose gamma and beta the report follows), or null. */
  readonly probeNorm: Module | null;
}

export interface ModelOptions {
  model: ModelKind;
  norm: NormKind;
  seed: number;
  /** Standard deviation of the Gaussian initial weights. */
  initStd: number;
  /** The batch size, which Ghost BN needs to choose its virtual batch. */
  batchSize: number;
}

/**
 * Ghost BN's virtual batch: the largest divisor of the batch up to a third of it (20 at batch 60),
 * so each ghost batch is small but still has several samples.
 */
export function virtualBatchSize(batchSize: number): number {
  for (let d = Math.max(2, Math.floor(batchSize / 3)); d >= 2; d--) if (batchSize % d === 0) return d;
  return batchSize;
}

/**
 * The normalization placed between a layer and its sigmoid, over `channels` features (or
 * channels of a [N, C, H, W] map when `spatial` is given). Null for "none".
 */
export function makeNorm(
  kind: NormKind,
  channels: number,
  batchSize: number,
  spatial?: [number, number],
): Module | null {
  switch (kind) {
    case "none":
      return null;
    case "batch":
      return spatial ? new BatchNorm2d(channels) : new BatchNorm1d(channels);
    case "layer":
      return new LayerNorm(spatial ? [channels, ...spatial] : [channels]);
    case "group":
      // Groups of 4 to 10 channels: 100 features -> 10 groups, 8 channels -> 2 groups.
      return new GroupNorm(
        channels % 10 === 0 && channels >= 20 ? channels / 10 : Math.max(1, channels / 4),
        channels,
      );
    case "renorm":
      return new BatchRenorm(channels);
    case "ghost":
      return new GhostBatchNorm(channels, { virtualBatchSize: virtualBatchSize(batchSize) });
  }
}

/** The paper's initialization: weights from N(0, initStd^2), biases zero, from one seeded generator. */
function initLayer(layer: Linear | Conv2d, std: number, g: Generator): void {
  init.normal_(layer.weight, 0, std, { generator: g });
  if (layer.bias) init.zeros_(layer.bias);
}

/**
 * Whether a layer followed by this norm needs its own bias. Batch-statistics norms subtract the
 * per-feature mean, which cancels any bias, so the paper drops it (section 3.2: "the bias b can
 * be ignored"); BN's beta takes its role. LayerNorm and GroupNorm normalize across features
 * instead, where a per-feature bias still matters.
 */
export function layerBias(norm: NormKind): boolean {
  return !(norm === "batch" || norm === "renorm" || norm === "ghost");
}

/**
 * Layers are constructed with a scratch generator (their default initialization is overwritten
 * right away), so the seeded weights do not depend on which layers have a bias.
 */
const scratch = () => new Generator(0);

/**
 * The paper's network: 784 inputs, three fully connected hidden layers of 100 sigmoid units,
 * 10 outputs; the normalization (if any) sits after each hidden linear layer, before its sigmoid.
 * Each hidden block is Sequential(Linear, Norm) so the sigmoid's input is easy to observe.
 */
export class MnistMlp extends Module implements ProbedModel {
  readonly blocks: ModuleList;
  readonly probeNorm: Module | null;
  /** The blocks' layers, kept apart so the forward pass can read the input of each normalization. */
  private readonly parts: { lin: Linear; norm: Module | null }[] = [];
  readonly act = new Sigmoid();
  readonly head: Linear;

  constructor(opts: Omit<ModelOptions, "model">) {
    super();
    // Weights are drawn in the same order whatever the norm (norm layers draw nothing), so two
    // models built with one seed start from identical weights.
    const g = new Generator(opts.seed);
    const sizes = [784, 100, 100, 100];
    const blocks: Module[] = [];
    for (let i = 0; i < 3; i++) {
      const lin = new Linear(sizes[i], sizes[i + 1], { bias: layerBias(opts.norm), generator: scratch() });
      initLayer(lin, opts.initStd, g);
      const norm = makeNorm(opts.norm, sizes[i + 1], opts.batchSize);
      blocks.push(norm ? new Sequential(lin, norm) : new Sequential(lin));
      this.parts.push({ lin, norm });
    }
    this.blocks = this.registerModule("blocks", new ModuleList(blocks));
    this.probeNorm = this.parts[2].norm;
    this.registerModule("act", this.act);
    this.head = this.registerModule("head", new Linear(100, 10, { generator: scratch() }));
    initLayer(this.head, opts.initStd, g);
  }

  forwardWithProbe(x: Tensor): { logits: Tensor; probe: Tensor; preNorm: Tensor } {
    let h = x.rank === 2 ? x : x.reshape([x.shape[0], 784]);
    let probe = h;
    let preNorm = h;
    for (const { lin, norm } of this.parts) {
      preNorm = lin.call(h);
      probe = norm ? norm.call(preNorm) : preNorm;
      h = this.act.call(probe);
    }
    return { logits: this.head.call(h), probe, preNorm };
  }

  forward(x: Tensor): Tensor {
    return this.forwardWithProbe(x).logits;
  }
}

/**
 * A small CNN in the same spirit (sigmoids, normalization before each): two 5x5 stride-2
 * convolutions (1 -> 8 -> 16 channels, 28 -> 14 -> 7 pixels) with BatchNorm2d, then a hidden layer
 * of 100 units with BatchNorm1d (the probed layer) and the 10-way output.
 */
export class MnistCnn extends Module implements ProbedModel {
  readonly convs: ModuleList;
  readonly hidden: Sequential;
  readonly probeNorm: Module | null;
  private readonly hiddenLin: Linear;
  readonly act = new Sigmoid();
  readonly head: Linear;

  constructor(opts: Omit<ModelOptions, "model">) {
    super();
    const g = new Generator(opts.seed);
    const convs: Module[] = [];
    const channels = [1, 8, 16];
    const sizes: [number, number][] = [
      [14, 14],
      [7, 7],
    ];
    for (let i = 0; i < 2; i++) {
      const conv = new Conv2d(channels[i], channels[i + 1], 5, {
        stride: 2,
        padding: 2,
        bias: layerBias(opts.norm),
        generator: scratch(),
      });
      initLayer(conv, opts.initStd, g);
      const norm = makeNorm(opts.norm, channels[i + 1], opts.batchSize, sizes[i]);
      convs.push(norm ? new Sequential(conv, norm) : new Sequential(conv));
    }
    this.convs = this.registerModule("convs", new ModuleList(convs));
    const lin = new Linear(16 * 7 * 7, 100, { bias: layerBias(opts.norm), generator: scratch() });
    initLayer(lin, opts.initStd, g);
    const norm = makeNorm(opts.norm, 100, opts.batchSize);
    this.hidden = this.registerModule("hidden", norm ? new Sequential(lin, norm) : new Sequential(lin));
    this.hiddenLin = lin;
    this.probeNorm = norm;
    this.registerModule("act", this.act);
    this.head = this.registerModule("head", new Linear(100, 10, { generator: scratch() }));
    initLayer(this.head, opts.initStd, g);
  }

  forwardWithProbe(x: Tensor): { logits: Tensor; probe: Tensor; preNorm: Tensor } {
    let h = x.reshape([x.shape[0], 1, 28, 28]);
    for (const block of this.convs) h = this.act.call(block.call(h));
    const preNorm = this.hiddenLin.call(h.reshape([h.shape[0], 16 * 7 * 7]));
    const probe = this.probeNorm ? this.probeNorm.call(preNorm) : preNorm;
    return { logits: this.head.call(this.act.call(probe)), probe, preNorm };
  }

  forward(x: Tensor): Tensor {
    return this.forwardWithProbe(x).logits;
  }
}

export function buildModel(opts: ModelOptions): ProbedModel {
  return opts.model === "cnn" ? new MnistCnn(opts) : new MnistMlp(opts);
}
