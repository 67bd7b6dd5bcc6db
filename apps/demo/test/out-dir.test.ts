import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { prepareOutDir } from "../src/report/out-dir";

describe("prepareOutDir (checked before training)", () => {
  it("creates missing folders and leaves no probe file", () => {
    const base = mkdtempSync(join(tmpdir(), "mb-out-"));
    const dir = prepareOutDir(join(base, "a", "b"));
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });
  it("fails fast, naming the folder, where the report cannot be written", () => {
    const base = mkdtempSync(join(tmpdir(), "mb-out-"));
    const file = join(base, "file");
    writeFileSync(file, "x");
    expect(() => prepareOutDir(join(file, "report"))).toThrow(
      `cannot write the report to ${join(file, "report")}`,
    );
    // Under /proc Node's recursive mkdir never returns; one level at a time fails at once.
    if (existsSync("/proc/self")) {
      expect(() => prepareOutDir("/proc/minibatch-report/x")).toThrow(
        /cannot write the report to \/proc\/minibatch-report\/x/,
      );
    }
  });
});
