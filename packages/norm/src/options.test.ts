import "@minibatch/backend-cpu";
import { expect, it } from "vitest";
import {
  BatchNorm1d,
  BatchNorm2d,
  BatchRenorm,
  GhostBatchNorm,
  GroupNorm,
  InstanceNorm2d,
  KerasBatchNormalization,
  LayerNorm,
} from "./index";

// An option with a typo used to be ignored silently (the layer trained with the default).
it("every normalization layer rejects unknown options, with a hint for near misses", () => {
  expect(() => new BatchNorm1d(3, { track_running_stats: false } as never)).toThrow(
    "BatchNorm1d: unknown option 'track_running_stats' in the options; did you mean 'trackRunningStats'?",
  );
  expect(() => new BatchNorm2d(3, { epsilon: 1e-3 } as never)).toThrow(
    /BatchNorm2d: unknown option 'epsilon'/,
  );
  expect(() => new BatchRenorm(3, { convention: "keras" } as never)).toThrow(
    /BatchRenorm: unknown option 'convention'/,
  );
  expect(() => new GhostBatchNorm(3, { virtualBatchSize: 2, virtual_batch: 4 } as never)).toThrow(
    /GhostBatchNorm: unknown option 'virtual_batch'/,
  );
  expect(() => new LayerNorm(3, { elementwise_affine: false } as never)).toThrow(
    "LayerNorm: unknown option 'elementwise_affine' in the options; did you mean 'elementwiseAffine'?",
  );
  expect(() => new GroupNorm(1, 3, { momentum: 0.1 } as never)).toThrow(
    /GroupNorm: unknown option 'momentum'/,
  );
  expect(() => new InstanceNorm2d(3, { Affine: true } as never)).toThrow(
    "InstanceNorm2d: unknown option 'Affine' in the options; did you mean 'affine'?",
  );
  expect(() => new KerasBatchNormalization(3, { eps: 1e-3 } as never)).toThrow(
    /KerasBatchNormalization: unknown option 'eps' in the options.*\(known: axis, momentum, epsilon, center, scale\)/,
  );
  // Known options still work.
  expect(new BatchRenorm(2, { rmax: 2, dmax: 1, momentum: null }).rmax).toBe(2);
  expect(new GhostBatchNorm(2, { virtualBatchSize: 2, eps: 1e-3 }).eps).toBe(1e-3);
});
