import { describeBackends, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { checkAgainstReference, makeParams } from "../test/harness";
import { adamRef } from "../test/reference";
import { Adam, type AdamOptions, AdamW } from "./adam";

type Variant = [string, Partial<AdamOptions> & { lr: number; betas?: [number, number] }];

const adamVariants: Variant[] = [
  ["plain", { lr: 0.01 }],
  ["custom betas and eps", { lr: 0.05, betas: [0.8, 0.9], eps: 1e-3 }],
  ["weight decay (L2)", { lr: 0.01, weightDecay: 0.1 }],
  ["amsgrad", { lr: 0.02, amsgrad: true, betas: [0.5, 0.6] }],
  ["maximize + amsgrad + weight decay", { lr: 0.01, maximize: true, amsgrad: true, weightDecay: 0.2 }],
];

const adamWVariants: Variant[] = [
  ["default weight decay", { lr: 0.01 }],
  ["strong decay + amsgrad", { lr: 0.05, weightDecay: 0.5, amsgrad: true, betas: [0.5, 0.6] }],
];

describeBackends("Adam", (backend) => {
  for (const [name, opts] of adamVariants) {
    it(`matches the float64 reference: ${name}`, async () => {
      await checkAgainstReference(
        (ps) => new Adam(ps, opts),
        () => adamRef(opts),
        tolerance(backend),
        5,
      );
    });
  }
});

describeBackends("AdamW", (backend) => {
  for (const [name, opts] of adamWVariants) {
    it(`matches the float64 reference: ${name}`, async () => {
      const ref = () => adamRef({ weightDecay: 0.01, ...opts, decoupled: true });
      await checkAgainstReference((ps) => new AdamW(ps, opts), ref, tolerance(backend), 5);
    });
  }
});

it("Adam and AdamW defaults follow PyTorch", () => {
  const common = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, amsgrad: false, maximize: false };
  expect(new Adam(makeParams()).defaults).toEqual({ ...common, weightDecay: 0 });
  expect(new AdamW(makeParams()).defaults).toEqual({ ...common, weightDecay: 1e-2 });
  expect(new AdamW(makeParams(), { weightDecay: 0 }).defaults.weightDecay).toBe(0);
});

it("Adam validates its options", () => {
  const ps = makeParams();
  expect(() => new Adam(ps, { lr: -1 })).toThrow(
    "Adam: invalid lr = -1 in the options (expected a number >= 0)",
  );
  expect(() => new Adam(ps, { betas: [1, 0.999] })).toThrow(
    "Adam: invalid betas[0] = 1 in the options (expected a number in [0, 1))",
  );
  expect(() => new Adam(ps, { betas: [0.9, -0.1] })).toThrow(/invalid betas\[1\] = -0.1/);
  expect(() => new Adam(ps, { eps: -1e-8 })).toThrow(/invalid eps = -1e-8/);
  expect(() => new AdamW(ps, { weightDecay: -0.01 })).toThrow(/AdamW: invalid weightDecay = -0.01/);
  expect(() => new Adam([{ params: ps[0] }, { params: ps[1], betas: [0.9, 1] }])).toThrow(
    /invalid betas\[1\] = 1 in parameter group 1/,
  );
});
