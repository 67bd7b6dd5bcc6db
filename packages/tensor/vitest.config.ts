import { defineProject } from "vitest/config";
import { testEnv, workspaceAliases } from "../../vitest.shared.ts";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    // The package's own tests, and the cross-backend conformance suite on the CPU and reference
    // backends (WebGPU rows run in packages/testing).
    env: { ...testEnv, MINIBATCH_BACKENDS: "cpu,reference" },
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "../testing/src/conformance/**/*.test.ts"],
    // Generous: WebGPU suites run on a software GPU (SwiftShader) on 2 shared cores in CI.
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
