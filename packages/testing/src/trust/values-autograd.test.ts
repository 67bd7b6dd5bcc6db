import "@minibatch/backend-cpu";
import * as mb from "@minibatch/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

// Values that cannot be stored exactly are errors, never wrapped, zeroed or floored.
describe("trust: tensor creation stores exactly what it was given, or says why not", () => {
  it("int32 rejects overflow, NaN, Infinity and fractions, naming the index", () => {
    expect(() => mb.tensor([1, 3e9], { dtype: "int32" })).toThrow(
      /tensor: value at index 1: 3000000000 is outside int32's range/,
    );
    expect(() => mb.tensor([-(2 ** 31) - 1], { dtype: "int32" })).toThrow(/outside int32's range/);
    expect(() => mb.tensor([Number.NaN], { dtype: "int32" })).toThrow(/value at index 0: NaN is not finite/);
    expect(() => mb.tensor([0, Number.POSITIVE_INFINITY], { dtype: "int32" })).toThrow(
      /Infinity is not finite/,
    );
    expect(() => mb.tensor(new Uint32Array([2 ** 32 - 1]), { dtype: "int32" })).toThrow(
      /outside int32's range/,
    );
    expect(() => mb.tensor(new Float32Array([0.5]), { dtype: "int32" })).toThrow(/0.5 is not an integer/);
    const edge = mb.tensor([2 ** 31 - 1, -(2 ** 31)], { dtype: "int32" });
    expect(Array.from(edge.dataSync())).toEqual([2 ** 31 - 1, -(2 ** 31)]);
    edge.dispose();
  });
  it("full checks its fill value like tensor()", () => {
    expect(() => mb.full([2], 1.5, { dtype: "int32" })).toThrow(/full: fill value 1.5 is not an integer/);
    expect(() => mb.full([2], 3e9, { dtype: "int32" })).toThrow(/full: fill value 3000000000 is outside/);
    expect(() => mb.full([2], Number.NaN, { dtype: "int32" })).toThrow(/full: fill value NaN is not finite/);
    expect(() => mb.full([2], "1" as unknown as number)).toThrow(/full: fill value must be a number/);
    const t = mb.full([2], -7, { dtype: "int32" });
    expect(Array.from(t.dataSync())).toEqual([-7, -7]);
    t.dispose();
  });
  it("bool follows PyTorch: NaN is true", () => {
    const t = mb.tensor([0, Number.NaN, -0, 2], { dtype: "bool" });
    expect(Array.from(t.dataSync())).toEqual([0, 1, 0, 1]);
    t.dispose();
  });
  it("unknown options are errors with a hint", () => {
    expect(() => mb.tensor([1], { dtyp: "int32" } as unknown as mb.CreateOptions)).toThrow(
      /tensor: unknown option 'dtyp'/,
    );
    expect(() => mb.zeros([1], { requires_grad: true } as unknown as mb.CreateOptions)).toThrow(
      /full: unknown option 'requires_grad' in the options; did you mean 'requiresGrad'\?/,
    );
    expect(() => mb.randn([1], { seed: 1 } as unknown as mb.RandomOptions)).toThrow(/unknown option 'seed'/);
  });
  it("randint takes integer bounds, as PyTorch", () => {
    expect(() => mb.randint(0.5, 1.5, [3])).toThrow(/randint: low and high must be integers, got low=0.5/);
    expect(() => mb.randint(0, 2 ** 32, [3])).toThrow(/randint: high - 1 .* outside int32's range/);
    expect(() => mb.randint(0, 2, [1.5])).toThrow(/randint: shape entries must be non-negative integers/);
    const t = mb.randint(-3, 2, [1000], { generator: new mb.Generator(3) });
    const v = Array.from(t.dataSync());
    t.dispose();
    expect(Math.min(...v)).toBe(-3);
    expect(Math.max(...v)).toBe(1);
  });
  it("arange in int32 cannot overflow", () => {
    expect(() => mb.arange(2 ** 31 - 2, 2 ** 31 + 2)).toThrow(/arange: last value .* outside int32's range/);
    expect(() => mb.arange(0, Number.NaN)).toThrow(/arange: end must be a finite number/);
  });
  it("a number operand int32 cannot hold is an error, not wrapped (as PyTorch)", () => {
    const a = mb.tensor([1], { dtype: "int32" });
    expect(() => mb.add(a, 3e9)).toThrow("add: number operand 3000000000 is outside int32's range");
    const b = mb.add(a, 2 ** 31 - 2);
    expect(Array.from(b.dataSync())).toEqual([2 ** 31 - 1]);
    mb.dispose([a, b]);
  });
  it("integer adds wrap modulo 2^32 (documented; PyTorch's int32 does the same)", () => {
    const a = mb.tensor([2 ** 31 - 1], { dtype: "int32" });
    const b = mb.tensor([1], { dtype: "int32" });
    const c = mb.add(a, b);
    expect(Array.from(c.dataSync())).toEqual([-(2 ** 31)]);
    mb.dispose([a, b, c]);
  });

  it("fuzz: random values and dtypes give the exact values or a clear error (fixed seed)", () => {
    const before = mb.memory().tensors;
    const value = fc.oneof(
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.double(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 31, -(2 ** 31) - 1, 0.5, 3e9),
      fc.boolean(),
    );
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 12 }),
        fc.constantFrom("float32", "int32", "bool", undefined),
        (vals, dtype) => {
          let t: mb.Tensor;
          try {
            t = mb.tensor(vals, dtype ? { dtype: dtype as mb.DType } : {});
          } catch (e) {
            const msg = (e as Error).message;
            // Only int32 has values it cannot hold; float32 and bool take any number or boolean.
            expect(dtype).toBe("int32");
            expect(msg).toMatch(
              /^tensor: value at index \d+: .* (is not finite|is not an integer|is outside)/,
            );
            return;
          }
          const got = Array.from(t.dataSync());
          const dt = t.dtype;
          t.dispose();
          const want = vals.map((v) => {
            const n = Number(v);
            if (dt === "bool") return n !== 0 && !(v === false) ? 1 : 0;
            if (dt === "float32") return Math.fround(n);
            return n + 0; // int32 has no -0
          });
          expect(got).toEqual(want);
        },
      ),
      { seed: 15, numRuns: 400 },
    );
    // Rejected inputs leave nothing allocated.
    expect(mb.memory().tensors).toBe(before);
  });
  it("fuzz: full/zeros/randint/arange/eye arguments are validated before allocation", () => {
    const before = mb.memory();
    const num = fc.oneof(
      fc.integer({ min: -5, max: 6 }),
      fc.double({ min: -10, max: 10 }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, -0.5),
    );
    // Sizes stay small: a valid huge size would allocate for real.
    const dim = fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom(Number.NaN, 1.5, -0));
    fc.assert(
      fc.property(
        fc.constantFrom("full", "randint", "arange", "eye", "randperm", "uniform", "normal"),
        num,
        num,
        fc.array(dim, { maxLength: 3 }),
        dim,
        dim,
        (fn, a, b, shape, n, m) => {
          let out: mb.Tensor | undefined;
          try {
            if (fn === "full") out = mb.full(shape, a, { dtype: "int32" });
            else if (fn === "randint") out = mb.randint(a, b, shape);
            else if (fn === "arange") out = mb.arange(n, Number.isNaN(b) ? b : Math.min(b, 50));
            else if (fn === "eye") out = mb.eye(n, m);
            else if (fn === "randperm") out = mb.randperm(n);
            else if (fn === "uniform") out = mb.uniform(shape, a, b);
            else out = mb.normal(shape, a, b);
          } catch (e) {
            expect((e as Error).message.startsWith(`${fn === "full" ? "full" : fn}:`)).toBe(true);
            return;
          }
          const v = Array.from(out.dataSync());
          out.dispose();
          expect(v.every((x) => Number.isFinite(x))).toBe(true);
          if (fn === "randint") expect(v.every((x) => x >= a && x < b)).toBe(true);
          if (fn === "full") expect(v.every((x) => x === a)).toBe(true);
        },
      ),
      { seed: 151, numRuns: 400 },
    );
    const after = mb.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
  });
});

describe("trust: failed ops leave nothing behind", () => {
  it("split with fractional sizes is refused before any piece is cut", () => {
    const x = mb.arange(0, 6).reshape([2, 3]);
    const before = mb.memory();
    expect(() => mb.split(x, 1.5)).toThrow("split: chunk size must be a positive integer, got 1.5");
    expect(() => mb.split(x, [1.5, 0.5])).toThrow(
      "split: sections must be non-negative integers, got [1.5,0.5]",
    );
    expect(() => mb.split(x, [3, -1])).toThrow(/sections must be non-negative integers/);
    const after = mb.memory();
    expect([after.tensors, after.bytes]).toEqual([before.tensors, before.bytes]);
    x.dispose();
  });
});

describe("trust: autograd state", () => {
  it("assign after the value was used in a graph makes backward raise", () => {
    mb.tidy(() => {
      const w = mb.tensor([1, 2, 3], { requiresGrad: true });
      const x = mb.tensor([4, 5, 6]);
      const loss = mb.mul(w, x).sum();
      x.assign(mb.tensor([0, 0, 0]));
      expect(() => loss.backward()).toThrow(
        /modified by an inplace operation \(assign\).*version 1, expected version 0/,
      );
      // The refused backward changed nothing.
      expect(w.grad).toBeNull();
    });
  });
  it("assign before the graph is built is fine", () => {
    mb.tidy(() => {
      const w = mb.tensor([1, 2], { requiresGrad: true });
      w.assign(mb.tensor([3, 4]));
      mb.square(w).sum().backward();
      expect(Array.from(w.grad!.dataSync())).toEqual([6, 8]);
    });
  });
  it("assign needs the exact shape, not just the size", () => {
    mb.tidy(() => {
      const w = mb.zeros([2, 3]);
      expect(() => w.assign(mb.zeros([3, 2]))).toThrow(
        /assign: expected a value of shape \[2, 3\].*got \[3, 2\]/,
      );
      expect(() => w.assign(mb.zeros([6]))).toThrow(/assign: expected a value of shape \[2, 3\]/);
    });
  });
  it("backward twice raises unless the graph is retained", () => {
    mb.tidy(() => {
      const w = mb.tensor([1, 2], { requiresGrad: true });
      const loss = mb.square(w).sum();
      loss.backward({ retainGraph: true });
      loss.backward();
      expect(Array.from(w.grad!.dataSync())).toEqual([4, 8]);
      expect(() => loss.backward()).toThrow(/backward through the graph a second time.*retainGraph: true/);
      expect(Array.from(w.grad!.dataSync())).toEqual([4, 8]);
      expect(() => loss.backward({ retain_graph: true } as unknown as mb.BackwardOptions)).toThrow(
        /unknown option 'retain_graph' in the options; did you mean 'retainGraph'\?/,
      );
    });
  });
  it("noGrad with an async function is a clear error and leaves grad mode on", async () => {
    expect(() => mb.noGrad(async () => 1)).toThrow(/noGrad: fn returned a Promise/);
    expect(mb.isGradEnabled()).toBe(true);
    const rejecting = () => mb.noGrad(async () => Promise.reject(new Error("x")));
    expect(rejecting).toThrow(/noGrad: fn returned a Promise/);
    // Work that runs while another async function waits keeps its gradients.
    await new Promise((r) => setTimeout(r, 0));
    expect(mb.isGradEnabled()).toBe(true);
    expect(mb.noGrad(() => mb.isGradEnabled())).toBe(false);
    expect(() =>
      mb.noGrad(() => {
        throw new Error("inner");
      }),
    ).toThrow("inner");
    expect(mb.isGradEnabled()).toBe(true);
  });
});
