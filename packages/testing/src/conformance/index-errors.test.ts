import { readFileSync } from "node:fs";
import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { describeConformance, expectClose, expectIndexError } from "../index";

const int = (v: number[], shape?: number[]) => mb.tensor(Int32Array.from(v), shape ?? [v.length]);

describeConformance("conformance: out-of-range indices raise the same error on every backend", () => {
  it("indexSelect: too large, too negative, the first bad position, multi-d positions", async () => {
    const x = mb.arange(0, 15).reshape([5, 3]);
    await expectIndexError(
      () => mb.indexSelect(x, 0, int([0, 4, 5, 1])),
      "indexSelect: index 5 at position 2 is out of range for axis 0 of size 5 (expected -5..4)",
    );
    await expectIndexError(
      () => x.indexSelect(-1, int([-3, -4, 2])),
      "indexSelect: index -4 at position 1 is out of range for axis -1 of size 3 (expected -3..2)",
    );
    // Several bad entries: the one at the lowest position is reported, as a loop would find it.
    await expectIndexError(
      () => mb.indexSelect(x, 0, int([0, 1, 2, 3, 9, 0, -6, 7])),
      "indexSelect: index 9 at position 4 is out of range for axis 0 of size 5 (expected -5..4)",
    );
    await expectIndexError(
      () => mb.indexSelect(x, 1, int([0, 1, 2, 2, 3, 0], [2, 3])),
      "indexSelect: index 3 at position [1, 1] is out of range for axis 1 of size 3 (expected -3..2)",
    );
    // Plain arrays are checked on the host before any upload, the same way everywhere.
    expect(() => mb.indexSelect(x, 0, [0, -6])).toThrow(
      "indexSelect: index -6 at position 1 is out of range for axis 0 of size 5 (expected -5..4)",
    );
    expect(() => mb.indexSelect(x, 0, [0.5])).toThrow("indexSelect: indices must be integers, got 0.5");
    x.dispose();
  });

  it("indexSelect over many indices reports the lowest bad position whatever the threads do", async () => {
    const n = 3000;
    const v = Array.from({ length: n }, (_, i) => i % 7);
    v[2900] = 7; // in the last stride of every GPU thread
    v[700] = -8;
    v[1500] = 100;
    const x = mb.arange(0, 7);
    await expectIndexError(
      () => mb.indexSelect(x, 0, int(v)),
      "indexSelect: index -8 at position 700 is out of range for axis 0 of size 7 (expected -7..6)",
    );
    x.dispose();
  });

  it("scatterAdd", async () => {
    const src = mb.ones([2, 3]);
    await expectIndexError(
      () => mb.scatterAdd(src, 1, int([0, 3, 1]), 3),
      "scatterAdd: index 3 at position 1 is out of range for axis 1 of size 3 (expected -3..2)",
    );
    await expectIndexError(
      () => mb.scatterAdd(src, 0, int([-5, 0]), 4),
      "scatterAdd: index -5 at position 0 is out of range for axis 0 of size 4 (expected -4..3)",
    );
    expect(() => mb.scatterAdd(src, 0, int([0, 1, 2]), 4)).toThrow(
      "scatterAdd: expected 1-d indices of length 2 (axis 0 of src [2, 3]), got [3]",
    );
    src.dispose();
  });

  it("oneHot: negative classes and classes >= numClasses", async () => {
    await expectIndexError(
      () => mb.oneHot(int([0, -1, 2]), 3),
      "oneHot: index -1 at position 1 is out of range for 3 classes (expected 0..2)",
    );
    await expectIndexError(
      () => mb.oneHot(int([0, 1, 2, 3], [2, 2]), 3, "int32"),
      "oneHot: index 3 at position [1, 1] is out of range for 3 classes (expected 0..2)",
    );
  });

  it("sync() reports a failed check too", async () => {
    const x = mb.arange(0, 4);
    const message =
      "indexSelect: index 4 at position 0 is out of range for axis 0 of size 4 (expected -4..3)";
    const idx = int([4]);
    if (mb.getBackend().readSync) {
      expect(() => mb.indexSelect(x, 0, idx)).toThrow(message);
    } else {
      const out = mb.indexSelect(x, 0, idx);
      await expect(mb.getBackend().sync!()).rejects.toThrow(message);
      out.dispose();
      // Reported once: the record was cleared.
      await mb.getBackend().sync!();
    }
    idx.dispose();
    x.dispose();
  });

  it("the first failing op in program order is the one reported", async () => {
    const x = mb.arange(0, 4);
    await expectIndexError(
      () => [
        mb.oneHot(int([5]), 4),
        mb.indexSelect(x, 0, int([1, -9])),
        mb.scatterAdd(x, 0, int([0, 0, 0, 9]), 2),
      ],
      "oneHot: index 5 at position 0 is out of range for 4 classes (expected 0..3)",
    );
    x.dispose();
  });

  it("the backend stays usable after the error, and valid indices give the right values", async () => {
    const x = mb.arange(0, 12).reshape([4, 3]);
    await expectIndexError(
      () => mb.indexSelect(x, 0, int([4])),
      "indexSelect: index 4 at position 0 is out of range for axis 0 of size 4 (expected -4..3)",
    );
    await mb.tidy(async () => {
      expectClose(await mb.indexSelect(x, 0, int([3, -4, 1])).data(), [9, 10, 11, 0, 1, 2, 3, 4, 5]);
      expectClose(await mb.indexSelect(x, 1, int([-1, 0], [1, 2])).data(), [2, 0, 5, 3, 8, 6, 11, 9]);
      expectClose(await mb.oneHot(int([2, 0]), 3).data(), [0, 0, 1, 1, 0, 0]);
      expectClose(await mb.scatterAdd(mb.ones([2, 3]), 1, int([0, -1, 0]), 3).data(), [2, 0, 1, 2, 0, 1]);
      // Every element in range, including the edges of a long index (no false alarm).
      const long = Array.from({ length: 1000 }, (_, i) => (i % 8) - 4);
      const got = await mb.indexSelect(x, 0, int(long)).data();
      expect(got.length).toBe(3000);
      expect(got[0]).toBe(0);
      expect(got[3 * 7]).toBe(9);
    });
    x.dispose();
  });
});

const fixture: {
  numClasses: number;
  cases: { indices: number[]; shape: number[]; raises: boolean; torch?: string; values?: number[] }[];
} = JSON.parse(readFileSync(new URL("./index-errors.fixture.json", import.meta.url), "utf8"));

// PyTorch's F.one_hot decides which inputs are errors and gives the values of the others.
describeConformance("conformance: oneHot agrees with PyTorch on what is an error", () => {
  const c = fixture.numClasses;
  for (const k of fixture.cases) {
    it(`oneHot ${JSON.stringify(k.indices)}: ${k.raises ? `error (${k.torch})` : "values"}`, async () => {
      const run = () => mb.oneHot(int(k.indices, k.shape), c);
      if (k.raises) {
        const check: mb.IndexCheck = { op: "oneHot", what: "index", low: 0, high: c, range: `${c} classes` };
        const p = mb.firstBadIndex(k.indices, check);
        await expectIndexError(run, mb.indexErrorMessage(check, k.indices[p], p, k.shape));
      } else {
        await mb.tidy(async () => {
          const out = run();
          expect(out.shape).toEqual([...k.shape, c]);
          expect(Array.from(await out.data())).toEqual(k.values);
        });
      }
    });
  }
});
