import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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

describe("demo CLI", () => {
  it("--json --steps 20 prints the summary schema and writes the report", () => {
    const out = join(tmp, "report");
    const r = run([
      "--json",
      "--steps",
      "20",
      "--eval-every",
      "10",
      "--train-size",
      "1200",
      "--test-size",
      "500",
      "--out",
      out,
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(Object.keys(summary)).toEqual(["runs"]);
    expect(summary.runs.map((x: { name: string }) => x.name)).toEqual(["bn", "baseline"]);
    for (const run of summary.runs) {
      expect(run).toMatchObject({ backend: "cpu", steps: 20, batchSize: 60, lr: 0.5 });
      expect(typeof run.trainSamplesPerSec).toBe("number");
      expect(run.trainSamplesPerSec).toBeGreaterThan(0);
      expect(run.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(run.testAccuracy).toBeLessThanOrEqual(1);
      expect(run.curve.map((p: { step: number }) => p.step)).toEqual([0, 10, 20]);
      for (const p of run.curve) {
        expect(Object.keys(p)).toEqual(expect.arrayContaining(["step", "testAccuracy", "loss"]));
        expect(p.loss === null || typeof p.loss === "number").toBe(true);
      }
      expect(run.curve[0].loss).toBeNull();
      expect(run.curve[2].loss).toBeGreaterThan(0);
    }
    // Same seed, same data order: both start from identical weights, so step 0 agrees.
    expect(summary.runs[0].curve[0].testAccuracy).toBeCloseTo(summary.runs[1].curve[0].testAccuracy, 5);
    for (const f of [
      "index.html",
      "fig1a-test-accuracy.svg",
      "fig1b-sigmoid-input-baseline.svg",
      "fig1c-sigmoid-input-bn.svg",
      "results.json",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readFileSync(join(out, "fig1a-test-accuracy.svg"), "utf8")).toContain("test accuracy");
  });

  it("exits non-zero with a message and the help on a bad flag", () => {
    const r = run(["--stpes", "20"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: unknown flag '--stpes'/);
    expect(r.stderr).toContain("Usage:");
  });

  it("exits non-zero on a bad value and prints help on --help", () => {
    const bad = run(["--norm", "batch,bogus"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--norm must be one of none, batch, layer, group, renorm, ghost");
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage:");
  });
});
