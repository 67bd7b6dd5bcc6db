import type { FusedArg, FusedExpr, FusibleOp } from "@minibatch/tensor";
import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { CpuBackend } from "../backend";
import "../index";

// A generated fused kernel must give exactly what the ops give one at a time (they are exactly
// rounded), for every mix of full and scalar operands, several outputs and sizes with a tail.

const cpu = new CpuBackend();

function values(n: number, seed: number): Float32Array {
  const g = new mb.Generator(seed);
  // Zeros, negatives, large and tiny magnitudes, and an occasional NaN or infinity.
  return Float32Array.from({ length: n }, (_, i) =>
    i % 97 === 5
      ? Number.NaN
      : i % 89 === 7
        ? -Infinity
        : i % 13 === 0
          ? 0
          : g.normal() * 10 ** ((i % 7) - 3),
  );
}

const BIN: FusibleOp[] = ["add", "sub", "mul", "div"];

it("random chains equal the ops run one by one, bit for bit", async () => {
  await mb.setBackend("cpu");
  const g = new mb.Generator(11);
  for (let trial = 0; trial < 60; trial++) {
    const size = [64, 65, 67, 130, 1001, 4096][trial % 6];
    const nIn = 1 + g.randint(0, 3);
    const inputs = Array.from({ length: nIn }, (_, k) => (k > 0 && g.random() < 0.3 ? "scalar" : "full")) as (
      | "full"
      | "scalar"
    )[];
    const nodes: FusedExpr["nodes"][number][] = [];
    const nNodes = 2 + g.randint(0, 5);
    const anyArg = (j: number): FusedArg =>
      j > 0 && g.random() < 0.6 ? { node: g.randint(0, j) } : { input: g.randint(0, nIn) };
    const isScalar = (a: FusedArg) => "input" in a && inputs[a.input] === "scalar";
    for (let j = 0; j < nNodes; j++) {
      if (g.random() < 0.2) {
        // Unary ops read a full value: an earlier node or a full input.
        const a = j > 0 ? { node: g.randint(0, j) } : { input: 0 };
        nodes.push({ op: g.random() < 0.5 ? "neg" : "abs", args: [a] });
      } else {
        let a = anyArg(j);
        const b = anyArg(j);
        // At least one operand of a binary op is full (a scalar op scalar is not fused).
        if (isScalar(a) && isScalar(b)) a = { input: 0 };
        nodes.push({ op: BIN[g.randint(0, 4)], args: g.random() < 0.5 ? [a, b] : [b, a] });
      }
    }
    const outputs = [nNodes - 1, ...(g.random() < 0.5 ? [g.randint(0, nNodes - 1)] : [])];
    const expr: FusedExpr = { size, inputs, nodes, outputs, key: `test${trial}` };
    const tensors = inputs.map((k, i) =>
      mb.fromArray(values(k === "full" ? size : 1, trial * 10 + i), k === "full" ? [size] : [], "float32"),
    );
    // Expected: the same ops, eagerly.
    const vals: mb.Tensor[] = [];
    for (const n of nodes) {
      const arg = (a: (typeof n.args)[number]) => ("node" in a ? vals[a.node] : tensors[a.input]);
      const x = arg(n.args[0]);
      vals.push(
        n.args.length === 1 ? (n.op === "neg" ? x.neg() : x.abs()) : x[n.op as "add"](arg(n.args[1])),
      );
    }
    const outs = outputs.map(() => mb.zeros([size]));
    const kernel = cpu.fuseElementwise(expr);
    expect(kernel).not.toBeNull();
    kernel?.(tensors, outs);
    for (let k = 0; k < outputs.length; k++) {
      const got = new Uint32Array((await outs[k].data()).buffer);
      const want = new Uint32Array((await vals[outputs[k]].data()).buffer);
      // Equal bits, except that NaN payloads may differ.
      const gotF = new Float32Array(got.buffer);
      for (let i = 0; i < size; i++) {
        if (Number.isNaN(gotF[i])) expect(Number.isNaN(new Float32Array(want.buffer)[i])).toBe(true);
        else if (got[i] !== want[i])
          expect.fail(
            `trial ${trial} (${expr.key}) output ${k} element ${i}: ${gotF[i]} vs ${new Float32Array(want.buffer)[i]}`,
          );
      }
    }
    mb.dispose([...tensors, ...vals, ...outs]);
  }
});

it("small chains are left unfused, and buffers outside wasm memory take the interpreter", async () => {
  await mb.setBackend("cpu");
  const expr: FusedExpr = {
    size: 100,
    inputs: ["full", "scalar"],
    nodes: [
      { op: "mul", args: [{ input: 0 }, { input: 1 }] },
      { op: "sub", args: [{ input: 0 }, { node: 0 }] },
    ],
    outputs: [1],
    key: "interp",
  };
  expect(cpu.fuseElementwise({ ...expr, size: 10, key: "small" })).toBeNull();
  const x = Float32Array.from({ length: 100 }, (_, i) => i / 7 - 3);
  const out = new Float32Array(100);
  // Plain arrays (ptr -1), as for tensors made before the wasm module loads.
  const info = (values: Float32Array, shape: number[]) => ({
    dataId: { values, dtype: "float32", size: values.length, ptr: -1 },
    shape,
    dtype: "float32" as const,
    size: values.length,
  });
  cpu.fuseElementwise(expr)?.([info(x, [100]), info(new Float32Array([0.3]), [])], [info(out, [100])]);
  for (let i = 0; i < 100; i++) expect(out[i]).toBe(Math.fround(x[i] - Math.fround(x[i] * Math.fround(0.3))));
});
