import { describe, expect, it } from "vitest";
import { ArgError, HELP, parseArgs } from "../src/args";

describe("--workers-train", () => {
  it("is off by default, takes a positive integer, and is in the help", () => {
    expect(parseArgs([]).workersTrain).toBeNull();
    expect(parseArgs(["--workers-train", "2", "--steps", "100"]).workersTrain).toBe(2);
    expect(() => parseArgs(["--workers-train", "0"])).toThrow(ArgError);
    expect(() => parseArgs(["--workers-train", "1.5"])).toThrow(
      /--workers-train must be a positive integer, got 1.5/,
    );
    expect(HELP).toMatch(/--workers-train N/);
  });
});
