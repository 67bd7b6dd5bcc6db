import * as mb from "@minibatch/tensor";
import {
  BINARY_OPS,
  BINARY_SPECS,
  COMPARE_OPS,
  COMPARE_SPECS,
  UNARY_OPS,
  UNARY_SPECS,
} from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance, expectClose, gradCheck, tolerance } from "../index";

// Every elementwise op is declared once in the spec tables of @minibatch/tensor. This suite derives
// its cases from them, so an op added to a table is tested on every backend (values against the
// spec's float64 reference, gradients against finite differences, no leaks) with no edit here, and
// an op whose front-end function or Tensor method is missing fails below.

const api = mb as unknown as Record<string, unknown>;

it("every spec'd op has a front-end function and (unary) a Tensor method", () => {
  for (const op of [...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS]) {
    expect(typeof api[op], `export '${op}' from @minibatch/tensor`).toBe("function");
  }
  const x = mb.tensor([0.5]);
  for (const op of UNARY_OPS) {
    expect(typeof (x as unknown as Record<string, unknown>)[op], `Tensor.prototype.${op}`).toBe("function");
  }
  x.dispose();
});

function refOf(f: (v: number) => number, values: readonly number[], dtype: "float32" | "int32" | "bool") {
  return values.map((v) => {
    const r = f(v);
    if (dtype === "bool") return r ? 1 : 0;
    return dtype === "int32" ? Math.trunc(r) | 0 : Math.fround(r);
  });
}

describeConformance("conformance: unary ops from UNARY_SPECS", (backend) => {
  const tol = tolerance(backend);
  for (const op of UNARY_OPS) {
    const spec = UNARY_SPECS[op];
    const fn = api[op] as (x: mb.Tensor) => mb.Tensor;
    const input = spec.dtype === "bool" ? "bool" : "float32";
    it(`${op}: values`, async () => {
      const vals = spec.cases.values.map((v) => Math.fround(v));
      const x = mb.tensor(vals, { dtype: input === "bool" ? "float32" : input });
      const y = fn(x);
      expect(y.dtype).toBe(spec.dtype === "bool" ? "bool" : "float32");
      const outDtype = spec.dtype === "bool" ? "bool" : "float32";
      expectClose(await y.data(), refOf(spec.ref, vals, outDtype), tol, `${op}(${vals.join(", ")})`);
      // The method and the function agree.
      const m = (x as unknown as Record<string, () => mb.Tensor>)[op]();
      expect(Array.from(await m.data())).toEqual(Array.from(await y.data()));
      mb.dispose([x, y, m]);
    });
    if (spec.dtype === "numeric") {
      it(`${op}: int32 stays int32`, async () => {
        const vals = [-3, -1, 0, 2, 5];
        const x = mb.tensor(vals, { dtype: "int32" });
        const y = fn(x);
        expect(y.dtype).toBe("int32");
        expect(Array.from(await y.data())).toEqual(refOf(spec.ref, vals, "int32"));
        mb.dispose([x, y]);
      });
    }
    if (spec.dtype === "float") {
      it(`${op}: int32 input computes in float32`, async () => {
        const x = mb.tensor([1, 2, 3], { dtype: "int32" });
        const y = fn(x);
        expect(y.dtype).toBe("float32");
        expectClose(await y.data(), refOf(spec.ref, [1, 2, 3], "float32"), tol, op);
        mb.dispose([x, y]);
      });
    }
    if (spec.grad && spec.cases.grad) {
      it(`${op}: gradient vs finite differences`, async () => {
        const pts = [...(spec.cases.grad as number[])];
        await gradCheck(fn, [{ values: pts, shape: [pts.length] }], { eps: 1e-3 });
      });
    }
    it(`${op}: leaves nothing behind outside tidy`, () => {
      const x = mb.tensor([0.5, 1, 2]);
      const before = mb.memory();
      fn(x).dispose();
      const xi = mb.tensor([1, 2, 3], { dtype: "int32" });
      const mid = mb.memory();
      fn(xi).dispose(); // with a cast in front
      expect(mb.memory().tensors).toBe(mid.tensors);
      expect(mb.memory().bytes).toBe(mid.bytes);
      expect(mid.tensors).toBe(before.tensors + 1);
      mb.dispose([x, xi]);
    });
  }
});

describeConformance("conformance: binary ops from BINARY_SPECS and COMPARE_SPECS", (backend) => {
  const tol = tolerance(backend);
  const specs: Record<string, mb.BinarySpec> = { ...BINARY_SPECS, ...COMPARE_SPECS };
  for (const op of [...BINARY_OPS, ...COMPARE_OPS]) {
    const spec = specs[op];
    const fn = api[op] as (a: mb.Tensor | number, b: mb.Tensor | number) => mb.Tensor;
    const compare = spec.dtype === "compare";
    const outDtype = compare ? "bool" : "float32";
    it(`${op}: values, broadcast both ways`, async () => {
      const a = spec.cases.a.map(Math.fround);
      const b = spec.cases.b.map(Math.fround);
      const ta = mb.tensor(a, [2, 3]);
      const tb = mb.tensor(b, [2, 3]);
      const y = fn(ta, tb);
      expect(y.dtype).toBe(outDtype);
      const expected = a.map((v, i) => spec.ref(v, b[i]));
      expectClose(
        await y.data(),
        refOf((v) => v, expected, outDtype),
        tol,
        op,
      );
      // [2, 3] with a [3] row and with a scalar number
      const row = mb.tensor(b.slice(0, 3));
      const yr = fn(ta, row);
      expectClose(
        await yr.data(),
        refOf(
          (v) => v,
          a.map((v, i) => spec.ref(v, b[i % 3])),
          outDtype,
        ),
        tol,
        `${op} row`,
      );
      const ys = fn(ta, b[0]);
      expectClose(
        await ys.data(),
        refOf(
          (v) => v,
          a.map((v) => spec.ref(v, b[0])),
          outDtype,
        ),
        tol,
        `${op} scalar`,
      );
      mb.dispose([ta, tb, y, row, yr, ys]);
    });
    if (spec.grad && spec.cases.grad) {
      it(`${op}: gradients vs finite differences, with broadcasting`, async () => {
        // Keep clear of ties (maximum/minimum have kinks there) by offsetting b.
        const a = [...spec.cases.a];
        const b = spec.cases.b.slice(0, 3).map((v) => v + 0.013);
        await gradCheck(
          (x, y) => fn(x, y),
          [
            { values: a, shape: [2, 3] },
            { values: b, shape: [3] },
          ],
          { eps: 1e-3 },
        );
      });
    }
    it(`${op}: leaves nothing behind outside tidy`, () => {
      const x = mb.tensor([1, 2, 3], { dtype: "int32" });
      const before = mb.memory();
      fn(x, 2.5).dispose();
      expect(mb.memory().tensors).toBe(before.tensors);
      expect(mb.memory().bytes).toBe(before.bytes);
      x.dispose();
    });
  }
});
