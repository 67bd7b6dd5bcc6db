import { defineProject } from "vitest/config";
import { testEnv, workspaceAliases } from "../../vitest.shared.ts";

// The benchmarks themselves never run in `pnpm test`: only unit tests of the pure helpers
// (src/*.test.ts: headline and ratios, table formatting) and of the W3 steps on a few tiny batches
// (eager and compile()-wrapped: same weights, nothing leaked) do. Workspace packages resolve to
// their sources, as in every package's tests.
export default defineProject({
  resolve: { alias: workspaceAliases },
  test: { env: testEnv, include: ["src/**/*.test.ts"], testTimeout: 120_000 },
});
