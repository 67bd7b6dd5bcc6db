import { suggest, tensor } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { makeParams } from "../test/harness";
import { Adagrad } from "./adagrad";
import { Adam, AdamW } from "./adam";
import { Adamax } from "./adamax";
import { ConstantLR, CosineAnnealingWarmRestarts, MultiStepLR, PolynomialLR } from "./decay-schedulers";
import { NAdam } from "./nadam";
import { ReduceLROnPlateau } from "./plateau";
import { RAdam } from "./radam";
import { RMSprop } from "./rmsprop";
import { LinearLR, OneCycleLR, StepLR } from "./schedulers";
import { SGD } from "./sgd";

describe("unknown options are errors with a hint", () => {
  it("SGD suggests weightDecay for weight_decay", () => {
    expect(() => new SGD(makeParams(), { lr: 0.1, weight_decay: 0.5 } as any)).toThrow(
      "SGD: unknown option 'weight_decay' in the options; did you mean 'weightDecay'? (known: lr, momentum, dampening, weightDecay, nesterov, maximize)",
    );
  });

  it("Adam suggests lr for learningRate, AdamW too", () => {
    expect(() => new Adam(makeParams(), { learningRate: 0.1 } as any)).toThrow(
      /Adam: unknown option 'learningRate' in the options; did you mean 'lr'\?/,
    );
    expect(() => new AdamW(makeParams(), { learning_rate: 0.1 } as any)).toThrow(
      /AdamW: unknown option 'learning_rate'.*did you mean 'lr'/,
    );
  });

  it("every optimizer checks its options and each parameter group's", () => {
    const cases: [string, () => unknown, RegExp][] = [
      ["RMSprop", () => new RMSprop(makeParams(), { momentun: 0.9 } as any), /did you mean 'momentum'/],
      ["Adagrad", () => new Adagrad(makeParams(), { lr_decay: 0.1 } as any), /did you mean 'lrDecay'/],
      ["Adamax", () => new Adamax(makeParams(), { beta1: 0.9 } as any), /did you mean 'betas'/],
      ["NAdam", () => new NAdam(makeParams(), { momentum_decay: 0 } as any), /did you mean 'momentumDecay'/],
      ["RAdam", () => new RAdam(makeParams(), { decoupled: true } as any), /unknown option 'decoupled'/],
      ["Adam amsGrad", () => new Adam(makeParams(), { amsGrad: true } as any), /did you mean 'amsgrad'/],
    ];
    for (const [name, make, msg] of cases) expect(make, name).toThrow(msg);
    const [a, b] = makeParams();
    expect(() => new SGD([{ params: [a] }, { params: [b], moment: 0.9 } as any])).toThrow(
      "SGD: unknown option 'moment' in parameter group 1; did you mean 'momentum'?",
    );
    const opt = new SGD([a]);
    expect(() => opt.addParamGroup({ params: [b], nestrov: true } as any)).toThrow(/did you mean 'nesterov'/);
    expect(() => new SGD([tensor([1], { requiresGrad: true })], { zzz: 1 } as any)).toThrow(
      /unknown option 'zzz' in the options \(known:/,
    );
  });

  it("schedulers check their option objects", () => {
    const opt = () => new SGD(makeParams(), { lr: 0.1, momentum: 0.9 });
    expect(() => new LinearLR(opt(), { start_factor: 0.1 } as any)).toThrow(
      /LinearLR: unknown option 'start_factor'.*did you mean 'startFactor'/,
    );
    expect(() => new OneCycleLR(opt(), 0.1, 10, { pct_start: 0.1 } as any)).toThrow(/'pctStart'/);
    expect(() => new StepLR(opt(), 2, 0.1, { last_epoch: 0 } as any)).toThrow(/'lastEpoch'/);
    expect(() => new MultiStepLR(opt(), [2], { gama: 0.5 } as any)).toThrow(/'gamma'/);
    expect(() => new ConstantLR(opt(), { total_iters: 2 } as any)).toThrow(/'totalIters'/);
    expect(() => new PolynomialLR(opt(), { pow: 2 } as any)).toThrow(/'power'/);
    expect(() => new CosineAnnealingWarmRestarts(opt(), 2, { T_mult: 2 } as any)).toThrow(/'tMult'/);
    expect(() => new ReduceLROnPlateau(opt(), { min_lr: 0 } as any)).toThrow(/'minLr'/);
  });

  it("suggests nothing for a key that resembles no option", () => {
    expect(suggest("banana", ["lr", "momentum"])).toBeUndefined();
    expect(suggest("weightdecay", ["weightDecay"])).toBe("weightDecay");
  });
});

describe("scheduler argument checks", () => {
  it("resuming needs initialLr in every group, as in PyTorch", () => {
    const opt = new SGD(makeParams(), { lr: 0.1 });
    expect(() => new StepLR(opt, 2, 0.5, { lastEpoch: 3 })).toThrow(
      /StepLR: lastEpoch = 3 resumes a schedule, but parameter group 0 has no initialLr/,
    );
    expect(() => new StepLR(opt, 2, 0.5, { lastEpoch: -2 })).toThrow(/invalid lastEpoch = -2/);
  });

  it("rejects bad values", () => {
    const opt = () => new SGD(makeParams(), { lr: 0.1 });
    expect(() => new MultiStepLR(opt(), [1, -2])).toThrow(/invalid milestones\[1\] = -2/);
    expect(() => new ConstantLR(opt(), { factor: 2 })).toThrow(/invalid factor = 2/);
    expect(() => new CosineAnnealingWarmRestarts(opt(), 0)).toThrow(/invalid t0 = 0/);
    expect(() => new ReduceLROnPlateau(opt(), { factor: 1 })).toThrow(/invalid factor = 1/);
    expect(() => new ReduceLROnPlateau(opt(), { mode: "up" as any })).toThrow(/invalid mode = up/);
    expect(() => new ReduceLROnPlateau(opt(), { minLr: [0, 0, 0] })).toThrow(
      /expected one value per parameter group \(1\)/,
    );
    expect(() => new ReduceLROnPlateau(opt()).step()).toThrow(/expected the epoch's metric/);
  });
});
