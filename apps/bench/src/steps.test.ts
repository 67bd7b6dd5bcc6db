// The W3 training steps on a few tiny batches: the compile()-wrapped rows run the very step the
// eager rows run, dispose the loss every step, and a build without compile() skips them with the
// reason. No timing here.
import "@minibatch/backend-cpu";
import * as mb from "@minibatch/tensor";
import { beforeAll, describe, expect, it } from "vitest";
import { randomArray } from "./common";
import { findCompile, MbNet } from "./mb";
import { ModuleNet } from "./mb-modules";

type Step = (x: mb.Tensor, y: mb.Tensor) => mb.Tensor;
const B = 8;
const xs = [1, 2, 3].map((s) => randomArray(B * 784, 100 + s, 0, 1));
const ys = [1, 2, 3].map((s) => Int32Array.from({ length: B }, (_, i) => (i * 7 + s) % 10));

interface Net {
  step(x: Float32Array, y: Int32Array, b: number): void;
  dispose(): void;
}

/** Trains three steps and returns the first weight matrix and the live tensors after steps 1 and 3. */
async function train(net: Net, w0: () => mb.Tensor): Promise<{ w: Float32Array; live: number[] }> {
  const live: number[] = [];
  for (let s = 0; s < 3; s++) {
    net.step(xs[s], ys[s], B);
    live.push(mb.memory().tensors);
  }
  const w = (await w0().data()) as Float32Array;
  net.dispose();
  return { w, live };
}

/** A stand-in for compile(): calls the step itself, and records what went in and came out. */
function recordingCompile(seen: { inputs: number[][][]; out: mb.Tensor[] }) {
  return (fn: Step): Step =>
    (x, y) => {
      seen.inputs.push([[...x.shape], [...y.shape]]);
      const loss = fn(x, y);
      seen.out.push(loss);
      return loss;
    };
}

beforeAll(async () => {
  await mb.setBackend("cpu");
});

describe("compile() detection", () => {
  it("skips with the reason when this build has no compile()", () => {
    expect(findCompile({})).toEqual({ skip: "compile() not available in this build" });
    expect(findCompile({ compile: 1 })).toEqual({ skip: "compile() not available in this build" });
    const compile = (f: Step) => f;
    expect(findCompile({ compile })).toEqual({ compile });
  });
});

describe.each([
  ["raw ops", (wrap?: (f: Step) => Step) => new MbNet(true, 7, wrap), (n: MbNet) => n.W[0]],
  [
    "modules",
    (wrap?: (f: Step) => Step) => new ModuleNet(true, 7, wrap),
    (n: ModuleNet) => n.model.parameters()[0],
  ],
] as const)("the W3 step through %s", (_name, make, weight) => {
  it("wrapped in compile(): the same updates as eager, tensors in, the loss out and disposed", async () => {
    const eagerNet = make() as MbNet & ModuleNet;
    const eager = await train(eagerNet, () => weight(eagerNet));
    const seen = { inputs: [] as number[][][], out: [] as mb.Tensor[] };
    const wrappedNet = make(recordingCompile(seen)) as MbNet & ModuleNet;
    const wrapped = await train(wrappedNet, () => weight(wrappedNet));
    expect(wrapped.w).toEqual(eager.w);
    expect(seen.inputs).toEqual(Array(3).fill([[B, 784], [B]]));
    expect(seen.out.map((l) => [l.shape, l.isDisposed])).toEqual(Array(3).fill([[], true]));
    // Nothing made in a step outlives it: the same number of live tensors after steps 1 and 3.
    expect(wrapped.live[2]).toBe(wrapped.live[0]);
    expect(eager.live[2]).toBe(eager.live[0]);
  });

  const real = (mb as unknown as { compile?: (f: Step) => Step }).compile;
  it.skipIf(typeof real !== "function")(
    "with this build's compile(): close to eager, nothing leaked (skipped: compile() not available in this build)",
    async () => {
      const eagerNet = make() as MbNet & ModuleNet;
      const eager = await train(eagerNet, () => weight(eagerNet));
      const compiledNet = make(real) as MbNet & ModuleNet;
      const compiled = await train(compiledNet, () => weight(compiledNet));
      let worst = 0;
      for (let i = 0; i < eager.w.length; i++) worst = Math.max(worst, Math.abs(compiled.w[i] - eager.w[i]));
      expect(worst).toBeLessThan(1e-4);
      expect(compiled.live[2]).toBe(compiled.live[0]);
    },
  );
});
