import { crossEntropy, Linear, type Module, Sequential, Sigmoid } from "@minibatch/nn";
import { BatchNorm1d } from "@minibatch/norm";
import { SGD } from "@minibatch/optim";
import * as mb from "@minibatch/tensor";
import { gatherBatch, initialParams, LAYERS, type Mnist } from "./common";
import { EPS, LR, stepFromArrays } from "./mb";

/**
 * W3 through the module API the READMEs teach (Linear, BatchNorm1d, Sigmoid, Sequential,
 * crossEntropy, SGD), from the same initial weights as the raw-ops row. With BN the hidden Linear
 * layers have no bias (it would cancel in the normalization), as in the raw-ops net.
 */
export class ModuleNet {
  readonly model: Sequential;
  readonly opt: SGD;

  /** The training step, tensors in and the loss out: `trainStep`, or `compile(trainStep)`. */
  private readonly run: (x: mb.Tensor, y: mb.Tensor) => mb.Tensor;

  /** `wrap`: compile() for the compiled rows; the step then replays after its first call. */
  constructor(
    bn: boolean,
    seed: number,
    wrap?: (fn: (x: mb.Tensor, y: mb.Tensor) => mb.Tensor) => (x: mb.Tensor, y: mb.Tensor) => mb.Tensor,
  ) {
    const trainStep = (x: mb.Tensor, y: mb.Tensor) => this.trainStep(x, y);
    this.run = wrap ? wrap(trainStep) : trainStep;
    const p = initialParams(seed);
    const layers: Module[] = [];
    for (let l = 0; l < 4; l++) {
      const [fanIn, fanOut] = [LAYERS[l], LAYERS[l + 1]];
      const lin = new Linear(fanIn, fanOut, { bias: !(bn && l < 3) });
      // Our initial W is [in, out]; Linear's weight is PyTorch's [out, in].
      const wt = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < fanIn; i++)
        for (let o = 0; o < fanOut; o++) wt[o * fanIn + i] = p.W[l][i * fanOut + o];
      const init = mb.fromArray(wt, [fanOut, fanIn], "float32");
      const zero = mb.zeros([fanOut]);
      mb.noGrad(() => {
        lin.weight.assign(init);
        lin.bias?.assign(zero); // zero biases, as the raw-ops net
      });
      mb.dispose([init, zero]);
      layers.push(lin);
      if (l < 3) {
        if (bn) layers.push(new BatchNorm1d(fanOut, { eps: EPS, momentum: 0.1 }));
        layers.push(new Sigmoid());
      }
    }
    this.model = new Sequential(...layers);
    this.opt = new SGD(this.model.parameters(), { lr: LR });
  }

  /** Forward, backward and the SGD update on one batch (x [B, 784] float32, y [B] int32); returns the loss. */
  trainStep(xt: mb.Tensor, yt: mb.Tensor): mb.Tensor {
    const logits = this.model.call(xt) as mb.Tensor;
    const loss = crossEntropy(logits, yt);
    this.opt.zeroGrad();
    loss.backward();
    this.opt.step();
    return loss;
  }

  /** One step from JavaScript arrays, the same for eager and compiled: the caller disposes the loss. */
  step(x: Float32Array, y: Int32Array, batch: number): void {
    stepFromArrays(this.run, x, y, batch);
  }

  async accuracy(data: Mnist): Promise<number> {
    const n = data.testY.length;
    const { x } = gatherBatch(
      data.testX,
      data.testY,
      Int32Array.from({ length: n }, (_, i) => i),
      0,
      n,
    );
    this.model.eval();
    const pred = mb.noGrad(() =>
      mb.tidy(() => (this.model.call(mb.fromArray(x, [n, 784], "float32")) as mb.Tensor).argmax(1)),
    );
    this.model.train();
    const p = await pred.data();
    pred.dispose();
    let ok = 0;
    for (let i = 0; i < n; i++) if (p[i] === data.testY[i]) ok++;
    return (100 * ok) / n;
  }

  async settle(): Promise<void> {
    await this.model.parameters()[0].data();
  }

  dispose(): void {
    this.opt.dispose();
    this.model.dispose();
  }
}
