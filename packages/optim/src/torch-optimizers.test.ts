import type { Tensor } from "@minibatch/tensor";
import { describeBackends, expectClose, tolerance } from "@minibatch/testing";
import { afterAll, expect, it } from "vitest";
import { fixture, WorstError } from "../test/fixtures";
import { makeParams, setGrads } from "../test/harness";
import { Adagrad } from "./adagrad";
import { Adam, AdamW } from "./adam";
import { Adamax } from "./adamax";
import { NAdam } from "./nadam";
import type { Optimizer } from "./optimizer";
import { RAdam } from "./radam";
import { RMSprop } from "./rmsprop";
import { SGD } from "./sgd";

interface Case {
  optimizer: keyof typeof MAKERS;
  title: string;
  options: Record<string, unknown>;
  groups: Record<string, unknown>[] | null;
  steps: number[][][];
}

const MAKERS = {
  SGD: (p: any, o: any) => new SGD(p, o),
  Adam: (p: any, o: any) => new Adam(p, o),
  AdamW: (p: any, o: any) => new AdamW(p, o),
  RMSprop: (p: any, o: any) => new RMSprop(p, o),
  Adagrad: (p: any, o: any) => new Adagrad(p, o),
  Adamax: (p: any, o: any) => new Adamax(p, o),
  NAdam: (p: any, o: any) => new NAdam(p, o),
  RAdam: (p: any, o: any) => new RAdam(p, o),
};

const { cases } = fixture<{ cases: Case[] }>("optimizers.json");
const worst: Record<string, WorstError> = {};

describeBackends("optimizers against PyTorch 2.13 trajectories", (backend) => {
  for (const c of cases) {
    it(`${c.optimizer}: ${c.title}`, async () => {
      const params = makeParams();
      const input = c.groups ? params.map((p, k) => ({ params: [p], ...c.groups![k] })) : params;
      const opt: Optimizer<any> = MAKERS[c.optimizer](input, c.options);
      for (let t = 0; t < c.steps.length; t++) {
        setGrads(params, t);
        opt.step();
        for (let k = 0; k < params.length; k++) {
          const got = await params[k].data();
          expectClose(got, c.steps[t][k], tolerance(backend), `step ${t + 1}, parameter ${k}`);
          (worst[c.optimizer] ??= new WorstError()).add(got, c.steps[t][k]);
        }
      }
      opt.zeroGrad();
      opt.dispose();
      for (const p of params) (p as Tensor).dispose();
    });
  }
});

it("covers every optimizer with several cases", () => {
  for (const name of Object.keys(MAKERS)) {
    expect(cases.filter((c) => c.optimizer === name).length).toBeGreaterThanOrEqual(4);
  }
});

afterAll(() => {
  for (const [name, w] of Object.entries(worst)) {
    const n = cases.filter((c) => c.optimizer === name).length;
    console.log(
      `${name} vs PyTorch: ${n} cases, ${w.count} parameter checks, worst |diff| ${w.max.toExponential(2)}`,
    );
  }
});
