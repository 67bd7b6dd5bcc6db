import "@minibatch/backend-cpu";
import { compile, manualSeed, randn, type Tensor, tidy } from "@minibatch/tensor";
import { describe, expect, it, vi } from "vitest";
import { Adam, Adamax, AdamW, NAdam, type Optimizer, SGD } from "./index";

// A compiled step (compile from @minibatch/tensor) replays the optimizer's update. Its results
// must equal eager mode's; an update whose numbers change per step in a way the program cannot
// recompute must be refused, never replayed with stale numbers.

function problem(seed: number) {
  manualSeed(seed);
  const w = randn([6, 4]).requiresGrad_();
  const b = randn([4]).requiresGrad_();
  const x = randn([16, 6]);
  const y = randn([16, 4]);
  return { params: [w, b], x, y };
}

async function train(make: (params: Tensor[]) => Optimizer, compiled: boolean, steps: number) {
  const { params, x, y } = problem(3);
  const opt = make(params);
  const body = (xb: Tensor, yb: Tensor) => {
    opt.zeroGrad();
    const loss = xb.matmul(params[0]).add(params[1]).sub(yb).square().mean();
    loss.backward();
    opt.step();
    return loss;
  };
  const step = compiled ? compile(body) : (xb: Tensor, yb: Tensor) => tidy(() => body(xb, yb));
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const l = step(x, y);
    losses.push(await l.item());
    l.dispose();
  }
  const values = await Promise.all(params.map(async (p) => Array.from(await p.data())));
  const stats = compiled ? (step as ReturnType<typeof compile>).stats() : null;
  return { losses, values, stats, state: opt.stateDict() };
}

describe("optimizers in compiled steps", () => {
  const cases: [string, (p: Tensor[]) => Optimizer][] = [
    ["SGD with momentum and nesterov", (p) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true })],
    ["Adam", (p) => new Adam(p, { lr: 0.01 })],
    [
      "Adam with amsgrad and weight decay",
      (p) => new Adam(p, { lr: 0.01, amsgrad: true, weightDecay: 0.01 }),
    ],
    ["AdamW", (p) => new AdamW(p, { lr: 0.01 })],
    ["Adamax", (p) => new Adamax(p, { lr: 0.01 })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: 30 replayed steps equal eager mode, bias corrections included`, async () => {
      const eager = await train(make, false, 30);
      const compiled = await train(make, true, 30);
      expect(compiled.stats).toMatchObject({ replayed: 27, refusal: null });
      expect(compiled.losses).toEqual(eager.losses);
      expect(compiled.values).toEqual(eager.values);
      // The step count advances on replay too (checkpoints save it).
      expect(
        JSON.stringify(compiled.state.state, (_, v) => (typeof v === "object" && v?.shape ? "T" : v)),
      ).toEqual(JSON.stringify(eager.state.state, (_, v) => (typeof v === "object" && v?.shape ? "T" : v)));
    });
  }

  it("NAdam's per-step momentum schedule is refused with the reason, and the step runs eagerly", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const eager = await train((p) => new NAdam(p, { lr: 0.01 }), false, 8);
    const compiled = await train((p) => new NAdam(p, { lr: 0.01 }), true, 8);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/two traces of the step differ/);
    warn.mockRestore();
    expect(compiled.stats).toMatchObject({ replayed: 0 });
    expect(compiled.values).toEqual(eager.values);
  });
});
