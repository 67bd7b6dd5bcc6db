import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Generator, keep, noGrad, type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import { values } from "../test/reference";
import {
  checkpointFromBytes,
  checkpointToBytes,
  loadCheckpoint,
  type OptimizerState,
  saveCheckpoint,
} from "./checkpoint";
import { ReLU } from "./layers/activation";
import { Sequential } from "./layers/container";
import { Conv2d } from "./layers/conv";
import { Dropout } from "./layers/dropout";
import { Linear } from "./layers/linear";
import { MaxPool2d } from "./layers/pooling";
import { Flatten } from "./layers/shape";
import { crossEntropy } from "./losses";
import { loadSafetensors } from "./safetensors";

/** SGD with momentum, implementing the optimizer contract checkpoints rely on. */
class MomentumSgd {
  step_ = 0;
  private buf = new Map<number, Tensor>();
  constructor(
    private readonly params: Tensor[],
    private lr: number,
    private readonly momentum = 0.9,
  ) {}
  step(): void {
    this.step_++;
    noGrad(() =>
      this.params.forEach((p, i) => {
        if (!p.grad) return;
        const old = this.buf.get(i);
        const b = keep(old ? old.mul(this.momentum).add(p.grad) : p.grad.clone());
        old?.dispose();
        this.buf.set(i, b);
        const next = p.sub(b.mul(this.lr));
        p.assign(next);
        next.dispose();
      }),
    );
  }
  stateDict(): OptimizerState {
    const state: OptimizerState["state"] = {};
    for (const [i, b] of this.buf) state[i] = { momentumBuffer: b, step: this.step_ };
    return {
      state,
      paramGroups: [
        { lr: this.lr, momentum: this.momentum, params: this.params.map((_, i) => i), best: Infinity },
      ],
    };
  }
  loadStateDict(s: OptimizerState): void {
    for (const b of this.buf.values()) b.dispose();
    this.buf.clear();
    for (const [i, slots] of Object.entries(s.state)) {
      this.buf.set(Number(i), slots.momentumBuffer as Tensor);
      this.step_ = slots.step as number;
    }
    this.lr = s.paramGroups[0].lr as number;
    expect(s.paramGroups[0].best).toBe(Infinity);
  }
  dispose(): void {
    for (const b of this.buf.values()) b.dispose();
  }
}

const makeModel = (seed: number) => {
  const g = new Generator(seed);
  return new Sequential(
    new Conv2d(1, 4, 3, { padding: 1, generator: g }),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Dropout(0.25, { generator: g }),
    new Linear(4 * 2 * 2, 3, { generator: g }),
  );
};

describeBackends("checkpoints", () => {
  // Made lazily: the backend under test is only active once the tests run.
  const data = () => ({
    x: tensor(values(5 * 16, 3), [5, 1, 4, 4]),
    y: tensor(new Int32Array([0, 2, 1, 1, 0])),
  });
  const trainSteps = (model: Sequential, opt: MomentumSgd, n: number) => {
    const { x, y } = data();
    for (let i = 0; i < n; i++) {
      tidy(() => {
        model.zeroGrad();
        crossEntropy(model.call(x), y).backward();
        opt.step();
      });
    }
  };
  const predict = (model: Sequential) => tidy(() => noGrad(() => model.eval().call(data().x)));

  it("model + optimizer + extra round trip: identical predictions, and training resumes identically", async () => {
    const a = makeModel(1);
    const optA = new MomentumSgd(a.parameters(), 0.05);
    trainSteps(a, optA, 3);
    const bytes = await checkpointToBytes({
      model: a,
      optimizer: optA,
      extra: { epoch: 3, tag: "run-1", ema: tensor([0.5]) },
    });

    // PyTorch sees plain state dict keys plus optimizer tensors.
    const raw = loadSafetensors(bytes);
    expect(Object.keys(raw.tensors).sort()).toEqual(
      [
        "0.bias",
        "0.weight",
        "5.bias",
        "5.weight",
        "extra.ema",
        ...[0, 1, 2, 3].map((i) => `optimizer.state.${i}.momentumBuffer`),
      ].sort(),
    );
    expect(raw.metadata.format).toBe("minibatch.checkpoint");

    const b = makeModel(99);
    const optB = new MomentumSgd(b.parameters(), 123);
    const { extra } = checkpointFromBytes(bytes, { model: b, optimizer: optB });
    expect(extra.epoch).toBe(3);
    expect(extra.tag).toBe("run-1");
    expect(Array.from(await (extra.ema as Tensor).data())).toEqual([0.5]);
    expect(optB.step_).toBe(3);
    expect(Array.from(await predict(b).data())).toEqual(Array.from(await predict(a).data()));

    // In eval mode (no dropout draws) further steps stay bit-identical only if momentum and lr were restored.
    a.eval();
    b.eval();
    trainSteps(a, optA, 2);
    trainSteps(b, optB, 2);
    for (const [k, t] of Object.entries(a.stateDict())) {
      expect(Array.from(await b.stateDict()[k].data()), k).toEqual(Array.from(await t.data()));
    }
    optA.dispose();
    optB.dispose();
    a.dispose();
    b.dispose();
  });

  it("saveCheckpoint / loadCheckpoint through a file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minibatch-nn-"));
    try {
      const a = makeModel(2);
      const path = join(dir, "model.safetensors");
      await saveCheckpoint(path, { model: a });
      expect((await readFile(path)).length).toBeGreaterThan(8);
      const b = makeModel(3);
      await loadCheckpoint(path, { model: b });
      expect(Array.from(await predict(b).data())).toEqual(Array.from(await predict(a).data()));
      // Asking for optimizer state that is not there is an error, not a silent skip.
      await expect(loadCheckpoint(path, { model: b, optimizer: new MomentumSgd([], 1) })).rejects.toThrow(
        /no optimizer state/,
      );
      // A different architecture fails strictly with the offending keys.
      const other = new Sequential(new Linear(2, 2));
      await expect(loadCheckpoint(path, { model: other })).rejects.toThrow(
        /missing keys: 0.weight|shape mismatches/,
      );
      a.dispose();
      b.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
