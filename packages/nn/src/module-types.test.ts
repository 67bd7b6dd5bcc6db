import "@minibatch/backend-cpu";
import { type Tensor, tensor } from "@minibatch/tensor";
import { describe, expect, expectTypeOf, it } from "vitest";
import { CrossEntropyLoss, Linear, Module, ReLU, Sequential } from "./index";

// `call` takes its types from each module's `forward`. The expectations below are checked by the
// package's typecheck (tsc reads test files); the runtime part checks that call still forwards.
class TwoInputs extends Module<[Tensor, number], { sum: Tensor; scale: number }> {
  forward(x: Tensor, scale: number) {
    return { sum: x.mul(scale).sum(), scale };
  }
}

describe("typed Module.call", () => {
  it("returns what forward returns, for built-in and user modules", async () => {
    const x = tensor([[1, 2]]);
    const lin = new Linear(2, 3);
    const y = lin.call(x);
    expectTypeOf(y).toEqualTypeOf<Tensor>();
    expectTypeOf(new Sequential(lin, new ReLU()).call(x)).toEqualTypeOf<Tensor>();
    expectTypeOf(new CrossEntropyLoss().call(y, tensor(new Int32Array([0])))).toEqualTypeOf<Tensor>();
    const out = new TwoInputs().call(x, 2);
    expectTypeOf(out).toEqualTypeOf<{ sum: Tensor; scale: number }>();
    expect(await out.sum.item()).toBe(6);
    expect(y.shape).toEqual([1, 3]);
    // A module seen as the base class still accepts anything (as before).
    const anyModule: Module = lin;
    expectTypeOf(anyModule.call(x)).toBeAny();
  });

  it("rejects wrong arguments at compile time", () => {
    // Never called: these lines exist for the typecheck, where each must be an error.
    const wrongCalls = (x: Tensor) => {
      const lin = new Linear(2, 3);
      // @ts-expect-error Linear.forward takes one tensor
      lin.call(x, x);
      // @ts-expect-error TwoInputs needs a number as its second argument
      new TwoInputs().call(x, "2");
      // @ts-expect-error a loss takes the input and the target
      new CrossEntropyLoss().call(x);
      // @ts-expect-error the result is a Tensor, not a number
      const n: number = lin.call(x);
      return n;
    };
    expect(wrongCalls).toBeTypeOf("function");
  });
});
