import { describe, expect, it } from "vitest";
import { version } from "../package.json";
import { memory } from "./index";
import { claimSingleton, thisCopy } from "./singleton";

describe("one copy of @minibatch/tensor per process", () => {
  it("has claimed the process for the copy under test when the package loaded", () => {
    const copy = thisCopy();
    expect(copy.version).toBe(version);
    expect(copy.location).toMatch(/singleton\.ts$/);
    // Claiming again from the same file (hot reload, a fresh module graph) is the same copy.
    expect(() => claimSingleton()).not.toThrow();
    expect(() => claimSingleton({ version, location: `${copy.location}?v=1234` })).not.toThrow();
    expect(memory().tensors).toBeGreaterThanOrEqual(0);
  });

  it("refuses a second copy and names both copies and the fix", () => {
    const other = {
      version: "0.0.9",
      location: "file:///app/node_modules/plugin/node_modules/@minibatch/tensor/dist/index.js",
    };
    let message = "";
    try {
      claimSingleton(other);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("a second copy was loaded");
    expect(message).toContain(`first:  ${version} at ${thisCopy().location}`);
    expect(message).toContain(`second: 0.0.9 at ${other.location}`);
    expect(message).toContain("npm dedupe");
    expect(message).toContain("peerDependencies");
    // The refused copy did not take over: the first one still holds the process.
    expect(() => claimSingleton()).not.toThrow();
  });

  it("does not export the engine", async () => {
    const api = await import("./index");
    expect("ENGINE" in api).toBe(false);
  });
});
