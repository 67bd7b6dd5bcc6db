import { defineProject } from "vitest/config";

// The benchmarks themselves never run in `pnpm test`: only unit tests of the pure helpers
// (src/*.test.ts: table formatting, medians, ratios) do.
export default defineProject({ test: { include: ["src/**/*.test.ts"] } });
