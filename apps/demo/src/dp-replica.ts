// The worker-thread entry of `--workers-train N` (built to dist/dp-replica.js next to cli.js).
import "@minibatch/backend-cpu";
import { serveReplica } from "@minibatch/distributed";
import { crossEntropy } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { figure1Model } from "./dp-model";

serveReplica<{ seed: number; initStd: number; lr: number }>({
  setup({ options }) {
    const model = figure1Model(options.seed, options.initStd);
    return {
      model,
      optimizer: new SGD(model.parameters(), { lr: options.lr }),
      loss: (logits, labels) => crossEntropy(logits, labels),
    };
  },
});
