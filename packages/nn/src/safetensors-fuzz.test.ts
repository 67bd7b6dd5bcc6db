import "@minibatch/backend-cpu";
import { memory, type Tensor, tensor } from "@minibatch/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadSafetensors, saveSafetensors } from "./safetensors";

// The safetensors parser gives back exactly what was written, or an error that says why; it never
// returns garbage and never leaves tensors behind. Fixed seeds, a few hundred runs each.
describe("safetensors fuzz", () => {
  const named = fc.dictionary(
    fc.string({ unit: fc.constantFrom("a", "b", ".", "_", "1", "é"), minLength: 1, maxLength: 5 }),
    fc.tuple(
      fc.constantFrom("float32", "int32", "bool"),
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
      fc.infiniteStream(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    ),
    { maxKeys: 4 },
  );

  it("round-trips random tensors and metadata exactly", async () => {
    await fc.assert(
      fc.asyncProperty(
        named,
        fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }),
        async (spec, metadata) => {
          if ("__metadata__" in spec) return;
          const want: Record<string, { dtype: string; shape: number[]; values: number[] }> = {};
          const tensors: Record<string, Tensor> = {};
          for (const [name, [dtype, shape, stream]] of Object.entries(spec)) {
            const n = shape.reduce((a, b) => a * b, 1);
            const it = stream[Symbol.iterator]();
            const values = Array.from({ length: n }, () => {
              const v = it.next().value as number;
              return dtype === "bool" ? v & 1 : dtype === "float32" ? Math.fround(v / 1024) : v;
            });
            want[name] = { dtype, shape, values };
            tensors[name] = tensor(values, shape, { dtype: dtype as "float32" });
          }
          const bytes = await saveSafetensors(tensors, metadata);
          for (const t of Object.values(tensors)) t.dispose();
          const live = memory().tensors;
          const got = loadSafetensors(bytes);
          expect(Object.keys(got.tensors).sort()).toEqual(Object.keys(want).sort());
          for (const [name, w] of Object.entries(want)) {
            const t = got.tensors[name];
            expect([t.dtype, [...t.shape], Array.from(t.dataSync())]).toEqual([w.dtype, w.shape, w.values]);
            t.dispose();
          }
          expect(got.metadata ?? {}).toEqual(metadata);
          expect(memory().tensors).toBe(live);
        },
      ),
      { seed: 2024, numRuns: 200 },
    );
  });

  it("mutated files load or fail with 'loadSafetensors: ...', leaving no tensors behind", async () => {
    const good = await saveSafetensors(
      { w: tensor([1, 2, 3, 4], [2, 2]), b: tensor([5, 6], { dtype: "int32" }), m: tensor([true, false]) },
      { note: "x" },
    );
    const live = memory().tensors;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.oneof(fc.constant(0), fc.integer({ min: -12, max: 12 })),
        (edits, grow) => {
          const bytes = new Uint8Array(Math.max(0, good.length + grow));
          bytes.set(good.subarray(0, Math.min(bytes.length, good.length)));
          for (const [at, v] of edits) if (at < bytes.length) bytes[at] = v;
          try {
            const got = loadSafetensors(bytes);
            for (const t of Object.values(got.tensors)) {
              // Whatever loaded is whole: its buffer holds every element of its shape.
              expect(t.dataSync().length).toBe(t.size);
              t.dispose();
            }
          } catch (e) {
            expect((e as Error).message).toMatch(/^loadSafetensors: /);
          }
          expect(memory().tensors).toBe(live);
        },
      ),
      { seed: 77, numRuns: 400 },
    );
  });
});
