import * as mb from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import * as nn from "./index";

// Every op nn builds from other ops is declared with defineComposite("nn.<name>", ...), which
// enrols it in compositeNames(). Each must have a case here: called outside tidy(), with and
// without autograd, disposing its result gives back everything it made.

type Args = (t: Record<string, mb.Tensor>) => unknown[];
const CASES: Record<string, Args> = {
  "nn.crossEntropy": ({ logits, labels }) => [logits, labels, { labelSmoothing: 0.1 }],
  "nn.nllLoss": ({ logits, labels }) => [mb.logSoftmax(logits, 1), labels],
  "nn.mseLoss": ({ x, y }) => [x, y],
  "nn.l1Loss": ({ x, y }) => [x, y, { reduction: "sum" }],
  "nn.huberLoss": ({ x, y }) => [x, y, { delta: 0.5 }],
  "nn.smoothL1Loss": ({ x, y }) => [x, y, { beta: 0.5 }],
  "nn.klDivLoss": ({ x, p }) => [mb.logSoftmax(x, 1), p, { reduction: "batchmean" }],
  "nn.binaryCrossEntropyWithLogits": ({ x, p }) => [x, p],
  "nn.binaryCrossEntropy": ({ p, q }) => [p, q],
  "nn.cosineSimilarity": ({ x, y }) => [x, y],
  "nn.cosineEmbeddingLoss": ({ x, y, sign }) => [x, y, sign],
  "nn.marginRankingLoss": ({ a, b, sign }) => [a, b, sign],
};

describeBackends("nn composites leave nothing behind outside tidy", () => {
  it("every composite declared by nn has a case", () => {
    const declared = mb.compositeNames().filter((n) => n.startsWith("nn."));
    expect(declared.length).toBeGreaterThanOrEqual(12);
    for (const name of declared) expect(Object.keys(CASES), `${name} has a leak case`).toContain(name);
  });
  for (const [name, args] of Object.entries(CASES)) {
    for (const grad of [false, true]) {
      it(`${name}${grad ? " (recorded by autograd, inside tidy)" : ""}`, () => {
        const inputs: Record<string, mb.Tensor> = {
          logits: mb.randn([4, 3], { generator: new mb.Generator(1) }),
          labels: mb.tensor([0, 2, 1, 2], { dtype: "int32" }),
          x: mb.randn([4, 3], { generator: new mb.Generator(2) }),
          y: mb.randn([4, 3], { generator: new mb.Generator(3) }),
          p: mb.rand([4, 3], { generator: new mb.Generator(4) }),
          q: mb.rand([4, 3], { generator: new mb.Generator(5) }),
          a: mb.randn([4], { generator: new mb.Generator(6) }),
          b: mb.randn([4], { generator: new mb.Generator(7) }),
          sign: mb.tensor([1, -1, 1, -1]),
        };
        const fn = (nn as unknown as Record<string, (...a: unknown[]) => mb.Tensor>)[name.slice(3)];
        const made = args(inputs);
        const before = mb.memory();
        if (grad) {
          // Inside tidy with autograd, the graph's intermediates live until the tidy ends.
          mb.tidy(() => {
            const x = (made[0] as mb.Tensor).detach().requiresGrad_();
            fn(x, ...made.slice(1))
              .sum()
              .backward();
            x.grad?.dispose();
            x.dispose();
          });
        } else {
          mb.noGrad(() => fn(...made)).dispose();
        }
        expect(mb.memory().tensors, `${name} tensors`).toBe(before.tensors);
        expect(mb.memory().bytes, `${name} bytes`).toBe(before.bytes);
        mb.dispose([inputs, made]);
      });
    }
  }
});
