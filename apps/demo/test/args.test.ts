import { describe, expect, it } from "vitest";
import { ArgError, HELP, parseArgs, withDefaultParallel } from "../src/args";

describe("parseArgs", () => {
  it("gives the paper's defaults with no flags", () => {
    const o = parseArgs([]);
    expect(o).toMatchObject({
      command: "train",
      backend: "cpu",
      model: "mlp",
      batchSize: 60,
      lr: 0.5,
      json: false,
    });
    expect(o.norms).toEqual(["batch", "none"]);
    expect(o.steps).toBeNull();
  });

  it("reads every flag, with a space or '='", () => {
    const o = parseArgs([
      "--backend=webgpu",
      "--steps",
      "20",
      "--batch-size",
      "32",
      "--lr=0.1",
      "--seed",
      "7",
      "--norm",
      "none,batch,layer,group,renorm,ghost",
      "--model",
      "cnn",
      "--out",
      "x",
      "--json",
    ]);
    expect(o).toMatchObject({
      backend: "webgpu",
      steps: 20,
      batchSize: 32,
      lr: 0.1,
      seed: 7,
      model: "cnn",
      out: "x",
    });
    expect(o.norms).toHaveLength(6);
    expect(o.json).toBe(true);
  });

  it("reads the subcommands and their flags", () => {
    expect(
      parseArgs(["batch-sizes", "--batch-sizes", "1,8", "--budget", "3", "--target", "0.8"]),
    ).toMatchObject({
      command: "batch-sizes",
      batchSizes: [1, 8],
      budget: 3,
      target: 0.8,
    });
    expect(parseArgs(["lr", "--lrs", "0.5,15"]).lrs).toEqual([0.5, 15]);
    expect(parseArgs(["all", "--quick", "--repeats", "5", "--paper"])).toMatchObject({
      command: "all",
      quick: true,
      repeats: 5,
      paper: true,
    });
    expect(parseArgs(["stream", "--copies", "3", "--memory-cap-mb", "32"])).toMatchObject({
      copies: 3,
      memoryCapMb: 32,
    });
    for (const c of ["gradient-noise", "stream", "inputs", "small-batch"])
      expect(parseArgs([c]).command).toBe(c);
    expect(parseArgs(["--", "lr"]).command).toBe("lr");
    expect(parseArgs(["--paper", "--parallel", "--eager"])).toMatchObject({
      paper: true,
      parallel: true,
      eager: true,
    });
    expect(parseArgs([])).toMatchObject({ parallel: false, sequential: false, eager: false });
    expect(parseArgs(["--paper", "--sequential"])).toMatchObject({
      paper: true,
      sequential: true,
      parallel: false,
    });
  });

  it("--paper trains the runs in parallel where there are two cores, unless --sequential", () => {
    const parallel = (argv: string[], cores: number) => withDefaultParallel(parseArgs(argv), cores).parallel;
    expect(parallel(["--paper"], 2)).toBe(true);
    expect(parallel(["--paper"], 1)).toBe(false);
    expect(parallel(["--paper", "--sequential"], 8)).toBe(false);
    expect(parallel(["--paper", "--norm", "batch"], 8)).toBe(false); // one run: nothing to share
    expect(parallel(["--paper", "--backend", "webgpu"], 8)).toBe(false);
    expect(parallel([], 8)).toBe(false); // the short default stays sequential (workers cost seconds)
    expect(parallel(["--parallel"], 1)).toBe(true);
  });

  it.each([
    [["--bogus"], /unknown flag '--bogus'/],
    [["--step", "5"], /did you mean '--steps'/],
    [["--norm", "btach"], /did you mean 'batch'/],
    [["--paper", "--steps", "5"], /leave out --steps/],
    [["lr", "--paper"], /--paper applies to the Figure 1 run/],
    [["lr", "--parallel"], /--parallel applies to the Figure 1 runs/],
    [["--parallel", "--backend", "webgpu"], /--parallel trains one run per core on the cpu backend/],
    [["--parallel", "--sequential"], /--parallel or --sequential, not both/],
    [["lr", "--sequential"], /--sequential applies to the Figure 1 runs/],
    [["--repeats", "0"], /positive integer/],
    [["--steps"], /--steps expects a value/],
    [["--steps", "0"], /positive integer/],
    [["--steps", "ten"], /expects a number/],
    [["--lr", "-1"], /--lr must be positive/],
    [["--norm", "batch,weird"], /--norm must be one of/],
    [["--model", "rnn"], /--model must be one of mlp, cnn/],
    [["--backend", "tpu"], /--backend must be one of cpu, webgpu/],
    [["--steps", "5", "--epochs", "1"], /not both/],
    [["--batch-size", "1"], /needs --batch-size 2 or more/],
    [["fly"], /unknown command 'fly'/],
    [["--json=1"], /takes no value/],
    [["--seed", "1", "--seed", "2"], /given twice/],
  ])("rejects %j", (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(ArgError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it("lets the baseline alone train on batches of one", () => {
    expect(parseArgs(["--norm", "none", "--batch-size", "1"]).batchSize).toBe(1);
  });

  it("documents every flag in the help", () => {
    for (const flag of [
      "--backend",
      "--steps",
      "--epochs",
      "--batch-size",
      "--lr",
      "--seed",
      "--norm",
      "--model",
      "--out",
      "--json",
      "--help",
      "--eager",
      "--parallel",
    ]) {
      expect(HELP).toContain(flag);
    }
  });
});
