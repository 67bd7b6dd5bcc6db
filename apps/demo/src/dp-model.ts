import { SyncBatchNorm } from "@minibatch/distributed";
import { init, Linear, type Module, Sequential, Sigmoid } from "@minibatch/nn";
import { Generator } from "@minibatch/tensor";

/**
 * The paper's Figure 1 network for the data-parallel run: 784-100-100-100-10, batch norm before
 * each sigmoid (SyncBatchNorm, which is BatchNorm1d until a group is set), no bias before batch
 * norm, weights from N(0, initStd^2) drawn from one generator seeded with `seed`, so the main
 * thread and every replica build the same model.
 */
export function figure1Model(seed: number, initStd: number): Module {
  const g = new Generator(seed);
  const layers: Module[] = [];
  let width = 784;
  for (let i = 0; i < 3; i++) {
    const lin = new Linear(width, 100, { bias: false });
    init.normal_(lin.weight, 0, initStd, { generator: g });
    layers.push(lin, new SyncBatchNorm(100), new Sigmoid());
    width = 100;
  }
  const out = new Linear(100, 10);
  init.normal_(out.weight, 0, initStd, { generator: g });
  init.zeros_(out.bias!);
  layers.push(out);
  return new Sequential(...layers);
}
