import { Module } from "@minibatch/nn";
import { tensor } from "@minibatch/tensor";
import "@minibatch/backend-cpu";
import { expect, it } from "vitest";
import { BatchNorm2d, fromPyTorch, toPyTorchStateDictKeys } from "./index";

class Net extends Module {
  bn = this.registerModule("bn", new BatchNorm2d(2));
  forward(x: any) {
    return this.bn.call(x);
  }
}

it("maps state dict keys to and from PyTorch's names", () => {
  const net = new Net();
  const torch = toPyTorchStateDictKeys(net.stateDict());
  expect(Object.keys(torch)).toEqual([
    "bn.weight",
    "bn.bias",
    "bn.running_mean",
    "bn.running_var",
    "bn.num_batches_tracked",
  ]);
  const back = fromPyTorch({ ...torch, "bn.running_var": tensor([4, 5]) });
  expect(Object.keys(back)).toEqual(Object.keys(net.stateDict()));
  net.loadStateDict(back);
  expect(Array.from(net.bn.runningVar!.dataSync())).toEqual([4, 5]);
  expect(toPyTorchStateDictKeys({ "runningMean.weight": 1, runningMean: 2 })).toEqual({
    "runningMean.weight": 1,
    running_mean: 2,
  });
});
