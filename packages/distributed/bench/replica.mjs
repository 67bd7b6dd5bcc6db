// The replica script of the benchmark: the Batch Normalization paper's MNIST model (784-100-100-100-10,
// BN before each sigmoid), built from the same seed on every rank, trained with SGD.
import "@minibatch/backend-cpu";
import { SyncBatchNorm, serveReplica } from "@minibatch/distributed";
import { crossEntropy, Linear, Sequential, Sigmoid } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { manualSeed } from "@minibatch/tensor";

export function figure1Model(seed) {
  manualSeed(seed);
  const layers = [];
  let width = 784;
  for (let i = 0; i < 3; i++) {
    layers.push(new Linear(width, 100), new SyncBatchNorm(100), new Sigmoid());
    width = 100;
  }
  layers.push(new Linear(100, 10));
  return new Sequential(...layers);
}

serveReplica({
  setup({ options }) {
    const model = figure1Model(options.seed);
    return {
      model,
      optimizer: new SGD(model.parameters(), { lr: options.lr }),
      loss: (out, y) => crossEntropy(out, y),
    };
  },
});
