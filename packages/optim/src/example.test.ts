// The README's example, kept runnable (importing ./index where the README has @minibatch/optim).
import "@minibatch/backend-cpu";
import { randn, tensor, tidy } from "@minibatch/tensor";
import { expect, it } from "vitest";
import { clipGradNorm, OneCycleLR, SGD } from "./index";

it("the README example fits y = 3x - 1", async () => {
  const w = randn([1, 1]).requiresGrad_();
  const b = tensor([0], { requiresGrad: true });
  const x = tensor([[-1], [0], [1], [2]]);
  const y = tensor([[-4], [-1], [2], [5]]);

  const optimizer = new SGD([w, b], { lr: 0.1, momentum: 0.9 });
  const scheduler = new OneCycleLR(optimizer, 0.1, 200);

  for (let step = 0; step < 200; step++) {
    tidy(() => {
      optimizer.zeroGrad();
      const loss = x.matmul(w).add(b).sub(y).square().mean();
      loss.backward();
      clipGradNorm([w, b], 1.0);
      optimizer.step();
      scheduler.step();
    });
  }
  // readme-end
  expect((await w.data())[0]).toBeCloseTo(3, 3);
  expect((await b.data())[0]).toBeCloseTo(-1, 3);
});
