import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";
import { testEnv, workspaceAliases } from "../../vitest.shared.ts";

export default defineProject({
  resolve: {
    // The shared aliases map each package to its src/index.ts; the streaming study also imports
    // @minibatch/data's Node.js entry, which must come first so the bare alias does not swallow it.
    alias: [
      {
        find: "@minibatch/data/node",
        replacement: fileURLToPath(new URL("../../packages/data/src/node.ts", import.meta.url)),
      },
      ...Object.entries(workspaceAliases).map(([find, replacement]) => ({ find, replacement })),
    ],
  },
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
