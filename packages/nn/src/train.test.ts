import { Generator, memory, noGrad, type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import { Tanh } from "./layers/activation";
import { Sequential } from "./layers/container";
import { Linear } from "./layers/linear";
import { crossEntropy, mseLoss } from "./losses";
import { accuracy } from "./metrics";
import type { Module } from "./module";

/** Plain SGD, written out: p <- p - lr * grad, without recording the graph. */
function sgdStep(model: Module, lr: number): void {
  noGrad(() => {
    for (const p of model.parameters()) if (p.grad) p.assign(p.sub(p.grad.mul(lr)));
  });
}

describeBackends("training", () => {
  it("an MLP fits sin(x) on [-3, 3] to MSE < 0.01 in 500 steps", async () => {
    const g = new Generator(0);
    const model = new Sequential(
      new Linear(1, 32, { generator: g }),
      new Tanh(),
      new Linear(32, 1, { generator: g }),
    );
    const n = 64;
    const xs = Array.from({ length: n }, (_, i) => -3 + (6 * i) / (n - 1));
    const x = tensor(xs, [n, 1]);
    const y = tensor(xs.map(Math.sin), [n, 1]);
    let loss = Number.POSITIVE_INFINITY;
    for (let step = 0; step < 500; step++) {
      const l = tidy(() => {
        model.zeroGrad();
        const out = mseLoss(model.call(x), y);
        out.backward();
        sgdStep(model, 0.05);
        return out;
      });
      if (step % 100 === 99) loss = await l.item();
      l.dispose();
    }
    expect(loss).toBeLessThan(0.01);
    model.dispose();
  });

  it("an MLP classifies XOR-style quadrants (cross entropy < 0.05, accuracy > 0.97) in 500 steps", async () => {
    const g = new Generator(1);
    const model = new Sequential(
      new Linear(2, 16, { generator: g }),
      new Tanh(),
      new Linear(16, 2, { generator: g }),
    );
    const pts: number[][] = [];
    const labels: number[] = [];
    const r = new Generator(2);
    for (let i = 0; i < 128; i++) {
      const a = r.random() * 2 - 1;
      const b = r.random() * 2 - 1;
      pts.push([a, b]);
      labels.push(a * b > 0 ? 1 : 0);
    }
    const x = tensor(pts);
    const y = tensor(Int32Array.from(labels));
    let loss = 0;
    for (let step = 0; step < 500; step++) {
      loss = await tidy(async () => {
        model.zeroGrad();
        const l = crossEntropy(model.call(x), y);
        l.backward();
        sgdStep(model, 1);
        return step % 100 === 99 ? l.item() : loss;
      });
    }
    expect(loss).toBeLessThan(0.05);
    // Points next to an axis are the hard ones; at most a few of 128 may sit on the wrong side.
    const acc = await tidy(() =>
      accuracy(
        noGrad(() => model.call(x)),
        y,
      ),
    );
    expect(acc).toBeGreaterThan(0.97);
    model.dispose();
  });

  it("1,000 training steps inside tidy do not grow memory().tensors or buffers", async () => {
    const g = new Generator(3);
    const model = new Sequential(
      new Linear(4, 8, { generator: g }),
      new Tanh(),
      new Linear(8, 3, { generator: g }),
    );
    const x = tensor(
      Array.from({ length: 32 }, (_, i) => Math.sin(i)),
      [8, 4],
    );
    const y = tensor(new Int32Array([0, 1, 2, 0, 1, 2, 0, 1]));
    const step = () =>
      tidy(() => {
        model.zeroGrad();
        crossEntropy(model.call(x), y, { labelSmoothing: 0.1 }).backward();
        sgdStep(model, 0.1);
      });
    step(); // the first step creates the gradients that live on between steps
    const before = memory();
    for (let i = 0; i < 1000; i++) step();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.buffers).toBe(before.buffers);
    const grads: (Tensor | null)[] = model.parameters().map((p) => p.grad);
    expect(grads.every((t) => t !== null)).toBe(true);
    model.dispose();
  });
});
