import * as mb from "@minibatch/tensor";
import { expect, it, vi } from "vitest";
import { describeConformance } from "../index";

// compile(step) replays the kernels of a traced training step. It must give what eager mode
// gives, on every backend, keep memory flat and refuse (never silently mis-replay) steps it
// cannot repeat.

interface Net {
  params: mb.Tensor[];
  momentum: mb.Tensor[];
  step: (x: mb.Tensor, labels: mb.Tensor) => mb.Tensor;
  dispose: () => void;
}

/** An MLP with batch norm, sigmoid, dropout, log-softmax + NLL and SGD with momentum, from raw ops. */
function makeNet(seed: number): Net {
  const g = new mb.Generator(seed);
  const noise = new mb.Generator(seed + 1);
  const w1 = mb.keep(mb.randn([12, 16], { generator: g }).mul(0.3)).requiresGrad_();
  const w2 = mb.keep(mb.randn([16, 5], { generator: g }).mul(0.3)).requiresGrad_();
  const b2 = mb.keep(mb.zeros([5])).requiresGrad_();
  const gamma = mb.keep(mb.ones([16])).requiresGrad_();
  const beta = mb.keep(mb.zeros([16])).requiresGrad_();
  const params = [w1, w2, b2, gamma, beta];
  const momentum: mb.Tensor[] = [];
  const step = (x: mb.Tensor, labels: mb.Tensor) => {
    for (const p of params) {
      p.grad?.dispose();
      p.grad = null;
    }
    const h = mb.batchNormTrain(x.matmul(w1), gamma, beta).y.sigmoid();
    // Dropout: a fresh mask on every call, compiled or not.
    const keep = mb.rand([x.shape[0], 16], { generator: noise }).lt(0.8).cast("float32");
    const logp = h.mul(keep).div(0.8).matmul(w2).add(b2).logSoftmax(1);
    const rows = mb.arange(0, x.shape[0] * 5, 5, { dtype: "int32" });
    const loss = mb
      .indexSelect(logp.reshape([-1]), 0, labels.add(rows))
      .mean()
      .neg();
    loss.backward();
    mb.noGrad(() => {
      params.forEach((p, i) => {
        const grad = p.grad as mb.Tensor;
        if (!momentum[i]) momentum[i] = mb.keep(grad.clone());
        else momentum[i].assign(momentum[i].mul(0.9).add(grad));
        p.assign(p.sub(momentum[i].mul(0.05)));
      });
    });
    return loss;
  };
  return {
    params,
    momentum,
    step,
    dispose: () => {
      for (const t of [...params, ...momentum]) {
        t.grad?.dispose();
        t.dispose();
      }
    },
  };
}

function batches(n: number, batch: number): { x: Float32Array; y: Int32Array }[] {
  const g = new mb.Generator(99);
  return Array.from({ length: n }, () => ({
    x: Float32Array.from({ length: batch * 12 }, () => g.normal()),
    y: Int32Array.from({ length: batch }, () => g.randint(0, 5)),
  }));
}

describeConformance("conformance: compiled training steps", (backend) => {
  it("200 compiled steps give the eager weights, losses and gradients", async () => {
    const data = batches(200, 24);
    const eager = makeNet(7);
    const compiledNet = makeNet(7);
    const step = mb.compile(compiledNet.step, { onRefusal: "error" });
    const lossesE: number[] = [];
    const lossesC: number[] = [];
    for (const { x, y } of data) {
      const [xt, yt] = [mb.tensor(x, [24, 12]), mb.tensor(y, [24])];
      const le = mb.tidy(() => eager.step(xt, yt));
      const lc = step(xt, yt);
      lossesE.push(await le.item());
      lossesC.push(await lc.item());
      mb.dispose([le, lc, xt, yt]);
    }
    expect(step.stats()).toMatchObject({ eager: 1, traced: 2, replayed: 197, refusal: null });
    // Backends that fuse elementwise chains do here (the momentum and update arithmetic).
    if (mb.getBackend().fuseElementwise) expect(step.stats().fused).toBeGreaterThan(0);
    else expect(step.stats().fused).toBe(0);
    // The same kernels in the same order: equal, not merely close.
    expect(lossesC).toEqual(lossesE);
    for (let i = 0; i < eager.params.length; i++) {
      expect(Array.from(await compiledNet.params[i].data())).toEqual(
        Array.from(await eager.params[i].data()),
      );
      expect(Array.from(await (compiledNet.params[i].grad as mb.Tensor).data())).toEqual(
        Array.from(await (eager.params[i].grad as mb.Tensor).data()),
      );
      expect(Array.from(await compiledNet.momentum[i].data())).toEqual(
        Array.from(await eager.momentum[i].data()),
      );
    }
    expect(lossesC[199]).toBeLessThan(lossesC[0]); // it trained
    step.dispose();
    eager.dispose();
    compiledNet.dispose();
  }, 300_000);

  it("replays keep live tensors, buffers and bytes flat, and dispose() gives the program's buffers back", async () => {
    const net = makeNet(3);
    const x = mb.keep(mb.randn([16, 12], { generator: new mb.Generator(1) }));
    const y = mb.keep(mb.randint(0, 5, [16], { generator: new mb.Generator(2) }));
    const before = mb.memory();
    const step = mb.compile(net.step, { onRefusal: "error" });
    for (let i = 0; i < 5; i++) step(x, y).dispose();
    const after5 = mb.memory();
    for (let i = 0; i < 100; i++) step(x, y).dispose();
    const after105 = mb.memory();
    expect(after105.tensors).toBe(after5.tensors);
    expect(after105.buffers).toBe(after5.buffers);
    expect(after105.bytes).toBe(after5.bytes);
    step.dispose();
    // What is left: the momentum buffers and gradients made by the eager warm-up call.
    const left = mb.memory();
    expect(left.bytes - before.bytes).toBe(
      net.momentum.reduce((s, t) => s + 4 * t.size, 0) + net.params.reduce((s, t) => s + 4 * t.size, 0),
    );
    const paramBytes = net.params.reduce((s, t) => s + 4 * t.size, 0);
    net.dispose();
    mb.dispose([x, y]);
    expect(mb.memory().bytes).toBe(before.bytes - paramBytes - 4 * 16 * 12 - 4 * 16);
  }, 300_000);

  it("a compiled step's peak live bytes are no higher than the eager step's", () => {
    const x = mb.keep(mb.randn([32, 12], { generator: new mb.Generator(1) }));
    const y = mb.keep(mb.randint(0, 5, [32], { generator: new mb.Generator(2) }));
    const peakOf = (run: () => void) => {
      run(); // warm-up: state (momentum, gradients) exists before measuring
      mb.resetPeakMemory();
      const base = mb.memory().bytes;
      for (let i = 0; i < 5; i++) run();
      return mb.memory().peakBytes - base;
    };
    const eagerNet = makeNet(4);
    const eager = peakOf(() => mb.tidy(() => eagerNet.step(x, y)).dispose());
    const net = makeNet(4);
    const step = mb.compile(net.step, { onRefusal: "error" });
    for (let i = 0; i < 3; i++) step(x, y).dispose(); // warm-up and the two traces
    const compiled = peakOf(() => step(x, y).dispose());
    expect(step.stats().replayed).toBe(6);
    // The program's own buffers are live between steps; count them within the compiled peak.
    expect(compiled + step.stats().heldBytes).toBeLessThanOrEqual(eager);
    step.dispose();
    eagerNet.dispose();
    net.dispose();
    mb.dispose([x, y]);
  }, 300_000);

  it("a bad label in a replayed step raises the eager error and changes no state", async () => {
    const net = makeNet(5);
    const step = mb.compile(net.step, { onRefusal: "error" });
    const x = mb.randn([8, 12], { generator: new mb.Generator(4) });
    const good = mb.tensor(new Int32Array([0, 1, 2, 3, 4, 0, 1, 2]), [8]);
    for (let i = 0; i < 4; i++) step(x, good).dispose();
    expect(step.stats().replayed).toBe(1);
    const w = Array.from(await net.params[0].data());
    const bad = mb.tensor(new Int32Array([0, 1, 2, 3, 4, 0, 1, 9]), [8]);
    let message = "";
    try {
      const l = step(x, bad);
      await l.data(); // a GPU reports the index error on the next read
      l.dispose();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/indexSelect: index 44 at position 7 is out of range for axis 0 of size 40/);
    if (backend !== "webgpu") expect(Array.from(await net.params[0].data())).toEqual(w);
    mb.dispose([x, good, bad]);
    step.dispose();
    net.dispose();
  }, 300_000);
});

describeConformance("conformance: compiled steps that accumulate gradients", () => {
  it("micro-batches accumulating into .grad give eager's gradients (traced again when grads are zeroed)", async () => {
    const run = async (compiled: boolean) => {
      const g = new mb.Generator(8);
      const w = mb.keep(mb.randn([5, 3], { generator: g })).requiresGrad_();
      const xs = Array.from({ length: 4 }, () => mb.keep(mb.randn([6, 5], { generator: g })));
      const body = (x: mb.Tensor) => {
        const loss = x.matmul(w).tanh().sum();
        loss.backward();
        return loss;
      };
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      const step = compiled ? mb.compile(body) : (x: mb.Tensor) => mb.tidy(() => body(x));
      const grads: number[][] = [];
      for (let cycle = 0; cycle < 5; cycle++) {
        for (const x of xs) step(x).dispose();
        grads.push(Array.from(await (w.grad as mb.Tensor).data()));
        mb.noGrad(() => w.assign(w.sub((w.grad as mb.Tensor).mul(0.1))));
        w.grad?.dispose();
        w.grad = null;
      }
      warn.mockRestore();
      mb.dispose([w, ...xs]);
      return { grads, stats: compiled ? (step as mb.CompiledFn<[mb.Tensor], mb.Tensor>).stats() : null };
    };
    const eager = await run(false);
    const compiled = await run(true);
    expect(compiled.grads).toEqual(eager.grads);
    // Two programs, one per gradient state at the start (none: the first micro-batch of a cycle;
    // some: the others), each after its warm-up and two traces: 2 eager, 4 traced, 14 replayed.
    expect(compiled.stats).toMatchObject({ eager: 2, traced: 4, replayed: 14, refusal: null });
  }, 300_000);
});

describeConformance("conformance: what compile refuses", () => {
  it("a step that reads values is refused with the reason, and runs eagerly", () => {
    const w = mb.keep(mb.ones([3])).requiresGrad_();
    const step = mb.compile((x: mb.Tensor) => {
      const s = x.mul(w).sum();
      if (s.backend.readSync) s.dataSync();
      else s.toString();
      return s;
    });
    const x = mb.ones([3]);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    for (let i = 0; i < 4; i++) step(x).dispose();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/reads the values of tensor .*Return the tensor/);
    expect(step.stats()).toMatchObject({ traced: 1, eager: 3, replayed: 0 });
    warn.mockRestore();
    mb.dispose([x, w]);
  });

  it("a number that changes between calls is refused, not baked in", () => {
    let scale = 1;
    const step = mb.compile((x: mb.Tensor) => x.mul(scale++), { onRefusal: "error" });
    const x = mb.ones([2]);
    step(x).dispose();
    step(x).dispose();
    expect(() => step(x)).toThrow(/two traces of the step differ .*pass it in as a tensor/);
    x.dispose();
    step.dispose();
  });

  it("a step that keeps a tensor it does not return is refused", () => {
    const kept: mb.Tensor[] = [];
    const step = mb.compile(
      (x: mb.Tensor) => {
        kept.push(mb.keep(x.add(1)));
        return x.mul(2);
      },
      { onRefusal: "error" },
    );
    const x = mb.ones([2]);
    step(x).dispose();
    expect(() => step(x)).toThrow(/left 1 tensor\(s\) alive that it does not return/);
    mb.dispose([x, ...kept]);
  });

  it("guards: changing a declared setting traces again; arguments of a new shape get their own program", async () => {
    const settings = { lr: 0.5 };
    const w = mb.keep(mb.ones([2]));
    const step = mb.compile(
      (x: mb.Tensor) => {
        mb.traceGuard(settings, "lr");
        w.assign(w.sub(x.mul(settings.lr)));
        return w.sum();
      },
      { onRefusal: "error" },
    );
    const x = mb.ones([2]);
    for (let i = 0; i < 4; i++) step(x).dispose();
    expect(Array.from(await w.data())).toEqual([-1, -1]);
    settings.lr = 1;
    for (let i = 0; i < 4; i++) step(x).dispose();
    expect(Array.from(await w.data())).toEqual([-5, -5]);
    expect(step.stats()).toMatchObject({ traced: 4, replayed: 3 });
    const x3 = mb.ones([3]);
    expect(() => step(x3)).toThrow(/sub: shapes \[2\] and \[3\] cannot be broadcast/);
    expect(() => (step as (...a: unknown[]) => unknown)(x, [1])).toThrow(/argument 1 is an array/);
    mb.dispose([x, x3, w]);
    step.dispose();
  });

  it("rejects unknown options and async steps", () => {
    expect(() => mb.compile((x: mb.Tensor) => x, { onRefusl: "warn" } as never)).toThrow(
      /compile: unknown option 'onRefusl'.*onRefusal/,
    );
    const step = mb.compile(async (x: mb.Tensor) => x);
    const x = mb.ones([1]);
    expect(() => step(x)).toThrow(/returned a Promise/);
    x.dispose();
  });
});
