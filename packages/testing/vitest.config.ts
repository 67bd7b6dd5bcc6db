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
    // One file at a time: several SwiftShader devices working at once on 2 cores have crashed a worker.
    fileParallelism: false,
  },
});
