import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_CLI_DIR } from "./global-setup";

const cli = join(TEST_CLI_DIR, "cli.js");
const tmp = mkdtempSync(join(tmpdir(), "minibatch-demo-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: "utf8", timeout: 100_000 });
}

const SMALL = ["--train-size", "1200", "--test-size", "300"];

describe("demo CLI", () => {
  it("--json --steps 20 prints one JSON document with verdicts and writes the report", () => {
    const out = join(tmp, "report");
    const r = run(["--json", "--steps", "20", "--eval-every", "10", ...SMALL, "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.study).toBe("train");
    expect(summary.runs.map((x: { name: string }) => x.name)).toEqual(["bn", "baseline"]);
    expect(summary.verdicts.map((v: { claim: number }) => v.claim)).toEqual([6, 6, 6]);
    for (const run of summary.runs) {
      expect(run).toMatchObject({ backend: "cpu", steps: 20, batchSize: 60, lr: 0.5 });
      expect(run.trainSamplesPerSec).toBeGreaterThan(0);
      expect(run.trainSamplesPerSecSpread.n).toBe(2);
      expect(run.curve.map((p: { step: number }) => p.step)).toEqual([0, 10, 20]);
      expect(run.curve[0].loss).toBeNull();
      expect(run.curve[2].loss).toBeGreaterThan(0);
      for (const p of run.curve) {
        expect(p.trainModeAccuracy).toBeGreaterThanOrEqual(0);
        expect(typeof p.p50).toBe("number");
      }
    }
    // gamma and beta exist with BN only, and start at 1 and 0.
    expect(summary.runs[0].curve[0]).toMatchObject({ gamma: 1, beta: 0 });
    expect(summary.runs[1].curve[0].gamma).toBeNull();
    // Same seed, same start: identical weights give the same eval-mode accuracy at step 0.
    expect(summary.runs[0].curve[0].testAccuracy).toBeCloseTo(summary.runs[1].curve[0].testAccuracy, 5);
    for (const f of [
      "index.html",
      "fig1a-test-accuracy.svg",
      "fig1b-sigmoid-input-baseline.svg",
      "fig1c-sigmoid-input-bn.svg",
      "gamma-beta-bn.svg",
      "results.json",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).toContain("<figcaption>");
    expect(html).toContain("short version");
    expect(html).toContain("explanation, not an established fact");
  });

  it("is reproducible from --seed", () => {
    const args = [
      "--json",
      "--steps",
      "10",
      "--eval-every",
      "5",
      ...SMALL,
      "--seed",
      "7",
      "--out",
      join(tmp, "seed"),
    ];
    const curves = [run(args), run(args)].map((r) =>
      JSON.parse(r.stdout).runs.map((x: { curve: unknown }) => x.curve),
    );
    expect(curves[0]).toEqual(curves[1]);
    const other = JSON.parse(run([...args.slice(0, -4), "--seed", "8", "--out", join(tmp, "seed")]).stdout);
    expect(other.runs.map((x: { curve: unknown }) => x.curve)).not.toEqual(curves[0]);
  });

  it("--parallel and --eager train the same runs as the default (compiled, one after the other)", () => {
    const args = ["--json", "--steps", "10", "--eval-every", "5", ...SMALL, "--seed", "3"];
    const runs = (extra: string[], out: string) => {
      const r = run([...args, ...extra, "--out", join(tmp, out)]);
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout).runs.map((x: { name: string; curve: unknown; testAccuracy: number }) => [
        x.name,
        x.curve,
        x.testAccuracy,
      ]);
    };
    const plain = runs([], "plain");
    expect(runs(["--parallel"], "parallel")).toEqual(plain);
    expect(runs(["--eager"], "eager")).toEqual(plain);
  });

  it("all --quick runs every study and reports a verdict for each claim 1-7", () => {
    const out = join(tmp, "all");
    const r = run(["all", "--quick", "--json", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.studies.map((s: { id: string }) => s.id)).toEqual([
      "train",
      "batch-sizes",
      "gradient-noise",
      "stream",
      "inputs",
      "lr",
      "small-batch",
    ]);
    const claims = new Set(doc.verdicts.map((v: { claim: number }) => v.claim));
    expect([...claims].sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const v of doc.verdicts) {
      expect(["holds", "partly", "does not hold", "not measured"]).toContain(v.outcome);
      expect(v.evidence).toMatch(/\d/); // every verdict cites numbers from the run
    }
    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).toContain("Every claim, and what this run measured");
    for (const f of [
      "train-fig1a-test-accuracy.svg",
      "batch-sizes-memory.svg",
      "gradient-noise-gradient-variance.svg",
      "stream-stream-memory.svg",
      "inputs-inputs-none.svg",
      "lr-lr-accuracy.svg",
      "small-batch-small-batch-accuracy.svg",
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    // Nothing of the streaming study's scratch file is left behind.
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith("minibatch-stream-"))).toEqual([]);
  }, 180_000);

  it("exits non-zero with a message, a hint and the help on a bad flag", () => {
    const r = run(["--stpes", "20"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: unknown flag '--stpes'; did you mean '--steps'\?/);
    expect(r.stderr).toContain("Usage:");
    expect(run(["gradient-nosie"]).stderr).toContain("did you mean 'gradient-noise'?");
  });

  it("exits non-zero on a bad value and prints help on --help", () => {
    const bad = run(["--norm", "batch,bogus"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--norm must be one of none, batch, layer, group, renorm, ghost");
    expect(run(["--paper", "--steps", "10"]).stderr).toContain("--paper sets the paper's 50,000 steps");
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage:");
    expect(help.stdout).toContain("default: steps / 20, 50 for 1,000");
  });
});
