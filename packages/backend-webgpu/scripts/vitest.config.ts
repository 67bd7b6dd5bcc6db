import { defineProject } from "vitest/config";
import { workspaceAliases } from "../../../vitest.shared.ts";

// Runs the timing scripts here through vitest, which resolves workspace packages to their sources.
export default defineProject({
  resolve: { alias: workspaceAliases },
  test: { include: ["scripts/**/*.bench-step.ts"], testTimeout: 600_000 },
});
