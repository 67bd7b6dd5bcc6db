import "@minibatch/backend-cpu";
import { DataLoader, TensorDataset } from "@minibatch/data";
import { SGD, StepLR } from "@minibatch/optim";
import { compile, manualSeed, memory, noGrad, randint, randn, type Tensor, tidy } from "@minibatch/tensor";
import { describe, expect, it, vi } from "vitest";
import { CrossEntropyLoss, crossEntropy, Dropout, Linear, ReLU, Sequential } from "./index";
import { accuracy } from "./metrics";
import { checkpointEvery, earlyStopping, fit, progress, Trainer } from "./trainer";

function setup() {
  manualSeed(0);
  const x = randn([40, 4]);
  const y = randint(0, 3, [40]);
  const vx = randn([12, 4]);
  const vy = randint(0, 3, [12]);
  manualSeed(1);
  const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3));
  const optimizer = new SGD(model.parameters(), { lr: 0.2, momentum: 0.9 });
  const scheduler = new StepLR(optimizer, 2, 0.5);
  const train = new DataLoader(new TensorDataset(x, y), { batchSize: 8, shuffle: true, seed: 7 });
  const val = new DataLoader(new TensorDataset(vx, vy), { batchSize: 5 });
  return { model, optimizer, scheduler, train, val };
}

async function params(model: Sequential): Promise<number[]> {
  const out: number[] = [];
  for (const p of model.parameters()) out.push(...(await p.data()));
  return out;
}

describe("Trainer", () => {
  it("computes exactly what the hand-written loop computes", async () => {
    // The loop from the nn README, with a loader, a scheduler, a metric and validation.
    const hand = setup();
    const handHistory: Record<string, number>[] = [];
    for (let epoch = 0; epoch < 4; epoch++) {
      hand.model.train();
      let loss = 0;
      let acc = 0;
      let n = 0;
      for await (const [xb, yb] of hand.train) {
        const { l, out } = tidy(() => {
          hand.optimizer.zeroGrad();
          const out = hand.model.call(xb);
          const l = crossEntropy(out, yb);
          l.backward();
          hand.optimizer.step();
          return { l, out };
        });
        loss += (await l.item()) * xb.shape[0];
        acc += (await accuracy(out, yb)) * xb.shape[0];
        n += xb.shape[0];
        for (const t of [l, out, xb, yb]) t.dispose();
      }
      hand.scheduler.step();
      hand.model.eval();
      let vloss = 0;
      let vacc = 0;
      let vn = 0;
      for await (const [xb, yb] of hand.val) {
        const { l, out } = noGrad(() =>
          tidy(() => {
            const out = hand.model.call(xb);
            return { l: crossEntropy(out, yb), out };
          }),
        );
        vloss += (await l.item()) * xb.shape[0];
        vacc += (await accuracy(out, yb)) * xb.shape[0];
        vn += xb.shape[0];
        for (const t of [l, out, xb, yb]) t.dispose();
      }
      handHistory.push({ loss: loss / n, accuracy: acc / n, valLoss: vloss / vn, valAccuracy: vacc / vn });
    }

    const t = setup();
    const live: number[] = [];
    const lines: string[] = [];
    const history = await fit(t.model, t.train, {
      epochs: 4,
      validation: t.val,
      optimizer: t.optimizer,
      scheduler: t.scheduler,
      loss: new CrossEntropyLoss(),
      metrics: { accuracy },
      callbacks: [progress((l) => lines.push(l)), { onEpochEnd: () => void live.push(memory().tensors) }],
    });
    expect(history).toEqual(handHistory);
    expect(await params(t.model)).toEqual(await params(hand.model));
    expect(t.optimizer.paramGroups[0].lr).toBeCloseTo(0.05, 12);
    // Nothing grows between epochs (the optimizer's momentum buffers exist from the first step on).
    expect(new Set(live).size).toBe(1);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(
      /^epoch 1: loss \d\.\d{4}, accuracy \d\.\d{4}, valLoss \d\.\d{4}, valAccuracy \d\.\d{4}$/,
    );
    expect(history[3].loss).toBeLessThan(history[0].loss);
  });

  it("compile: true gives what the eager loop gives, with replayed steps", async () => {
    const run = async (compile: boolean) => {
      const t = setup();
      const history = await fit(t.model, t.train, {
        epochs: 4,
        validation: t.val,
        optimizer: t.optimizer,
        scheduler: t.scheduler,
        loss: crossEntropy,
        metrics: { accuracy },
        compile,
      });
      return { history, params: await params(t.model), tensors: memory().tensors };
    };
    const eager = await run(false);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const compiled = await run(true);
    expect(warn).not.toHaveBeenCalled(); // nothing refused
    warn.mockRestore();
    expect(compiled.history).toEqual(eager.history);
    expect(compiled.params).toEqual(eager.params);
    const t = setup();
    expect(
      () =>
        new Trainer(t.model, {
          optimizer: t.optimizer,
          loss: crossEntropy,
          compile: 1 as unknown as boolean,
        }),
    ).toThrow("Trainer: compile must be a boolean, got 1");
  });

  it("a compiled step with Dropout draws a fresh mask on every replay, as eager mode does", async () => {
    const run = async (compiled: boolean) => {
      manualSeed(5);
      const model = new Sequential(new Linear(4, 16), new ReLU(), new Dropout(0.5), new Linear(16, 3));
      const optimizer = new SGD(model.parameters(), { lr: 0.1 });
      const x = randn([8, 4]);
      const y = randint(0, 3, [8]);
      const body = (xb: Tensor, yb: Tensor) => {
        optimizer.zeroGrad();
        const l = crossEntropy(model.call(xb), yb);
        l.backward();
        optimizer.step();
        return l;
      };
      const step = compiled
        ? compile(body, { onRefusal: "error" })
        : (a: Tensor, b: Tensor) => tidy(() => body(a, b));
      const losses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const l = step(x, y);
        losses.push(await l.item());
        l.dispose();
      }
      return {
        losses,
        params: await params(model),
        replayed: compiled ? (step as ReturnType<typeof compile>).stats().replayed : 0,
      };
    };
    const eager = await run(false);
    const compiled = await run(true);
    expect(compiled.replayed).toBe(9);
    expect(compiled.losses).toEqual(eager.losses);
    expect(compiled.params).toEqual(eager.params);
  });

  it("stops early, checkpoints every N epochs and steps per-batch schedulers", async () => {
    const t = setup();
    const frozen = new SGD(t.model.parameters(), { lr: 0 });
    const saved: number[] = [];
    let steps = 0;
    const trainer = new Trainer(t.model, {
      optimizer: frozen,
      loss: crossEntropy,
      scheduler: { step: () => void steps++ },
      schedulerInterval: "step",
      callbacks: [
        earlyStopping({ monitor: "valLoss", patience: 2 }),
        checkpointEvery(2, (e) => void saved.push(e)),
      ],
    });
    const history = await trainer.fit(t.train, { epochs: 10, validation: t.val });
    // lr 0: valLoss never improves after epoch 1, so training stops after 1 + patience epochs.
    expect(history).toHaveLength(3);
    expect(saved).toEqual([1]);
    expect(steps).toBe(3 * 5);
    expect(trainer.model.training).toBe(true);
  });

  it("says what is wrong with its options and batches", async () => {
    const t = setup();
    expect(
      () => new Trainer(t.model, { optimizer: t.optimizer, loss: crossEntropy, epochs: 3 } as any),
    ).toThrow("Trainer: unknown option 'epochs'");
    expect(() => new Trainer(t.model, { loss: crossEntropy } as any)).toThrow(
      "options.optimizer is required",
    );
    const trainer = new Trainer<{ x: Tensor; y: Tensor }>(t.model, {
      optimizer: t.optimizer,
      loss: crossEntropy,
    });
    const x = randn([2, 4]);
    const y = randint(0, 3, [2]);
    await expect(trainer.fit([{ x, y }], { epochs: 1 })).rejects.toThrow("pass options.split");
    await expect(trainer.fit([], { epochs: 0 })).rejects.toThrow("epochs must be an integer >= 1, got 0");
    const ok = new Trainer<{ x: Tensor; y: Tensor }>(t.model, {
      optimizer: t.optimizer,
      loss: crossEntropy,
      split: (b) => [b.x, b.y],
    });
    const [logs] = await ok.fit([{ x, y }], { epochs: 1 });
    expect(logs.loss).toBeGreaterThan(0);
    expect(x.isDisposed && y.isDisposed).toBe(true);
  });
});
