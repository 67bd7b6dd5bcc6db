import "@minibatch/backend-cpu";
import { crossEntropy } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { serveReplica } from "../src/replica";
import { buildModel, type Kind } from "./models";

// The worker script of the tests: every replica builds the model from the same seed (rank 0's
// weights are broadcast anyway) and trains it with SGD with momentum.
serveReplica<{ kind: Kind; seed: number; lr: number }>({
  setup({ options }) {
    const model = buildModel(options.kind, options.seed);
    const optimizer = new SGD(model.parameters(), { lr: options.lr, momentum: 0.9 });
    return { model, optimizer, loss: (out, y) => crossEntropy(out, y) };
  },
});
