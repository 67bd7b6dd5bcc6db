import "@minibatch/backend-cpu";
import { crossEntropy } from "@minibatch/nn";
import { SGD } from "@minibatch/optim";
import { serveReplica } from "../src/replica";
import { buildModel, type Kind } from "./models";

// The worker script of the tests: every replica builds the model from the same seed (rank 0's
// weights are broadcast anyway) and trains it with SGD with momentum. `failSetup` and `failStep`
// make one rank fail, for the error-path tests.
serveReplica<{
  kind: Kind;
  seed: number;
  lr: number;
  failSetup?: boolean;
  failStep?: { rank: number; step: number };
}>({
  setup({ options, rank }) {
    if (options.failSetup) throw new Error(`setup failed on purpose on rank ${rank}`);
    const model = buildModel(options.kind, options.seed);
    const optimizer = new SGD(model.parameters(), { lr: options.lr, momentum: 0.9 });
    let steps = 0;
    return {
      model,
      optimizer,
      loss: (out, y) => {
        const f = options.failStep;
        if (f && f.rank === rank && f.step === steps)
          throw new Error(`loss failed on purpose at step ${steps}`);
        steps++;
        return crossEntropy(out, y);
      },
    };
  },
});
