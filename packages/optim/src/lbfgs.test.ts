import { type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose } from "@minibatch/testing";
import { afterAll, expect, it } from "vitest";
import { fixture, WorstError } from "../test/fixtures";
import { LBFGS, type LBFGSOptions } from "./lbfgs";

interface LbfgsFixture {
  A: number[][];
  b: number[];
  x0: number[];
  w0: number[];
  cases: {
    title: string;
    options: Partial<LBFGSOptions>;
    steps: { loss: number; x: number[]; w: number[]; funcEvals: number; nIter: number }[];
  }[];
}

const fx = fixture<LbfgsFixture>("lbfgs.json");
const worst = new WorstError();

/** The fixture's objective: |A x - b|² + 0.1 Σ x⁴ + (w0·x0 - w1)². */
function objective(x: Tensor, w: Tensor): Tensor {
  const A = tensor(fx.A);
  const b = tensor(fx.b);
  const r = A.matmul(x).sub(b);
  const x0 = x.slice([0], [1]);
  const coupling = w
    .slice([0], [1])
    .mul(x0)
    .sub(w.slice([1], [1]))
    .square()
    .sum();
  return r.square().sum().add(x.square().square().sum().mul(0.1)).add(coupling);
}

describeBackends("LBFGS against PyTorch 2.13", () => {
  for (const c of fx.cases) {
    it(c.title, async () => {
      const x = tensor(fx.x0, { requiresGrad: true });
      const w = tensor(fx.w0, { requiresGrad: true });
      const opt = new LBFGS([x, w], c.options);
      const closure = () =>
        tidy(() => {
          opt.zeroGrad();
          const loss = objective(x, w);
          loss.backward();
          return loss;
        });
      for (const [i, s] of c.steps.entries()) {
        const loss = await opt.stepAsync(closure);
        expectClose([loss], [s.loss], { rtol: 1e-4, atol: 1e-5 }, `loss of step ${i + 1}`);
        expectClose(await x.data(), s.x, { rtol: 1e-4, atol: 2e-5 }, `x after step ${i + 1}`);
        expectClose(await w.data(), s.w, { rtol: 1e-4, atol: 2e-5 }, `w after step ${i + 1}`);
        expect(opt.state.get(x)).toEqual({ funcEvals: s.funcEvals, nIter: s.nIter });
        worst.add([loss, ...(await x.data()), ...(await w.data())], [s.loss, ...s.x, ...s.w]);
      }
      opt.zeroGrad();
      opt.dispose();
      x.dispose();
      w.dispose();
    });
  }
});

it("LBFGS rejects what it does not support", () => {
  const x = tensor([1, 2], { requiresGrad: true });
  const y = tensor([1, 2], { requiresGrad: true });
  expect(() => new LBFGS([x], { lineSearchFn: "strong_wolfe" as any })).toThrow(
    /invalid lineSearchFn = strong_wolfe in the options \(expected null \('strong_wolfe' is not available\)\)/,
  );
  expect(() => new LBFGS([{ params: [x] }, { params: [y] }])).toThrow(/single parameter group/);
  expect(() => new LBFGS([x], { max_iter: 5 } as any)).toThrow(/did you mean 'maxIter'/);
  expect(() => new LBFGS([x]).step()).toThrow(/use `await optimizer.stepAsync\(closure\)`/);
});

afterAll(() => {
  console.log(`LBFGS vs PyTorch: ${worst.count} steps, worst |diff| ${worst.max.toExponential(2)}`);
});
