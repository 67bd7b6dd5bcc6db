import { readFileSync } from "node:fs";
import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance, expectClose, tolerance } from "../index";

// Values and gradients of the tensor conveniences a PyTorch port needs, against PyTorch itself
// (src/fixtures/torch-ops.json, written by scripts/fixtures_ops.py), on every backend.

interface Arr {
  data: (number | string)[];
  shape: number[];
}
interface Case {
  name: string;
  inputs: Arr[];
  outputs: Arr[];
  grads?: (number | string)[][];
  dim?: number;
  descending?: boolean;
  k?: number;
  largest?: boolean;
  indices?: number[][];
  mask?: boolean[][];
  value?: number;
}
const num = (v: number | string) => (typeof v === "number" ? v : Number(v));
const FIX: { cases: Case[] } = JSON.parse(
  readFileSync(new URL("../fixtures/torch-ops.json", import.meta.url), "utf8"),
);
const byName = (prefix: string) => FIX.cases.filter((c) => c.name.startsWith(prefix));

function forward(c: Case, x: mb.Tensor): mb.Tensor {
  const op = c.name.split(" ")[0];
  switch (op) {
    case "sort":
      return mb.sort(x, { dim: c.dim, descending: c.descending }).values;
    case "argsort":
      return mb.argsort(x, { dim: c.dim, descending: c.descending });
    case "topk":
      return c.name.startsWith("topk indices")
        ? mb.topk(x, c.k as number, { dim: c.dim, largest: c.largest }).indices
        : mb.topk(x, c.k as number, { dim: c.dim, largest: c.largest }).values;
    case "cumsum":
      return mb.cumsum(x, c.dim as number);
    case "take_along_dim":
      return mb.takeAlongDim(x, mb.tensor(c.indices as number[][], { dtype: "int32" }), c.dim as number);
    case "masked_fill":
      return mb.maskedFill(
        x,
        mb.tensor(c.mask as boolean[][] as unknown as number[][], { dtype: "bool" }),
        c.value as number,
      );
    case "atan":
      return mb.atan(x);
    case "softplus":
      return mb.softplus(x);
    default:
      throw new Error(`no forward for fixture ${c.name}`);
  }
}

describeConformance("conformance: tensor conveniences against PyTorch", (backend) => {
  const tol = tolerance(backend);
  it("covers the fixture file", () => {
    expect(FIX.cases.length).toBeGreaterThanOrEqual(30);
  });
  for (const c of FIX.cases.filter((c) => c.name !== "unique")) {
    it(c.name, async () => {
      await mb.tidy(async () => {
        const input = c.inputs[0];
        const x = mb.tensor(input.data.map(num), input.shape, { requiresGrad: !!c.grads });
        const y = forward(c, x);
        expect(y.shape).toEqual(c.outputs[0].shape);
        expectClose(await y.data(), c.outputs[0].data.map(num), tol, c.name);
        if (c.grads) {
          const w = mb.reshape(mb.linspace(0.5, 1.5, y.size), y.shape);
          mb.sum(mb.mul(y, w)).backward();
          expectClose(await (x.grad as mb.Tensor).data(), c.grads[0].map(num), tol, `${c.name} gradient`);
          x.grad?.dispose();
        }
      });
    });
  }
  it("unique with inverse and counts", async () => {
    const [c] = byName("unique");
    const x = mb.tensor(c.inputs[0].data.map(num), c.inputs[0].shape);
    const { values, inverse, counts } = await mb.unique(x, { returnInverse: true, returnCounts: true });
    expectClose(await values.data(), c.outputs[0].data.map(num), tol, "values");
    expect(Array.from(await (inverse as mb.Tensor).data())).toEqual(c.outputs[1].data.map(num));
    expect(inverse?.shape).toEqual(c.outputs[1].shape);
    expect(Array.from(await (counts as mb.Tensor).data())).toEqual(c.outputs[2].data.map(num));
    mb.dispose([x, values, inverse, counts]);
  });
  it("int32 cumsum stays int32 and argsort of bool works", async () => {
    const x = mb.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: "int32" },
    );
    const y = mb.cumsum(x, 1);
    expect(y.dtype).toBe("int32");
    expect(await y.toArray()).toEqual([
      [1, 3, 6],
      [4, 9, 15],
    ]);
    const b = mb.tensor([1, 0, 1, 0], { dtype: "bool" });
    expect(Array.from(await mb.argsort(b).data())).toEqual([1, 3, 0, 2]);
    mb.dispose([x, y, b]);
  });
  it("errors name the op and the argument", async () => {
    const x = mb.zeros([2, 3]);
    expect(() => mb.topk(x, 4)).toThrow(/topk: k must be an integer in 0..3/);
    expect(() => mb.topk(x, 1.5)).toThrow(/topk: k must be an integer/);
    expect(() => mb.sort(x, { dims: 0 } as unknown as mb.SortOptions)).toThrow(
      /sort: unknown option 'dims'.*did you mean 'dim'/,
    );
    const bad = mb.tensor(
      [
        [0, 3, 1],
        [0, 1, 2],
      ],
      { dtype: "int32" },
    );
    // Raised at once where reads are synchronous, at the next read on a GPU: never a neighbour's value.
    await expect(async () => {
      const y = mb.takeAlongDim(x, bad, 1);
      await y.data();
    }).rejects.toThrow(/out of range/);
    expect(() => mb.maskedFill(x, mb.zeros([2, 3]), 1)).toThrow(
      /maskedFill: mask must have dtype bool, got float32/,
    );
    const p = mb.ones([2], { requiresGrad: true });
    expect(() => p.clamp_(0, 0.5)).toThrow(
      /clamp_: a tensor that requires a gradient cannot be changed in place/,
    );
    mb.noGrad(() => p.clamp_(0, 0.5));
    expect(Array.from(await p.data())).toEqual([0.5, 0.5]);
    mb.dispose([x, p, bad]);
  });
  it("leave nothing behind outside tidy", () => {
    const x = mb.tensor([
      [3, 1, 2],
      [0, 5, 4],
    ]);
    const mask = mb.gt(x, 2);
    const order = mb.argsort(x);
    const before = mb.memory();
    mb.dispose([mb.sort(x), mb.topk(x, 2), mb.argsort(x), mb.cumsum(x, 0), mb.maskedFill(x, mask, 0)]);
    mb.dispose(mb.takeAlongDim(x, order, 1));
    expect(mb.memory().tensors).toBe(before.tensors);
    expect(mb.memory().bytes).toBe(before.bytes);
    mb.dispose([x, mask, order]);
  });
});
