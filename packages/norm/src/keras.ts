import { Module } from "@minibatch/nn";
import { checkOptionKeys, full, normalizeAxis, type Tensor, zeros } from "@minibatch/tensor";
import { blendRunning, finishTrain, fusedTrain, normalizeWith } from "./functional";
import { checkChannels, checkEps, checkPositiveInt } from "./util";

const KERAS_KEYS = ["axis", "momentum", "epsilon", "center", "scale"] as const;

export interface KerasBatchNormalizationOptions {
  /** The feature (channel) axis; default -1 (channels last), as Keras. */
  axis?: number;
  /** Fraction of the moving statistics kept per step (default 0.99). */
  momentum?: number;
  /** Added to the variance (default 1e-3). */
  epsilon?: number;
  /** Learn beta (default true). */
  center?: boolean;
  /** Learn gamma (default true). */
  scale?: boolean;
}

/**
 * Keras / TF.js `BatchNormalization` for ported models: channels last by default, weights named
 * gamma, beta, movingMean, movingVariance (Keras' order), moving = momentum * moving +
 * (1 - momentum) * batch with the biased batch variance. Training mode is `module.training`
 * (Keras' `training` call argument). The number of features is given up front (no lazy build).
 */
export class KerasBatchNormalization extends Module {
  readonly numFeatures: number;
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: Tensor | null;
  beta: Tensor | null;
  movingMean: Tensor;
  movingVariance: Tensor;

  constructor(numFeatures: number, opts: KerasBatchNormalizationOptions = {}) {
    checkOptionKeys("KerasBatchNormalization", opts, KERAS_KEYS);
    super();
    checkPositiveInt("KerasBatchNormalization", "numFeatures", numFeatures);
    this.numFeatures = numFeatures;
    this.axis = opts.axis ?? -1;
    this.momentum = opts.momentum ?? 0.99;
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw new Error(`KerasBatchNormalization: momentum must be in [0, 1], got ${this.momentum}`);
    }
    this.epsilon = opts.epsilon ?? 1e-3;
    checkEps("KerasBatchNormalization", this.epsilon);
    const c = numFeatures;
    this.gamma = this.registerParameter("gamma", (opts.scale ?? true) ? full([c], 1) : null);
    this.beta = this.registerParameter("beta", (opts.center ?? true) ? zeros([c]) : null);
    this.movingMean = this.registerBuffer("movingMean", zeros([c]));
    this.movingVariance = this.registerBuffer("movingVariance", full([c], 1));
  }

  forward(x: Tensor): Tensor {
    const name = "KerasBatchNormalization";
    if (x.rank < 2) throw new Error(`${name}: expected input of rank >= 2, got ${x.rank}D input`);
    const axis = normalizeAxis(this.axis, x.rank, name);
    checkChannels(name, x, axis, this.numFeatures);
    if (!this.training) {
      return normalizeWith(
        x,
        this.movingMean,
        this.movingVariance,
        this.gamma,
        this.beta,
        this.epsilon,
        axis,
      );
    }
    const st = fusedTrain(x, this.gamma, this.beta, this.epsilon, axis, name);
    const m = this.momentum;
    blendRunning(this.movingMean, this.movingVariance, st.mean, st.varUnbiased, m, 1 - m, (st.n - 1) / st.n);
    return finishTrain(st);
  }

  override extraRepr(): string {
    return `${this.numFeatures}, axis=${this.axis}, momentum=${this.momentum}, epsilon=${this.epsilon}`;
  }
}
