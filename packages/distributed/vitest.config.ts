import { defineProject } from "vitest/config";
import { testEnv, workspaceAliases } from "../../vitest.shared";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    env: testEnv,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    globalSetup: ["test/build-replica.ts"],
  },
});
