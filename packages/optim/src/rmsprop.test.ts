import { describeBackends, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { checkAgainstReference, makeParams } from "../test/harness";
import { rmspropRef } from "../test/reference";
import { RMSprop, type RMSpropOptions } from "./rmsprop";

const variants: [string, Partial<RMSpropOptions> & { lr: number }][] = [
  ["plain", { lr: 0.01 }],
  ["alpha + eps", { lr: 0.01, alpha: 0.9, eps: 1e-4 }],
  ["momentum", { lr: 0.01, momentum: 0.9 }],
  ["centered", { lr: 0.01, centered: true, alpha: 0.8 }],
  [
    "centered + momentum + weight decay",
    { lr: 0.005, centered: true, momentum: 0.5, weightDecay: 0.1, alpha: 0.9 },
  ],
];

describeBackends("RMSprop", (backend) => {
  for (const [name, opts] of variants) {
    it(`matches the float64 reference: ${name}`, async () => {
      await checkAgainstReference(
        (ps) => new RMSprop(ps, opts),
        () => rmspropRef(opts),
        tolerance(backend),
        5,
      );
    });
  }
});

it("RMSprop defaults follow PyTorch", () => {
  expect(new RMSprop(makeParams()).defaults).toEqual({
    lr: 1e-2,
    alpha: 0.99,
    eps: 1e-8,
    weightDecay: 0,
    momentum: 0,
    centered: false,
    maximize: false,
  });
});

it("RMSprop validates its options", () => {
  const ps = makeParams();
  expect(() => new RMSprop(ps, { alpha: -0.5 })).toThrow(
    "RMSprop: invalid alpha = -0.5 in the options (expected a number >= 0)",
  );
  expect(() => new RMSprop(ps, { momentum: -1 })).toThrow(/invalid momentum = -1/);
  expect(() => new RMSprop(ps, { centered: 1 as any })).toThrow(/invalid centered = 1/);
});
