// The cost of SyncBatchNorm's exchange path against the fused batch norm kernel, on one thread:
// node bench/syncbn-cost.mjs (after building). Same model, group null (plain BN) vs a group of one.
import "@minibatch/backend-cpu";
import { SingleCollective, SyncBatchNorm, setSyncGroup } from "@minibatch/distributed";
import { crossEntropy, Linear, Sequential, Sigmoid } from "@minibatch/nn";
import { manualSeed, randint, randn, tidy } from "@minibatch/tensor";

manualSeed(1);
const layers = [];
let w = 784;
for (let i = 0; i < 3; i++) {
  layers.push(new Linear(w, 100), new SyncBatchNorm(100), new Sigmoid());
  w = 100;
}
const model = new Sequential(...layers, new Linear(100, 10));
const x = randn([60, 784]);
const y = randint(0, 10, [60]);
const time = (label) => {
  for (let i = 0; i < 20; i++) tidy(() => crossEntropy(model.call(x), y).backward());
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) tidy(() => crossEntropy(model.call(x), y).backward());
  console.log(`${label}: ${((performance.now() - t0) / 200).toFixed(2)} ms per forward + backward`);
};
time("BatchNorm (fused kernel)");
setSyncGroup(model, new SingleCollective());
time("SyncBatchNorm exchange path, group of one");
