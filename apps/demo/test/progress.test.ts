import { describe, expect, it } from "vitest";
import { ProgressBar } from "../src/progress";

describe("ProgressBar in a log (not a terminal)", () => {
  it("prints its last line at done(), with the final evaluation's accuracy", () => {
    const lines: string[] = [];
    const bar = new ProgressBar({ write: (s: string) => lines.push(s) }, "bn", 10, { tty: false });
    for (let step = 1; step <= 10; step++) bar.update({ step, loss: 1, samplesPerSec: 100, accuracy: 0.5 });
    // The last step's line waits for the evaluation that follows it.
    expect(lines.at(-1)).toContain(" 9/10");
    bar.done({ step: 10, loss: 1, samplesPerSec: 100, accuracy: 0.9 });
    expect(lines.at(-1)).toContain("10/10");
    expect(lines.at(-1)).toContain("acc 90.0%");
    expect(lines.filter((l) => l.includes("10/10"))).toHaveLength(1);
  });
});
