import { readFileSync } from "node:fs";
import { firstBadIndex, type IndexCheck, indexErrorMessage, tensor, tidy } from "@minibatch/tensor";
import { describeBackends, expectClose, expectIndexError, tolerance } from "@minibatch/testing";
import { expect, it } from "vitest";
import { f32, logSoftmaxRows, values } from "../test/reference";
import { Embedding } from "./layers/embedding";
import { CrossEntropyLoss, crossEntropy, nllLoss } from "./losses";

const int = (xs: number[], shape?: number[]) => tensor(Int32Array.from(xs), shape ?? [xs.length]);

// The same error, at once on the CPU and on the next read on WebGPU, for labels and embedding
// indices out of range (the cross-backend cases of the tensor ops are in packages/testing).
describeBackends("nn: out-of-range labels and embedding indices raise the same error", (backend) => {
  const n = 4;
  const c = 3;
  const logits = f32(values(n * c, 5, -2, 2));

  it("crossEntropy and nllLoss: targets >= C, negative targets, multi-d positions", async () => {
    const x = tensor(logits, [n, c]);
    await expectIndexError(
      () => crossEntropy(x, int([0, 2, 3, 1])),
      "crossEntropy: target 3 at position 2 is out of range for 3 classes (expected 0..2, or ignoreIndex -100)",
    );
    await expectIndexError(
      () => nllLoss(x.logSoftmax(1), int([-1, 0, 0, 0]), { reduction: "none" }),
      "nllLoss: target -1 at position 0 is out of range for 3 classes (expected 0..2, or ignoreIndex -100)",
    );
    await expectIndexError(
      () => crossEntropy(x, int([0, -100, 1, -5]), { ignoreIndex: 1 }),
      "crossEntropy: target -100 at position 1 is out of range for 3 classes (expected 0..2, or ignoreIndex 1)",
    );
    // [N, C, d] logits with [N, d] targets: the position is a multi-index of the target.
    const x3 = tensor(logits, [2, c, 2]);
    await expectIndexError(
      () => new CrossEntropyLoss({ reduction: "sum" }).call(x3, int([0, 1, 7, 2], [2, 2])),
      "crossEntropy: target 7 at position [1, 0] is out of range for 3 classes (expected 0..2, or ignoreIndex -100)",
    );
    // One sample [C] with a 0-d target.
    await expectIndexError(
      () => crossEntropy(tensor(logits.slice(0, c)), tensor(new Int32Array([3]), [])),
      "crossEntropy: target 3 at position 0 is out of range for 3 classes (expected 0..2, or ignoreIndex -100)",
    );
    x.dispose();
    x3.dispose();
  });

  it("the loss is right after an error: ignored targets pass the check and count as before", async () => {
    const x = tensor(logits, [n, c]);
    await expectIndexError(
      () => crossEntropy(x, int([0, 0, 0, 3])),
      "crossEntropy: target 3 at position 3 is out of range for 3 classes (expected 0..2, or ignoreIndex -100)",
    );
    const lp = logSoftmaxRows(logits, n, c);
    const target = [2, -100, 0, 1];
    const ref = -(lp[0 * c + 2] + lp[2 * c + 0] + lp[3 * c + 1]) / 3;
    await tidy(async () => {
      expectClose(await crossEntropy(x, int(target)).data(), [ref], tolerance(backend));
    });
    x.dispose();
  });

  it("Embedding: indices >= numEmbeddings and negative indices", async () => {
    const emb = new Embedding(5, 2);
    await expectIndexError(
      () => emb.call(int([0, 4, 5, 1])),
      "Embedding: index 5 at position 2 is out of range for 5 embeddings (expected 0..4)",
    );
    await expectIndexError(
      () => emb.call(int([0, 1, 2, -1, 3, 4], [2, 3])),
      "Embedding: index -1 at position [1, 0] is out of range for 5 embeddings (expected 0..4)",
    );
    await expectIndexError(
      () => emb.call(tensor(new Int32Array([9]), [])),
      "Embedding: index 9 at position 0 is out of range for 5 embeddings (expected 0..4)",
    );
    // Still usable, and the gradient reaches the looked-up rows.
    const w = Array.from(await emb.weight.data());
    await tidy(async () => {
      const out = emb.call(int([4, 0, 4]));
      expectClose(await out.data(), [w[8], w[9], w[0], w[1], w[8], w[9]]);
      out.sum().backward();
      expect(Array.from(await emb.weight.grad!.data())).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 2, 2]);
    });
    emb.dispose();
  });
});

interface FixtureCase {
  op: "crossEntropy" | "nllLoss" | "Embedding";
  target?: number[];
  ignoreIndex?: number | null;
  indices?: number[];
  shape?: number[];
  raises: boolean;
  torch?: string;
  values?: number[];
}
const fixture: { logits: number[][]; n: number; c: number; embedding: number[][]; cases: FixtureCase[] } =
  JSON.parse(readFileSync(new URL("../test/index-errors.fixture.json", import.meta.url), "utf8"));

// PyTorch decides which inputs are errors (and gives the values of the others); the message is ours.
describeBackends("nn: index checks agree with PyTorch on what is an error", (backend) => {
  const { n, c } = fixture;
  for (const k of fixture.cases) {
    const input = k.op === "Embedding" ? k.indices! : k.target!;
    const name = `${k.op} ${JSON.stringify(input)}${k.ignoreIndex != null ? ` ignoreIndex ${k.ignoreIndex}` : ""}`;
    it(`${name}: ${k.raises ? `error (${k.torch})` : "values"}`, async () => {
      const emb = Embedding.fromPretrained(tensor(fixture.embedding));
      const x = tensor(fixture.logits);
      const opts = k.ignoreIndex != null ? { ignoreIndex: k.ignoreIndex } : {};
      const run = () =>
        k.op === "Embedding"
          ? emb.call(int(input, k.shape))
          : k.op === "crossEntropy"
            ? crossEntropy(x, int(input), { ...opts, reduction: "none" })
            : nllLoss(x.logSoftmax(1), int(input), { ...opts, reduction: "none" });
      if (k.raises) {
        const check: IndexCheck =
          k.op === "Embedding"
            ? { op: "Embedding", what: "index", low: 0, high: 5, range: "5 embeddings" }
            : {
                op: k.op,
                what: "target",
                low: 0,
                high: c,
                ignore: k.ignoreIndex ?? -100,
                range: `${c} classes`,
              };
        const p = firstBadIndex(input, check);
        // PyTorch names the same target.
        if (k.op !== "Embedding") expect(k.torch).toBe(`Target ${input[p]} is out of bounds.`);
        await expectIndexError(run, indexErrorMessage(check, input[p], p, k.shape ?? [n]));
      } else {
        await tidy(async () => {
          expectClose(await run().data(), k.values!, tolerance(backend));
        });
      }
      emb.dispose();
      x.dispose();
    });
  }
});
