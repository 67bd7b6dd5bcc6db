import { type Tensor, tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, gradCheck, tolerance } from "@minibatch/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, runCase, type TorchCase, WorstError } from "../test/fixtures";
import { klDivLoss, smoothL1Loss } from "./losses";
import { cosineEmbeddingLoss, cosineSimilarity, marginRankingLoss } from "./similarity";

const FNS: Record<string, (o: any) => (...xs: Tensor[]) => Tensor> = {
  smoothL1Loss: (o) => (a, b) => smoothL1Loss(a, b, o),
  klDivLoss: (o) => (a, b) => klDivLoss(a, b, o),
  cosineSimilarity: (o) => (a, b) => cosineSimilarity(a, b, o),
  cosineEmbeddingLoss: (o) => (a, b, y) => cosineEmbeddingLoss(a, b, y, o),
  marginRankingLoss: (o) => (a, b, y) => marginRankingLoss(a, b, y, o),
};

const { cases } = fixture<{ cases: TorchCase[] }>("losses.json");
const worst: Record<string, { value: WorstError; grad: WorstError }> = {};

describeBackends("losses against PyTorch 2.13", (backend) => {
  const tol = tolerance(backend);
  for (const c of cases) {
    it(`${c.fn}: ${c.title}`, async () => {
      const r = await runCase(c, FNS[c.fn](c.options));
      expect(r.shape).toEqual(c.output.shape);
      expectClose(r.out, c.output.values, tol, "output");
      worst[c.fn] ??= { value: new WorstError(), grad: new WorstError() };
      worst[c.fn].value.add(r.out, c.output.values);
      c.grads.forEach((g, k) => {
        if (!g) return;
        const got = r.grads[k]!;
        const finite = g.map((v, i) => (v === null ? got[i] : v));
        expect(Array.from(got).every(Number.isFinite), `gradient ${k} is finite`).toBe(true);
        expectClose(got, finite, tol, `gradient of input ${k}`);
        worst[c.fn].grad.add(got, g);
      });
    });
  }
});

describe("finite-difference gradients of the new losses", () => {
  for (const fn of Object.keys(FNS)) {
    it(fn, async () => {
      for (const c of cases.filter((x) => x.fn === fn).slice(0, 4)) {
        // Labels stay fixed (they must be ±1), and so does a KL target holding an exact 0, where
        // finite differences would step to negative probabilities.
        const varied = fn === "marginRankingLoss" || (fn === "klDivLoss" && !c.options.logTarget) ? 1 : 2;
        const fixed = c.inputs
          .slice(varied)
          .map((x) =>
            x.dtype === "int32"
              ? tensor(Int32Array.from(x.values), x.shape)
              : tensor(Float32Array.from(x.values), x.shape),
          );
        const f = FNS[fn](c.options);
        await gradCheck(
          (...xs) => f(...xs, ...fixed),
          c.inputs.slice(0, varied).map((x) => ({ values: x.values, shape: x.shape })),
          { eps: 1e-3 },
        );
        for (const t of fixed) t.dispose();
      }
    });
  }
});

afterAll(() => {
  for (const [fn, w] of Object.entries(worst)) {
    const n = cases.filter((c) => c.fn === fn).length;
    console.log(
      `${fn} vs PyTorch: ${n} cases, worst |diff| values ${w.value.max.toExponential(2)}, gradients ${w.grad.max.toExponential(2)}`,
    );
  }
});
