import { describeBackends, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { checkAgainstReference, makeParams } from "../test/harness";
import { sgdRef } from "../test/reference";
import { SGD, type SGDOptions } from "./sgd";

const variants: [string, Partial<SGDOptions> & { lr: number }][] = [
  ["plain", { lr: 0.1 }],
  ["momentum", { lr: 0.1, momentum: 0.9 }],
  ["momentum + dampening", { lr: 0.05, momentum: 0.8, dampening: 0.3 }],
  ["nesterov", { lr: 0.1, momentum: 0.9, nesterov: true }],
  ["weight decay + momentum", { lr: 0.1, momentum: 0.5, weightDecay: 0.1 }],
  [
    "maximize + nesterov + weight decay",
    { lr: 0.02, momentum: 0.7, nesterov: true, weightDecay: 0.05, maximize: true },
  ],
];

describeBackends("SGD", (backend) => {
  for (const [name, opts] of variants) {
    it(`matches the float64 reference: ${name}`, async () => {
      await checkAgainstReference(
        (ps) => new SGD(ps, opts),
        () => sgdRef(opts),
        tolerance(backend),
        5,
      );
    });
  }
});

it("SGD defaults follow PyTorch", () => {
  const opt = new SGD(makeParams());
  expect(opt.defaults).toEqual({
    lr: 1e-3,
    momentum: 0,
    dampening: 0,
    weightDecay: 0,
    nesterov: false,
    maximize: false,
  });
});

it("SGD validates its options", () => {
  const ps = makeParams();
  expect(() => new SGD(ps, { lr: -0.1 })).toThrow(
    "SGD: invalid lr = -0.1 in the options (expected a number >= 0)",
  );
  expect(() => new SGD(ps, { lr: 0.1, momentum: -1 })).toThrow(/invalid momentum = -1/);
  expect(() => new SGD(ps, { lr: 0.1, weightDecay: Number.NaN })).toThrow(/invalid weightDecay = NaN/);
  expect(() => new SGD(ps, { lr: 0.1, nesterov: true })).toThrow(
    /nesterov momentum requires momentum > 0 and dampening = 0/,
  );
  expect(() => new SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(
    /dampening = 0.1/,
  );
  expect(() => new SGD([{ params: ps[0] }, { params: ps[1], lr: -1 }], { lr: 0.1 })).toThrow(
    "SGD: invalid lr = -1 in parameter group 1 (expected a number >= 0)",
  );
});
