/**
 * Shared types and defaults of the demo, used by the CLI, the studies and the web page alike
 * (nothing here touches Node.js or the DOM).
 */

export const NORMS = ["none", "batch", "layer", "group", "renorm", "ghost"] as const;
export type NormKind = (typeof NORMS)[number];
export const MODELS = ["mlp", "cnn"] as const;
export type ModelKind = (typeof MODELS)[number];
export const BACKENDS = ["cpu", "webgpu"] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Run names as they appear in tables, charts and the JSON summary. */
export const RUN_NAMES: Record<NormKind, string> = {
  none: "baseline",
  batch: "bn",
  layer: "layernorm",
  group: "groupnorm",
  renorm: "renorm",
  ghost: "ghostbn",
};

/** Human labels for legends. */
export const RUN_LABELS: Record<NormKind, string> = {
  none: "Without BN (baseline)",
  batch: "With BN",
  layer: "LayerNorm",
  group: "GroupNorm",
  renorm: "Batch Renorm",
  ghost: "Ghost BN",
};

/**
 * The paper's settings (section 4.1): mini-batches of 60, plain SGD, weights from a small random
 * Gaussian. lr 0.5 and N(0, 0.1^2) were picked by trial on this network: with them one epoch
 * gives ~93 % with BN and ~89 % without, the gap the paper's Figure 1(a) shows early on.
 */
export const DEFAULTS = {
  model: "mlp" as ModelKind,
  norms: ["batch", "none"] as NormKind[],
  backend: "cpu" as BackendName,
  batchSize: 60,
  lr: 0.5,
  seed: 1,
  /** One epoch of the 60,000 training images at batch 60. */
  steps: 1000,
  evalEvery: 50,
  initStd: 0.1,
  /** The last-hidden-layer unit whose sigmoid input Figure 1(b, c) follows. */
  probeUnit: 0,
};

export interface RunConfig {
  name: string;
  label: string;
  model: ModelKind;
  norm: NormKind;
  backend: BackendName;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  evalEvery: number;
  initStd: number;
  probeUnit: number;
  /** Test images per forward pass of the training-mode evaluation (its batch statistics); default 1000. */
  trainModeChunk?: number;
  /** Stop early when the loss is not finite (a diverged run); the result says so. */
  stopOnDivergence?: boolean;
  /** Replay each step from a compiled program (`compile`); false runs it op by op. Default true. */
  compiled?: boolean;
}

/** One evaluation on the test set. */
export interface CurvePoint {
  step: number;
  /** Fraction in [0, 1]. */
  testAccuracy: number;
  /** Test accuracy in training mode: BN normalizes with the statistics of each chunk of test images. */
  trainModeAccuracy: number;
  /** Mean training loss over the steps since the previous point (NaN at step 0). */
  loss: number;
  /**
   * 15th, 50th and 85th percentiles of the probed sigmoid input over the test images, from the
   * network in training mode (batch statistics), as the paper's Figure 1(b, c).
   */
  p15: number;
  p50: number;
  p85: number;
  /** The probed unit's learned scale and shift (null without a normalization that has them). */
  gamma: number | null;
  beta: number | null;
  /** Mean and standard deviation of the probed unit's input to its normalization, over the test images. */
  preMean: number;
  preStd: number;
  /** Training seconds (evaluation excluded) spent up to this point. */
  trainSeconds: number;
}

export interface RunResult {
  name: string;
  label: string;
  model: ModelKind;
  norm: NormKind;
  backend: string;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  trainSamplesPerSec: number;
  trainSeconds: number;
  testAccuracy: number;
  /** Test images each evaluation used. */
  testImages: number;
  diverged: boolean;
  /** Most bytes live at once during a training step (`memory().peakBytes`), the model and data included. */
  peakTensorBytes: number;
  /** Most tensors alive at once during a step. */
  peakTensors: number;
  /** The last evaluation's training-mode accuracy. */
  trainModeAccuracy: number;
  curve: CurvePoint[];
}
