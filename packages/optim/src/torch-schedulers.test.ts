import { tensor } from "@minibatch/tensor";
import { expectClose } from "@minibatch/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, WorstError } from "../test/fixtures";
import { ChainedScheduler, SequentialLR } from "./composite-schedulers";
import { ConstantLR, CosineAnnealingWarmRestarts, MultiStepLR, PolynomialLR } from "./decay-schedulers";
import { ReduceLROnPlateau } from "./plateau";
import { CosineAnnealingLR, ExponentialLR, LinearLR, type LRScheduler, StepLR } from "./schedulers";
import { SGD } from "./sgd";

interface Spec {
  kind: string;
  args?: unknown[];
  options?: Record<string, unknown>;
  children?: Spec[];
  milestones?: number[];
}

interface Case {
  title: string;
  js: Spec;
  lrs: number[];
  initialLr: number[] | null;
  metrics: number[] | null;
  lr: number[][];
}

const { cases } = fixture<{ cases: Case[] }>("schedulers.json");
const worst = new WorstError();

function sgd(lrs: number[], initialLr: number[] | null): SGD {
  const opt = new SGD(
    lrs.map((lr) => ({ params: [tensor([0], { requiresGrad: true })], lr })),
    { momentum: 0.9 },
  );
  if (initialLr) {
    opt.paramGroups.forEach((g, i) => {
      g.initialLr = initialLr[i];
    });
  }
  return opt;
}

function build(opt: SGD, s: Spec): LRScheduler {
  const a = (s.args ?? []) as any[];
  const o = s.options ?? {};
  switch (s.kind) {
    case "MultiStepLR":
      return new MultiStepLR(opt, a[0], o);
    case "ConstantLR":
      return new ConstantLR(opt, o);
    case "PolynomialLR":
      return new PolynomialLR(opt, o);
    case "CosineAnnealingWarmRestarts":
      return new CosineAnnealingWarmRestarts(opt, a[0], o);
    case "StepLR":
      return new StepLR(opt, a[0], a[1], o);
    case "ExponentialLR":
      return new ExponentialLR(opt, a[0], o);
    case "CosineAnnealingLR":
      return new CosineAnnealingLR(opt, a[0], a[1], o);
    case "LinearLR":
      return new LinearLR(opt, o);
    case "ReduceLROnPlateau":
      return new ReduceLROnPlateau(opt, o);
    case "SequentialLR":
      return new SequentialLR(
        opt,
        s.children!.map((c) => build(opt, c)),
        s.milestones!,
        o,
      );
    case "ChainedScheduler":
      return new ChainedScheduler(s.children!.map((c) => build(opt, c)));
    default:
      throw new Error(`no scheduler ${s.kind}`);
  }
}

function record(s: LRScheduler, steps: number, metrics: number[] | null): number[][] {
  const out = [s.getLastLr()];
  for (let i = 0; i < steps; i++) {
    if (metrics) (s as ReduceLROnPlateau).step(metrics[i]);
    else s.step();
    expect(s.getLastLr()).toEqual(s.optimizer.paramGroups.map((g) => g.lr));
    out.push(s.getLastLr());
  }
  return out;
}

describe("schedulers against PyTorch 2.13", () => {
  for (const c of cases) {
    it(c.title, () => {
      const s = build(sgd(c.lrs, c.initialLr), c.js);
      const got = record(s, c.lr.length - 1, c.metrics);
      got.forEach((lrs, t) => {
        expectClose(lrs, c.lr[t], { rtol: 1e-12, atol: 1e-15 }, `epoch ${t}`);
        worst.add(lrs, c.lr[t]);
      });
    });

    it(`${c.title}: a state dict saved halfway resumes the same schedule`, () => {
      const half = Math.floor((c.lr.length - 1) / 2);
      const a = build(sgd(c.lrs, c.initialLr), c.js);
      record(a, half, c.metrics);
      const saved = structuredClone(a.stateDict());
      const groups = a.optimizer.paramGroups.map(({ params: _, ...g }) => g);
      // A fresh optimizer and scheduler, then the saved state, as a training script resumes.
      const opt = sgd(c.lrs, c.initialLr);
      const b = build(opt, c.js);
      opt.paramGroups.forEach((g, i) => {
        Object.assign(g, groups[i]);
      });
      b.loadStateDict(saved);
      const rest = record(b, c.lr.length - 1 - half, c.metrics?.slice(half) ?? null);
      rest.forEach((lrs, t) => {
        expectClose(lrs, c.lr[half + t], { rtol: 1e-12, atol: 1e-15 }, `epoch ${half + t}`);
      });
    });
  }
});

afterAll(() => {
  console.log(
    `schedulers vs PyTorch: ${worst.count} epochs checked, worst |diff| ${worst.max.toExponential(2)}`,
  );
});
