import "@minibatch/backend-cpu";
import type { Tensor } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { defaultCollate } from "./collate";
import { collateHost, HostArrayPool, type HostBatch, transferables } from "./collate-host";
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

  it("recycles the arrays it lent once released, and only those", () => {
    const pool = new HostArrayPool();
    const a = pool.alloc("float32", 6);
    const b = pool.alloc("int32", 2);
    const own = new Float32Array(6);
    const batch: HostBatch = {
      k: "record",
      fields: {
        x: { k: "nd", data: a, shape: [2, 3], dtype: "float32" },
        y: { k: "tuple", items: [{ k: "nd", data: b, shape: [2], dtype: "int32" }] },
        z: { k: "nd", data: own, shape: [6], dtype: "float32" },
      },
    };
    expect(pool.alloc("float32", 6)).not.toBe(a); // still lent
    pool.release(batch);
    pool.release(batch); // a second release must not hand the same array out twice
    expect(pool.alloc("int32", 2)).toBe(b);
    expect(pool.alloc("float32", 5)).toBeInstanceOf(Float32Array); // another size: a new array
    const next = [pool.alloc("float32", 6), pool.alloc("float32", 6)];
    expect(next).toContain(a);
    expect(next).not.toContain(own); // the batch's own memory is never lent out
  });

  it("collates into arrays from the given allocator", () => {
    const pool = new HostArrayPool();
    const first = collateHost(
      [
        { x: 1, v: Float32Array.of(1, 2) },
        { x: 2, v: Float32Array.of(3, 4) },
      ],
      "",
      pool.alloc,
    );
    pool.release(first);
    const second = collateHost(
      [
        { x: 5, v: Float32Array.of(6, 7) },
        { x: 8, v: Float32Array.of(9, 10) },
      ],
      "",
      pool.alloc,
    );
    expect(second).toEqual(
      collateHost([
        { x: 5, v: Float32Array.of(6, 7) },
        { x: 8, v: Float32Array.of(9, 10) },
      ]),
    );
    const leaf = (b: HostBatch, key: string) =>
      (b as { fields: Record<string, { data: unknown }> }).fields[key].data;
    expect(leaf(second, "v")).toBe(leaf(first, "v"));
  });
});
