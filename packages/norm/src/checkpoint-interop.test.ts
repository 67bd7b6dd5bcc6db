import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  checkpointFromBytes,
  checkpointToBytes,
  Linear,
  loadSafetensors,
  type OptimizerState,
  Sequential,
  Sigmoid,
  saveCheckpoint,
} from "@minibatch/nn";
import { memory, tensor, tidy } from "@minibatch/tensor";
import "@minibatch/backend-cpu";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatchNorm1d } from "./index";

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));
const ref = JSON.parse(readFileSync(join(fixtures, "torch-bn-model.json"), "utf8"));

/** The same architecture as the PyTorch fixture: Linear(4, 5), BatchNorm1d(5), Sigmoid, Linear(5, 3). */
function model() {
  return new Sequential(new Linear(4, 5), new BatchNorm1d(5), new Sigmoid(), new Linear(5, 3));
}
function evalOut(m: ReturnType<typeof model>): number[] {
  m.eval();
  return tidy(() => Array.from(m.call(tensor(ref.x, ref.xShape)).dataSync()));
}
function snapshot(m: ReturnType<typeof model>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.dataSync())]));
}

describe("checkpoints and PyTorch", () => {
  it("writes PyTorch's key names (running_mean, running_var, num_batches_tracked)", async () => {
    const bytes = await checkpointToBytes({ model: model() });
    const { tensors } = loadSafetensors(bytes);
    const keys = Object.keys(tensors);
    for (const t of Object.values(tensors)) t.dispose();
    expect(keys.sort()).toEqual([...ref.keys].sort());
  });

  it("a safetensors file written by PyTorch loads with the same eval outputs", () => {
    const m = model();
    checkpointFromBytes(readFileSync(join(fixtures, "torch-bn-model.safetensors")), { model: m });
    const y = evalOut(m);
    const worst = Math.max(...y.map((v, i) => Math.abs(v - ref.y[i])));
    console.log(
      `PyTorch-written safetensors: ${y.length} eval outputs, worst abs error ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(1e-5);
    // num_batches_tracked came from an int64 tensor.
    expect(Array.from(m.stateDict()["1.numBatchesTracked"].dataSync())).toEqual([3]);
  });

  it("PyTorch loads a minibatch checkpoint with a strict load_state_dict (runs python3 + torch when present)", async (ctx) => {
    let why = "";
    try {
      execFileSync("python3", ["-c", "import torch, safetensors"], { stdio: "pipe", timeout: 60_000 });
    } catch (e) {
      why = `python3 with torch and safetensors is not available (${(e as Error).message.split("\n")[0]})`;
    }
    if (why) {
      console.log(`skipped: ${why}`);
      ctx.skip();
      return;
    }
    const m = model();
    checkpointFromBytes(readFileSync(join(fixtures, "torch-bn-model.safetensors")), { model: m });
    const want = evalOut(m);
    const dir = mkdtempSync(join(tmpdir(), "mb-interop-"));
    const file = join(dir, "mb.safetensors");
    writeFileSync(file, await checkpointToBytes({ model: m }));
    const script = `
import json, sys, torch
from safetensors.torch import load_file
m = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Sigmoid(), torch.nn.Linear(5, 3))
sd = load_file(sys.argv[1])
m.load_state_dict(sd, strict=True)
m.eval()
x = torch.tensor(json.loads(sys.argv[2]), dtype=torch.float32).reshape(${JSON.stringify(ref.xShape)})
with torch.no_grad():
    print(json.dumps(m(x).reshape(-1).tolist()))
`;
    const out = execFileSync("python3", ["-c", script, file, JSON.stringify(ref.x)], {
      encoding: "utf8",
      timeout: 120_000,
    });
    const got = JSON.parse(out.trim().split("\n").pop()!);
    const worst = Math.max(...got.map((v: number, i: number) => Math.abs(v - want[i])));
    console.log(`minibatch checkpoint loaded strictly by PyTorch: worst abs error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
  });

  it("checkpointFromBytes validates everything before changing the model", async () => {
    const m = model();
    const before = snapshot(m);
    const bytes = readFileSync(join(fixtures, "torch-bn-model.safetensors"));
    const optimizer = {
      stateDict: (): OptimizerState => ({ state: {}, paramGroups: [] }),
      loadStateDict() {},
    };
    let live = memory().tensors;
    expect(() => checkpointFromBytes(bytes, { model: m, optimizer })).toThrow(
      "checkpoint: an optimizer was given but the file holds no optimizer state",
    );
    expect(snapshot(m)).toEqual(before);
    expect(memory().tensors).toBe(live);
    // A model that does not fit: nothing changes either.
    const other = new Sequential(new Linear(4, 5), new BatchNorm1d(5), new Sigmoid(), new Linear(5, 2));
    const otherBefore = snapshot(other);
    live = memory().tensors;
    expect(() => checkpointFromBytes(bytes, { model: other })).toThrow(
      /nothing was loaded.*shape mismatches: 3\.weight/,
    );
    expect(snapshot(other)).toEqual(otherBefore);
    expect(memory().tensors).toBe(live);
    // An optimizer that rejects its state: the model is untouched.
    const picky = {
      stateDict: (): OptimizerState => ({ state: {}, paramGroups: [] }),
      loadStateDict() {
        throw new Error("picky: bad state");
      },
    };
    const saved = await checkpointToBytes({ model: model(), optimizer: picky });
    live = memory().tensors;
    expect(() => checkpointFromBytes(saved, { model: m, optimizer: picky })).toThrow("picky: bad state");
    expect(snapshot(m)).toEqual(before);
    expect(memory().tensors).toBe(live);
  });

  it("a failed rename removes the temporary file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mb-ckpt-"));
    const target = join(dir, "taken");
    mkdirSync(join(target, "inside"), { recursive: true }); // a non-empty directory cannot be replaced
    await expect(saveCheckpoint(target, { model: model() })).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(existsSync(join(target, "inside"))).toBe(true);
  });

  it("fuzz: mutated checkpoints load exactly or fail with a clear error, leaving model and memory untouched", async () => {
    const good = await checkpointToBytes({ model: model(), extra: { epoch: 3 } });
    const m = model();
    checkpointFromBytes(good, { model: m });
    const before = snapshot(m);
    const live = memory();
    let loaded = 0;
    let rejected = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.oneof(fc.constant(0), fc.integer({ min: -16, max: -1 })),
        (edits, cut) => {
          const bytes = good.slice(0, good.length + cut);
          for (const [at, v] of edits) if (at < bytes.length) bytes[at] = v;
          try {
            const res = checkpointFromBytes(bytes, { model: m });
            loaded++;
            for (const v of Object.values(res.extra)) (v as { dispose?: () => void })?.dispose?.();
            // Loading again from the original restores the reference state for the next run.
            checkpointFromBytes(good, { model: m });
          } catch (e) {
            rejected++;
            expect((e as Error).message).toMatch(/^(loadSafetensors|checkpoint|loadStateDict): /);
            expect(snapshot(m)).toEqual(before);
          }
        },
      ),
      { seed: 42, numRuns: 300 },
    );
    expect(snapshot(m)).toEqual(before);
    expect(memory().tensors).toBe(live.tensors);
    console.log(
      `checkpoint fuzz: 300 mutated files, ${loaded} loaded, ${rejected} rejected with a clear error`,
    );
  });
});
