import { defineProject } from "vitest/config";
import { testEnv, workspaceAliases } from "../../vitest.shared.ts";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    env: testEnv,
    include: ["test/**/*.test.ts"],
    // The CLI tests run the built CLI (dist/cli.js); build it once before any test file.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two CPU-heavy suites (CLI training, browser training) side by side would only slow each other down.
    fileParallelism: false,
  },
});
