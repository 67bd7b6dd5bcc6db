import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance } from "../index";

describeConformance("conformance: memory is deterministic", (backend) => {
  it("1,000 training-like steps do not grow live tensors, buffers or bytes", async () => {
    const g = new mb.Generator(3);
    const w1 = mb.keep(mb.randn([8, 16], { generator: g }).mul(0.3)).requiresGrad_();
    const w2 = mb.keep(mb.randn([16, 4], { generator: g }).mul(0.3)).requiresGrad_();
    const gamma = mb.keep(mb.ones([16])).requiresGrad_();
    const beta = mb.keep(mb.zeros([16])).requiresGrad_();
    const x = mb.keep(mb.randn([32, 8], { generator: g }));
    const labels = mb.keep(mb.randint(0, 4, [32], { generator: g }));
    const params = [w1, w2, gamma, beta];
    const step = () =>
      mb.tidy(() => {
        const h = mb.batchNormTrain(x.matmul(w1), gamma, beta).y.sigmoid();
        const logp = h.matmul(w2).logSoftmax(1);
        const loss = mb
          .indexSelect(logp.reshape([-1]), 0, labels.add(mb.arange(0, 128, 4)))
          .mean()
          .neg();
        loss.backward();
        mb.noGrad(() => {
          for (const p of params) {
            p.assign(p.sub(p.grad!.mul(0.1)));
            p.grad!.dispose();
            p.grad = null;
          }
        });
        return loss;
      });
    const first = step();
    const l0 = await first.item();
    first.dispose();
    for (let i = 0; i < 9; i++) step().dispose();
    const after10 = mb.memory();
    let last = 0;
    for (let i = 0; i < 990; i++) {
      const l = step();
      if (i === 989) last = await l.item();
      l.dispose();
    }
    const after1000 = mb.memory();
    expect(after1000.tensors).toBe(after10.tensors);
    expect(after1000.buffers).toBe(after10.buffers);
    expect(after1000.bytes).toBe(after10.bytes);
    expect(after1000.backends[backend]).toEqual(after10.backends[backend]);
    expect(last).toBeLessThan(l0); // it did train
    for (const t of [...params, x, labels]) t.dispose();
  }, 300_000); // a software GPU (SwiftShader in CI) needs about a minute for the 1,000 steps

  it("reshape shares a buffer; disposing both frees it", () => {
    const before = mb.memory();
    const a = mb.ones([4, 4]);
    const b = a.reshape([16]);
    expect(mb.memory().buffers).toBe(before.buffers + 1);
    a.dispose();
    expect(mb.memory().buffers).toBe(before.buffers + 1);
    b.dispose();
    expect({ ...mb.memory(), peakBytes: 0 }).toEqual({ ...before, peakBytes: 0 });
  });

  it("peakBytes records the most bytes live at once, and resetPeakMemory starts it again", () => {
    mb.resetPeakMemory();
    const base = mb.memory();
    expect(base.peakBytes).toBe(base.bytes);
    const a = mb.zeros([1000]);
    const b = mb.zeros([500]);
    a.dispose();
    const c = mb.zeros([10]);
    expect(mb.memory().peakBytes).toBe(base.bytes + 6000);
    mb.dispose([b, c]);
    expect(mb.memory().peakBytes).toBe(base.bytes + 6000);
    mb.resetPeakMemory();
    expect(mb.memory().peakBytes).toBe(base.bytes);
  });

  it("tidy keeps returned tensors and disposes the rest, also for async functions", async () => {
    const before = mb.memory().tensors;
    const kept = mb.tidy(() => {
      const a = mb.ones([3]);
      return { out: a.add(1) };
    });
    expect(mb.memory().tensors).toBe(before + 1);
    const asyncKept = await mb.tidy(async () => {
      const a = mb.ones([3]).mul(2);
      await a.data();
      return a.add(1);
    });
    expect(mb.memory().tensors).toBe(before + 2);
    expect(await asyncKept.toArray()).toEqual([3, 3, 3]);
    kept.out.dispose();
    asyncKept.dispose();
    expect(mb.memory().tensors).toBe(before);
    {
      using t = mb.ones([2]);
      expect(t.size).toBe(2);
    }
    expect(mb.memory().tensors).toBe(before);
  });

  it("a tensor returned out of nested scopes belongs to the outer one, and keep or dispose takes it out", () => {
    const before = mb.memory().tensors;
    let movedUp: mb.Tensor | null = null;
    let keptInner: mb.Tensor | null = null;
    let disposedEarly: mb.Tensor | null = null;
    const out = mb.tidy(() => {
      movedUp = mb.tidy(() => {
        keptInner = mb.keep(mb.ones([2]));
        disposedEarly = mb.ones([2]);
        disposedEarly.dispose();
        return mb.ones([2]).mul(3);
      });
      // movedUp now belongs to this scope: returning something else disposes it.
      return movedUp.add(1);
    });
    expect(movedUp!.isDisposed).toBe(true);
    expect(disposedEarly!.isDisposed).toBe(true);
    expect(keptInner!.isDisposed).toBe(false);
    expect(mb.memory().tensors).toBe(before + 2);
    // A tensor kept after it moved up is not disposed by the scope that holds it.
    let late: mb.Tensor | null = null;
    const survivor = mb.tidy(() => {
      late = mb.keep(mb.tidy(() => mb.ones([1])));
      return null;
    });
    expect(survivor).toBeNull();
    expect(late!.isDisposed).toBe(false);
    expect(mb.memory().tensors).toBe(before + 3);
    out.dispose();
    keptInner!.dispose();
    late!.dispose();
    expect(mb.memory().tensors).toBe(before);
  });
});
