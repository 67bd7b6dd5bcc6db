import "@minibatch/backend-cpu";
import { Linear, loadSafetensors, Sequential, saveSafetensors } from "@minibatch/nn";
import { BatchNorm1d } from "@minibatch/norm";
import { full, manualSeed, tensor } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import { fromTorchSafetensors, toTorchSafetensors } from "./torch";

const model = (seed: number) => {
  manualSeed(seed);
  return new Sequential(new Linear(3, 2), new BatchNorm1d(2));
};

describe("PyTorch safetensors", () => {
  it("exports PyTorch's key names and imports them back, with a DDP 'module.' prefix stripped", async () => {
    const a = model(1);
    a.call(
      tensor([
        [1, 2, 3],
        [4, 5, 7],
      ]),
    ); // one training step moves the running statistics
    const bytes = await toTorchSafetensors(a);
    const file = loadSafetensors(bytes);
    expect(Object.keys(file.tensors).sort()).toEqual([
      "0.bias",
      "0.weight",
      "1.bias",
      "1.num_batches_tracked",
      "1.running_mean",
      "1.running_var",
      "1.weight",
    ]);
    // As DDP saves it: every key under "module.", plus an extra tensor.
    const ddp = Object.fromEntries(Object.entries(file.tensors).map(([k, t]) => [`module.${k}`, t]));
    const extra = full([2], 7);
    const back = model(2);
    const res = fromTorchSafetensors(back, await saveSafetensors({ ...ddp, eval_out: extra }), {
      strict: false,
    });
    expect(res.unexpected).toEqual(["eval_out"]);
    for (const [k, t] of Object.entries(a.stateDict())) {
      expect(Array.from(await back.stateDict()[k].data()), k).toEqual(Array.from(await t.data()));
    }
    expect(() => fromTorchSafetensors(model(3), bytes.slice(0, 20))).toThrow();
    const strict = await saveSafetensors({ ...file.tensors, eval_out: extra });
    expect(() => fromTorchSafetensors(model(3), strict)).toThrow(/unexpected keys: eval_out/);
  });
});
