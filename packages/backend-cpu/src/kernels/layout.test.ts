import "../index";
import * as mb from "@minibatch/tensor";
import { describe, expect, it } from "vitest";

// The front end checks indices before these kernels run; the kernels' own guard is for callers
// that reach them directly, and uses the same message builder.
describe("cpu gather / scatterAdd kernels guard their indices", () => {
  it("throw the shared index error for an out-of-range index", async () => {
    await mb.setBackend("cpu");
    const before = mb.memory().tensors;
    // A kernel that throws leaves no outputs behind (the engine frees them).
    const made = mb.tidy(() => {
      const x = mb.arange(0, 6);
      const idx = mb.tensor(Int32Array.from([0, 5]));
      const attrs = { outer: 2, dim: 3, inner: 1, n: 2 };
      expect(() => mb.runOp("gather", [x, idx], [{ shape: [4], dtype: "float32" }], attrs)).toThrow(
        new RangeError(
          "gather: index 5 at position 1 is out of range for a dimension of size 3 (expected -3..2)",
        ),
      );
      const src = mb.ones([2, 2]);
      const neg = mb.tensor(Int32Array.from([-4, 0]));
      expect(() => mb.runOp("scatterAdd", [src, neg], [{ shape: [6], dtype: "float32" }], attrs)).toThrow(
        "scatterAdd: index -4 at position 0 is out of range for a dimension of size 3 (expected -3..2)",
      );
      return [x, idx, src, neg];
    });
    mb.dispose(made);
    expect(mb.memory().tensors).toBe(before);
  });
});
