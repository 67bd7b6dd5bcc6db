import "@minibatch/backend-cpu";
import type { Tensor } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { defaultCollate } from "./collate";
import { collateHost, transferables } from "./collate-host";
import { ndarray } from "./ndarray";
import { vals } from "./test-utils";

describe("collate", () => {
  it("maps typed arrays to dtypes like tensor() does", () => {
    const f = defaultCollate<Tensor>([Float64Array.of(1.5), Float64Array.of(2.5)]);
    expect(f.dtype).toBe("float32");
    const i = defaultCollate<Tensor>([Uint8Array.of(255), Uint8Array.of(7)]);
    expect(i.dtype).toBe("int32");
    expect(vals(i)).toEqual([255, 7]);
    const b = defaultCollate<Tensor>([
      ndarray(Uint8Array.of(1, 0), [2], "bool"),
      ndarray(Uint8Array.of(0, 1), [2], "bool"),
    ]);
    expect(b.dtype).toBe("bool");
    expect(b.shape).toEqual([2, 2]);
  });

  it("keeps NDArray shapes and stacks scalars into [batch]", () => {
    const t = defaultCollate<Tensor>([
      ndarray(Float32Array.of(1, 2, 3, 4), [2, 2]),
      ndarray(Float32Array.of(5, 6, 7, 8), [2, 2]),
    ]);
    expect(t.shape).toEqual([2, 2, 2]);
    const s = defaultCollate<Tensor>([ndarray(Int32Array.of(3), []), ndarray(Int32Array.of(4), [])]);
    expect(s.shape).toEqual([2]);
    expect(s.dtype).toBe("int32");
  });

  it("names the problem and the field", () => {
    expect(() => collateHost([{ a: 1 }, { b: 1 }])).toThrow("sample 0 has fields {a} but sample 1 has {b}");
    expect(() => collateHost([[1, 2], [1]])).toThrow("sample 0 is a tuple of 2 items but sample 1 has 1");
    expect(() => collateHost([{ a: 1 }, { a: "x" }])).toThrow(
      "sample 0 is a number but sample 1 is a string at 'a'",
    );
    expect(() => collateHost([{ a: [new Float32Array(2)] }, { a: [new Float32Array(3)] }])).toThrow(
      "unequal shapes at 'a[0]': sample 0 has shape [2], sample 1 has shape [3]",
    );
    expect(() => collateHost([new Map()])).toThrow(/cannot collate a Map/);
    expect(() => collateHost([Int32Array.of(1), Float32Array.of(1)])).toThrow(
      /different dtypes: sample 0 is int32, sample 1 is float32/,
    );
  });

  it("lists the buffers to transfer", () => {
    const h = collateHost([{ a: Float32Array.of(1), b: [2, "x"] }]);
    expect(transferables(h)).toHaveLength(2);
  });
});
