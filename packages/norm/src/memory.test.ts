import { memory, noGrad, tensor, tidy } from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import {
  BatchNorm1d,
  BatchRenorm,
  GhostBatchNorm,
  GroupNorm,
  InstanceNorm1d,
  KerasBatchNormalization,
  LayerNorm,
  MinMaxScaler,
  RMSNorm,
  StandardScaler,
} from "./index";
import { randomValues } from "./test-helpers";

describeBackends("memory", () => {
  it("training steps inside tidy and eval under noGrad leave no tensors behind", async () => {
    const modules = [
      new BatchNorm1d(3, { momentum: null }),
      new BatchRenorm(3),
      new GhostBatchNorm(3, { virtualBatchSize: 2 }),
      new GroupNorm(3, 3),
      new InstanceNorm1d(3, { trackRunningStats: true, affine: true }),
      new KerasBatchNormalization(2),
      new LayerNorm(2),
      new RMSNorm(2),
    ];
    const x = tensor(randomValues(24, 1), [4, 3, 2]);
    const before = memory().tensors;
    for (const m of modules) {
      tidy(() => {
        m.call(x).sum().backward();
      });
      m.zeroGrad();
      m.eval();
      noGrad(() => m.call(x).dispose());
    }
    const scalers = [new StandardScaler({ axis: [0, 2] }), new MinMaxScaler({ axis: [0, 2], clip: true })];
    for (const s of scalers) {
      await s.fit(x);
      const y = s.transform(x);
      s.inverseTransform(y).dispose();
      y.dispose();
    }
    expect(memory().tensors).toBe(before);
  });
});
