import { Generator, memory, tensor } from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import { ReLU } from "./layers/activation";
import { Sequential } from "./layers/container";
import { Linear } from "./layers/linear";
import { Module } from "./module";

describeBackends("Module", () => {
  it("state dicts nest, load strictly, and name the problems", async () => {
    const a = new Sequential(new Linear(3, 4, { generator: new Generator(1) }), new ReLU(), new Linear(4, 2));
    const b = new Sequential(new Linear(3, 4, { generator: new Generator(2) }), new ReLU(), new Linear(4, 2));
    b.loadStateDict(a.stateDict());
    for (const [k, t] of Object.entries(a.stateDict())) {
      expect(Array.from(await b.stateDict()[k].data())).toEqual(Array.from(await t.data()));
    }
    const { "2.bias": _dropped, ...partial } = a.stateDict();
    expect(() => b.loadStateDict(partial)).toThrow(/missing keys: 2.bias/);
    expect(b.loadStateDict(partial, { strict: false }).missing).toEqual(["2.bias"]);
    expect(() => b.loadStateDict({ ...a.stateDict(), extra: tensor([1]) })).toThrow(/unexpected keys: extra/);
    expect(() => b.loadStateDict({ ...a.stateDict(), "0.bias": tensor([1, 2]) })).toThrow(
      /0.bias: expected \[4\], got \[2\]/,
    );
    expect(a.numParameters()).toBe(3 * 4 + 4 + 4 * 2 + 2);
    a.requiresGrad_(false);
    expect(a.parameters().every((p) => !p.requiresGrad)).toBe(true);
    const visited: string[] = [];
    a.apply((m) => visited.push(m.constructor.name));
    expect(visited).toEqual(["Linear", "ReLU", "Linear", "Sequential"]);
    a.dispose();
    b.dispose();
  });

  it("dispose frees every parameter", () => {
    const before = memory().tensors;
    class Net extends Module {
      fc = this.registerModule("fc", new Linear(8, 8));
      forward(x: any) {
        return this.fc.call(x);
      }
    }
    const net = new Net();
    expect(memory().tensors).toBe(before + 2);
    net.dispose();
    expect(memory().tensors).toBe(before);
  });
});
