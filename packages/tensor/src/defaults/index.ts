import type { FusedOp, OpAttrs } from "../backend";
import type { DType } from "../dtype";
import type { Shape } from "../shape";
import type { Tensor } from "../tensor";
import { batchNormGradDefault, batchNormTrainDefault } from "./batchnorm";
import { conv2dGradFilterDefault, conv2dGradInputDefault } from "./conv";
import { avgPool2dGradDefault, maxPool2dGradDefault } from "./pool";
import { argsortDefault, cumsumDefault } from "./scan";

type OutSpec = { shape: Shape; dtype: DType };

/**
 * The default of every fused kernel, composed from primitives with front-end ops. Exhaustive: a
 * new optional kernel needs a default here, so that a backend with primitives only still runs it.
 */
export const FUSED_DEFAULTS: {
  [K in FusedOp]: (inputs: readonly Tensor[], attrs: OpAttrs[K], outputs: readonly OutSpec[]) => Tensor[];
} = {
  conv2dGradInput: (i, a, o) => [conv2dGradInputDefault(i, a, o[0].shape)],
  conv2dGradFilter: (i, a, o) => [conv2dGradFilterDefault(i, a, o[0].shape)],
  maxPool2dGrad: (i, a) => [maxPool2dGradDefault(i, a)],
  avgPool2dGrad: (i, a, o) => [avgPool2dGradDefault(i, a, o[0].shape)],
  batchNormTrain: batchNormTrainDefault,
  batchNormGrad: batchNormGradDefault,
  argsort: argsortDefault,
  cumsum: cumsumDefault,
};
