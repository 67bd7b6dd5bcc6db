import "@minibatch/backend-cpu";
import { randn, setLeakWarning, type Tensor, tidy } from "@minibatch/tensor";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SGD } from "./index";

afterEach(() => {
  setLeakWarning(true);
  vi.restoreAllMocks();
});

function problem() {
  const w = randn([4, 3]).requiresGrad_();
  const x = randn([8, 4]);
  const y = randn([8, 3]);
  return { w, x, y, opt: new SGD([w], { lr: 0.1 }) };
}

// Optimizers mark each step; in development mode the tensor package warns when live tensors grow
// at every step.
describe("development-mode leak warning", () => {
  it("warns once for a PyTorch-style loop without tidy", () => {
    setLeakWarning(true);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { w, x, y, opt } = problem();
    const kept: Tensor[] = [];
    for (let step = 0; step < 40; step++) {
      opt.zeroGrad();
      const loss = x.matmul(w).sub(y).square().mean();
      loss.backward();
      opt.step();
      kept.push(loss);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(
      /live tensors grew at each of the last \d+ steps \(\d+ -> \d+, about \d+ per step\)/,
    );
    expect(warn.mock.calls[0][0]).toContain("tidy(");
    expect(warn.mock.calls[0][0]).toContain("docs/guide/memory.md");
  });

  it("stays quiet when each step is in tidy, and when turned off", () => {
    setLeakWarning(true);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { w, x, y, opt } = problem();
    for (let step = 0; step < 60; step++) {
      tidy(() => {
        opt.zeroGrad();
        const loss = x.matmul(w).sub(y).square().mean();
        loss.backward();
        opt.step();
      });
    }
    expect(warn).not.toHaveBeenCalled();
    expect(setLeakWarning(false)).toBe(true);
    const kept: Tensor[] = [];
    for (let step = 0; step < 60; step++) {
      opt.zeroGrad();
      const loss = x.matmul(w).sub(y).square().mean();
      loss.backward();
      opt.step();
      kept.push(loss);
    }
    expect(warn).not.toHaveBeenCalled();
  });
});
