import { defineProject } from "vitest/config";
import { testEnv, workspaceAliases } from "../../vitest.shared.ts";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    env: testEnv,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Generous: WebGPU suites run on a software GPU (SwiftShader) on 2 shared cores in CI.
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
