import { pad, type Tensor, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, tolerance } from "@minibatch/testing";
import { afterAll, expect, it } from "vitest";
import { fixture, outputWeights, runCase, type TorchCase, WorstError } from "../../test/fixtures";
import type { Module } from "../module";
import { Conv1d, Conv2d, ConvTranspose2d } from "./conv";
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "./pooling";
import { Upsample } from "./upsample";

interface LayerCase {
  module: keyof typeof MODULES;
  title: string;
  args: any[];
  options: Record<string, any>;
  params: Record<string, { values: number[]; shape: number[] }>;
  input: { values: number[]; shape: number[] };
  output: { values: number[]; shape: number[] };
  grads: Record<string, number[]>;
}

const MODULES = {
  Conv2d: (a: any[], o: any) => new Conv2d(a[0], a[1], a[2], o),
  Conv1d: (a: any[], o: any) => new Conv1d(a[0], a[1], a[2], o),
  ConvTranspose2d: (a: any[], o: any) => new ConvTranspose2d(a[0], a[1], a[2], o),
  MaxPool2d: (a: any[], o: any) => new MaxPool2d(a[0], o),
  AvgPool2d: (a: any[], o: any) => new AvgPool2d(a[0], o),
  AdaptiveAvgPool2d: (a: any[]) => new AdaptiveAvgPool2d(a[0]),
  Upsample: (_: any[], o: any) => new Upsample(o),
};

const layers = fixture<{ cases: LayerCase[] }>("layers.json").cases;
const pads = fixture<{ cases: TorchCase[] }>("pad.json").cases;
const worst: Record<string, { value: WorstError; grad: WorstError }> = {};
const track = (name: string) => {
  worst[name] ??= { value: new WorstError(), grad: new WorstError() };
  return worst[name];
};

describeBackends("layers against PyTorch 2.13", (backend) => {
  const tol = tolerance(backend);
  for (const c of layers) {
    it(`${c.module}: ${c.title}`, async () => {
      const m: Module = MODULES[c.module](c.args, c.options);
      const named = Object.fromEntries(m.namedParameters());
      expect(Object.keys(named).sort()).toEqual(Object.keys(c.params).sort());
      for (const [k, p] of Object.entries(c.params)) {
        expect(named[k].shape).toEqual(p.shape);
        tidy(() => named[k].assign(tensor(p.values, p.shape)));
      }
      const x = tensor(c.input.values, c.input.shape, { requiresGrad: true });
      const y = tidy(() => {
        const out = m.call(x) as Tensor;
        out
          .mul(tensor(outputWeights(out.size), out.shape))
          .sum()
          .backward();
        return out;
      });
      const w = track(c.module);
      expect(y.shape).toEqual(c.output.shape);
      const got = await y.data();
      expectClose(got, c.output.values, tol, "output");
      w.value.add(got, c.output.values);
      const gx = await x.grad!.data();
      expectClose(gx, c.grads.input, tol, "input gradient");
      w.grad.add(gx, c.grads.input);
      for (const k of Object.keys(c.params)) {
        const g = await named[k].grad!.data();
        expectClose(g, c.grads[k], tol, `${k} gradient`);
        w.grad.add(g, c.grads[k]);
      }
      y.dispose();
      x.grad?.dispose();
      x.dispose();
      m.dispose();
    });
  }

  for (const c of pads) {
    it(`pad: ${c.title}`, async () => {
      const o = c.options;
      const r = await runCase(c, (x) => pad(x, o.pads, o.mode, o.value ?? 0));
      expect(r.shape).toEqual(c.output.shape);
      const w = track("pad");
      expectClose(r.out, c.output.values, tol, "output");
      w.value.add(r.out, c.output.values);
      expectClose(r.grads[0]!, c.grads[0] as number[], tol, "gradient");
      w.grad.add(r.grads[0]!, c.grads[0]!);
    });
  }
});

afterAll(() => {
  for (const [name, w] of Object.entries(worst)) {
    console.log(
      `${name} vs PyTorch: ${w.value.count} runs, worst |diff| values ${w.value.max.toExponential(2)}, gradients ${w.grad.max.toExponential(2)}`,
    );
  }
});
