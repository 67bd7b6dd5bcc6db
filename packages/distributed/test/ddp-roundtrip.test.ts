import "@minibatch/backend-cpu";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSafetensors, saveSafetensors } from "@minibatch/nn";
import { fromArray, noGrad } from "@minibatch/tensor";
import { describe, expect, inject, it } from "vitest";
import { DataParallel } from "../src/data-parallel";
import { fromTorchSafetensors, toTorchSafetensors } from "../src/torch";
import { buildModel, makeData } from "./models";

const STEPS = 5;
const BATCH = 16;
const LR = 0.1;
const SCRIPT = fileURLToPath(new URL("../python/ddp_train.py", import.meta.url));

/** Why the round trip cannot run here, or null when python3 with torch and safetensors is present. */
function missingPython(): string | null {
  const r = spawnSync(
    "python3",
    ["-c", "import torch, safetensors, torch.distributed as d; assert d.is_gloo_available()"],
    {
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  if (r.error) return `python3 is not available (${r.error.message})`;
  if (r.status !== 0)
    return `python3 cannot import torch and safetensors with gloo (${r.stderr.trim().split("\n").pop()})`;
  return null;
}

const reason = missingPython();
if (reason) console.log(`skipping the PyTorch DDP round trip: ${reason}`);

describe.skipIf(reason !== null)("PyTorch DDP round trip (gloo, 2 processes, CPU)", () => {
  it("a minibatch model exported to safetensors, trained with DDP + SyncBatchNorm, imported back, gives PyTorch's eval outputs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "minibatch-ddp-"));
    try {
      const model = buildModel("mlp", 7);
      writeFileSync(join(dir, "model.safetensors"), await toTorchSafetensors(model));
      const data = await makeData("mlp", STEPS * BATCH, 11);
      const evalX = Float32Array.from({ length: 8 * 12 }, (_, i) => Math.cos(i * 0.37) * 2 + (i % 4));
      const t = {
        x: fromArray(data.x, [STEPS * BATCH, 12], "float32"),
        y: fromArray(data.y, [STEPS * BATCH], "int32"),
        eval_x: fromArray(evalX, [8, 12], "float32"),
      };
      writeFileSync(join(dir, "data.safetensors"), await saveSafetensors(t));
      const port = String(20000 + (process.pid % 20000));
      const args = [
        SCRIPT,
        "--model",
        "model.safetensors",
        "--data",
        "data.safetensors",
        "--out",
        "trained.safetensors",
      ];
      const r = spawnSync(
        "python3",
        [...args, "--steps", String(STEPS), "--batch", String(BATCH), "--lr", String(LR), "--port", port],
        { cwd: dir, encoding: "utf8", timeout: 280_000, env: { ...process.env, OMP_NUM_THREADS: "1" } },
      );
      expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);

      // Import into a model initialized differently: every value must come from the file.
      const back = buildModel("mlp", 12345);
      const bytes = readFileSync(join(dir, "trained.safetensors"));
      expect(fromTorchSafetensors(back, bytes, { strict: false }).unexpected).toEqual(["eval_out"]);
      back.eval();
      const out = noGrad(() => back.call(t.eval_x));
      const mine = (await out.data()) as Float32Array;
      const file = loadSafetensors(bytes);
      const torchOut = (await file.tensors.eval_out.data()) as Float32Array;
      let worstEval = 0;
      for (let i = 0; i < mine.length; i++) worstEval = Math.max(worstEval, Math.abs(mine[i] - torchOut[i]));
      expect(mine.length).toBe(32);
      expect(worstEval).toBeLessThan(1e-5);
      expect((await back.stateDict()["1.numBatchesTracked"].data())[0]).toBe(STEPS);

      // The same training with DataParallel + SyncBatchNorm on 2 worker threads lands on PyTorch's weights.
      const dp = await DataParallel.start({
        script: inject("replicaScript"),
        workers: 2,
        options: { kind: "mlp", seed: 7, lr: LR },
      });
      for (let s = 0; s < STEPS; s++) {
        await dp.step(
          { data: data.x.slice(s * BATCH * 12, (s + 1) * BATCH * 12), shape: [BATCH, 12] },
          { data: data.y.slice(s * BATCH, (s + 1) * BATCH), shape: [BATCH] },
        );
      }
      const ours = await dp.stateDict();
      await dp.close();
      let worstWeight = 0;
      for (const [k, v] of Object.entries(ours)) {
        const theirs = (await back.stateDict()[k].data()) as Float32Array;
        for (let i = 0; i < v.data.length; i++)
          worstWeight = Math.max(worstWeight, Math.abs(v.data[i] - theirs[i]));
      }
      console.log(
        `DDP round trip: eval outputs of the imported model vs PyTorch: worst |diff| ${worstEval.toExponential(2)}; ` +
          `weights after ${STEPS} steps, minibatch DataParallel (2 threads) vs PyTorch DDP (2 processes): worst |diff| ${worstWeight.toExponential(2)}`,
      );
      expect(worstWeight).toBeLessThan(1e-4);
      for (const x of [...Object.values(t), out, ...Object.values(file.tensors)]) x.dispose();
      model.dispose();
      back.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
