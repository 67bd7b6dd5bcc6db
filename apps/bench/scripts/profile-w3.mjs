#!/usr/bin/env node
// The profile of a compiled W3 step: the MNIST MLP of the bench (784-100-100-100-10, sigmoid, with
// or without batch norm) through the module API, compiled, on synthetic data of MNIST's shape.
// Prints host microseconds per launch, averaged over replays, slowest first, and the eager and
// compiled step rates of this run. Run after `pnpm build`:
//   node apps/bench/scripts/profile-w3.mjs [--batch 60] [--no-bn] [--replays 50]
import "@minibatch/backend-cpu";
import { crossEntropy, Linear, Sequential, Sigmoid } from "@minibatch/nn";
import { BatchNorm1d } from "@minibatch/norm";
import { SGD } from "@minibatch/optim";
import * as mb from "@minibatch/tensor";

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const batch = flag("batch", 60);
const replays = flag("replays", 50);
const bn = !args.includes("--no-bn");

function net() {
  mb.manualSeed(1);
  const sizes = [784, 100, 100, 100, 10];
  const layers = [];
  for (let l = 0; l < 4; l++) {
    layers.push(new Linear(sizes[l], sizes[l + 1], { bias: !bn || l === 3 }));
    if (l < 3) {
      if (bn) layers.push(new BatchNorm1d(sizes[l + 1]));
      layers.push(new Sigmoid());
    }
  }
  const model = new Sequential(...layers);
  const opt = new SGD(model.parameters(), { lr: 0.5 });
  return (x, y) => {
    opt.zeroGrad();
    const loss = crossEntropy(model.call(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
}

const g = new mb.Generator(2);
const x = mb.keep(mb.rand([batch, 784], { generator: g }));
const y = mb.keep(mb.randint(0, 10, [batch], { generator: g }));

function rate(step, steps) {
  for (let i = 0; i < 200; i++) step(x, y).dispose();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step(x, y).dispose();
  return (steps * batch) / ((performance.now() - t0) / 1000);
}

const eagerBody = net();
const eager = (a, b) => mb.tidy(() => eagerBody(a, b));
const compiled = mb.compile(net(), { onRefusal: "error" });
const eagerRate = rate(eager, 1000);
const compiledRate = rate(compiled, 1000);

const total = new Map();
for (let r = 0; r < replays; r++) {
  const { result, rows } = compiled.profile(x, y);
  result.dispose();
  for (const row of rows) {
    const key = `${row.op} ${JSON.stringify(row.shapes)}`;
    total.set(key, (total.get(key) ?? 0) + row.ms);
  }
}
const sum = [...total.values()].reduce((a, b) => a + b, 0);
console.log(
  `compiled W3 step, ${bn ? "BN" : "no BN"}, batch ${batch}: host time per launch, mean of ${replays} replays`,
);
for (const [key, ms] of [...total].sort((a, b) => b[1] - a[1])) {
  console.log(
    `${((ms / replays) * 1000).toFixed(1).padStart(8)} us ${((ms / sum) * 100).toFixed(1).padStart(5)} %  ${key}`,
  );
}
const s = compiled.stats();
console.log(
  `total ${((sum / replays) * 1000).toFixed(0)} us per step; ${s.launches} launches (${s.fused} fused), ${s.heldBytes} bytes held`,
);
console.log(`samples/s in this run: eager ${eagerRate.toFixed(0)}, compiled ${compiledRate.toFixed(0)}`);
