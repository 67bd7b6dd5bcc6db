import { tensor } from "@minibatch/tensor";
import { expectClose } from "@minibatch/testing";
import { describe, expect, it } from "vitest";
import { Adam } from "./adam";
import {
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  type LRScheduler,
  OneCycleLR,
  StepLR,
} from "./schedulers";
import { SGD } from "./sgd";

const exact = { rtol: 1e-12, atol: 1e-15 };

function sgd(lrs: number[], momentum = 0) {
  return new SGD(
    lrs.map((lr) => ({ params: [tensor([1, 2], { requiresGrad: true })], lr })),
    { momentum },
  );
}

/** Rates of every group at epochs 0..n-1, as the optimizer sees them. */
function run(s: LRScheduler, n: number): number[][] {
  const out: number[][] = [];
  for (let t = 0; t < n; t++) {
    if (t > 0) s.step();
    expect(s.getLastLr()).toEqual(s.optimizer.paramGroups.map((g) => g.lr));
    out.push(s.getLastLr());
  }
  return out;
}

function expectSeq(actual: number[][], expected: (t: number, group: number) => number): void {
  actual.forEach((lrs, t) => {
    expectClose(
      lrs,
      lrs.map((_, g) => expected(t, g)),
      exact,
      `epoch ${t}`,
    );
  });
}

describe("StepLR", () => {
  it("decays by gamma every stepSize epochs: base·gamma^floor(t/stepSize)", () => {
    const base = [0.1, 0.03];
    const s = new StepLR(sgd(base), 3, 0.5);
    expectSeq(run(s, 12), (t, g) => base[g] * 0.5 ** Math.floor(t / 3));
    expect(s.getLastLr()).toEqual([0.1 * 0.5 ** 3, 0.03 * 0.5 ** 3]);
  });

  it("has PyTorch's default gamma 0.1 and validates stepSize", () => {
    expectSeq(run(new StepLR(sgd([1]), 2), 5), (t) => 0.1 ** Math.floor(t / 2));
    expect(() => new StepLR(sgd([1]), 0)).toThrow(
      "StepLR: invalid stepSize = 0 (expected a positive integer)",
    );
  });
});

describe("ExponentialLR", () => {
  it("is base·gamma^t", () => {
    expectSeq(run(new ExponentialLR(sgd([0.2]), 0.9), 10), (t) => 0.2 * 0.9 ** t);
  });
});

describe("CosineAnnealingLR", () => {
  it("follows etaMin + (base - etaMin)(1 + cos(πt/T))/2, also past tMax", () => {
    const base = [0.1, 1];
    const s = new CosineAnnealingLR(sgd(base), 10, 0.001);
    const lrs = run(s, 31);
    expectSeq(lrs, (t, g) => 0.001 + ((base[g] - 0.001) * (1 + Math.cos((Math.PI * t) / 10))) / 2);
    expect(lrs[10][0]).toBeCloseTo(0.001, 14);
    expect(lrs[20][1]).toBeCloseTo(1, 12);
  });

  it("validates tMax", () => {
    expect(() => new CosineAnnealingLR(sgd([1]), 2.5)).toThrow(/invalid tMax = 2.5/);
  });
});

describe("LinearLR", () => {
  it("warms up linearly from startFactor to endFactor over totalIters, then holds", () => {
    const s = new LinearLR(sgd([0.4]), { startFactor: 0.25, endFactor: 1, totalIters: 4 });
    expectSeq(run(s, 8), (t) => 0.4 * (0.25 + (0.75 * Math.min(t, 4)) / 4));
  });

  it("has PyTorch's defaults (1/3 to 1 over 5 epochs) and can decay", () => {
    expectSeq(run(new LinearLR(sgd([0.3])), 7), (t) => 0.3 * (1 / 3 + ((2 / 3) * Math.min(t, 5)) / 5));
    const s = new LinearLR(sgd([1]), { startFactor: 1, endFactor: 0.1, totalIters: 3 });
    expectSeq(run(s, 5), (t) => 1 - (0.9 * Math.min(t, 3)) / 3);
  });

  it("validates its factors", () => {
    expect(() => new LinearLR(sgd([1]), { startFactor: 0 })).toThrow(
      "LinearLR: invalid startFactor = 0 (expected a number in (0, 1])",
    );
    expect(() => new LinearLR(sgd([1]), { endFactor: 2 })).toThrow(/invalid endFactor = 2/);
  });
});

describe("LambdaLR", () => {
  it("is base·lambda(t), with one function per group", () => {
    const base = [0.1, 0.5];
    const s = new LambdaLR(sgd(base), [(t) => 1 / (t + 1), (t) => 0.95 ** t]);
    expectSeq(run(s, 6), (t, g) => base[g] * (g === 0 ? 1 / (t + 1) : 0.95 ** t));
    expect(() => new LambdaLR(sgd(base), [(t) => t])).toThrow(/expected 2 lrLambda functions/);
  });
});

/** PyTorch's documented 1cycle schedule, written out for two phases. */
function oneCycle(t: number, maxLr: number, total: number, pct = 0.3, div = 25, finalDiv = 1e4): number {
  const initial = maxLr / div;
  const min = initial / finalDiv;
  const cos = (a: number, b: number, x: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * x));
  const up = pct * total - 1;
  return t <= up ? cos(initial, maxLr, t / up) : cos(maxLr, min, (t - up) / (total - 1 - up));
}

describe("OneCycleLR", () => {
  it("rises from maxLr/divFactor to maxLr, then anneals to the minimum (cos)", () => {
    const opt = sgd([0.1, 0.1], 0.9);
    const s = new OneCycleLR(opt, [1, 2], 20);
    const lrs = run(s, 20);
    expectSeq(lrs, (t, g) => oneCycle(t, [1, 2][g], 20));
    expectClose(lrs[0], [1 / 25, 2 / 25], exact);
    expect(lrs[5][0]).toBeCloseTo(1, 14);
    expect(lrs[19][1]).toBeCloseTo(2 / 25 / 1e4, 14);
    expect(opt.paramGroups[0].initialLr).toBe(1 / 25);
    expect(opt.paramGroups[1].maxLr).toBe(2);
    expect(() => s.step()).not.toThrow(); // step totalSteps is still allowed, as in PyTorch
    expect(() => s.step()).toThrow("OneCycleLR: tried to step 21 times; totalSteps is 20");
  });

  it("cycles SGD momentum inversely between maxMomentum and baseMomentum", () => {
    const opt = sgd([0.1], 0.9);
    const s = new OneCycleLR(opt, 1, 11, { pctStart: 0.2 }); // up for 1.2 steps: endStep 1.2
    const momenta: number[] = [];
    for (let t = 0; t < 11; t++) {
      if (t > 0) s.step();
      momenta.push(opt.paramGroups[0].momentum);
    }
    const up = 0.2 * 11 - 1;
    const cos = (a: number, b: number, x: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * x));
    expectClose(
      momenta,
      momenta.map((_, t) => (t <= up ? cos(0.95, 0.85, t / up) : cos(0.85, 0.95, (t - up) / (10 - up)))),
      exact,
    );
  });

  it("cycles Adam's beta1 and keeps beta2", () => {
    const opt = new Adam([tensor([1], { requiresGrad: true })], { betas: [0.9, 0.99] });
    const s = new OneCycleLR(opt, 0.01, 10);
    expect(opt.paramGroups[0].betas).toEqual([0.95, 0.99]);
    s.step();
    s.step();
    expect(opt.paramGroups[0].betas).toEqual([0.85, 0.99]); // the peak: endStep = 0.3·10 - 1 = 2
    expect(s.getLastLr()[0]).toBeCloseTo(0.01, 15);
  });

  it("supports linear annealing and three phases", () => {
    const lin = run(new OneCycleLR(sgd([1]), 1, 10, { annealStrategy: "linear", cycleMomentum: false }), 10);
    const up = 2;
    const init = 1 / 25;
    const min = init / 1e4;
    expectSeq(lin, (t) => (t <= up ? init + ((1 - init) * t) / up : 1 + ((min - 1) * (t - up)) / (9 - up)));

    const three = run(
      new OneCycleLR(sgd([1]), 1, 20, { threePhase: true, cycleMomentum: false, pctStart: 0.25 }),
      20,
    );
    const cos = (a: number, b: number, x: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * x));
    // Phase ends: 0.25·20 - 1 = 4, 2·0.25·20 - 2 = 8, 19.
    expectSeq(three, (t) =>
      t <= 4 ? cos(init, 1, t / 4) : t <= 8 ? cos(1, init, (t - 4) / 4) : cos(init, min, (t - 8) / 11),
    );
  });

  it("validates its arguments", () => {
    expect(() => new OneCycleLR(sgd([1]), 1, 0)).toThrow(/invalid totalSteps = 0/);
    expect(() => new OneCycleLR(sgd([1]), 1, 10, { pctStart: 1.5 })).toThrow(/invalid pctStart = 1.5/);
    expect(() => new OneCycleLR(sgd([1]), 1, 10, { annealStrategy: "exp" as any })).toThrow(
      /invalid annealStrategy = exp/,
    );
    expect(() => new OneCycleLR(sgd([1, 1]), [1], 10)).toThrow(/expected 2 values of maxLr/);
  });
});

describe("schedulers with optimizers", () => {
  it("the optimizer steps with the scheduled rate", async () => {
    const p = tensor([1], { requiresGrad: true });
    const opt = new SGD([p], { lr: 1 });
    const s = new StepLR(opt, 1, 0.5);
    let expected = 1;
    for (let t = 0; t < 4; t++) {
      p.grad?.dispose();
      p.grad = tensor([1]);
      opt.step();
      expected -= 0.5 ** t;
      s.step();
    }
    expect(Array.from(await p.data())).toEqual([expected]);
  });

  it("stateDict round trip resumes the schedule (PyTorch order: construct, then load)", () => {
    const make = () => {
      const opt = sgd([0.1], 0.9);
      return { opt, s: new CosineAnnealingLR(opt, 8, 0.01) };
    };
    const a = make();
    for (let t = 0; t < 3; t++) a.s.step();
    const savedOpt = a.opt.stateDict();
    const savedSched = a.s.stateDict();
    expect(savedSched).toMatchObject({ lastEpoch: 3, tMax: 8, etaMin: 0.01, baseLrs: [0.1] });
    expect(savedSched).not.toHaveProperty("optimizer");

    const b = make();
    b.opt.loadStateDict(savedOpt);
    b.s.loadStateDict(savedSched);
    expect(b.s.getLastLr()).toEqual(a.s.getLastLr());
    for (let t = 0; t < 6; t++) {
      a.s.step();
      b.s.step();
      expect(b.s.getLastLr()).toEqual(a.s.getLastLr());
    }
  });

  it("LambdaLR's stateDict leaves the functions out", () => {
    const s = new LambdaLR(sgd([1]), (t) => t);
    expect(Object.keys(s.stateDict()).sort()).toEqual(["baseLrs", "lastEpoch", "lastLr", "stepCount"]);
  });
});
