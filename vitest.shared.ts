import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));

/**
 * Tests resolve workspace packages to their sources, so a change in @minibatch/tensor is seen by
 * every package's tests without a rebuild. (Type checks and the install test use the built dist/.)
 */
export const workspaceAliases: Record<string, string> = Object.fromEntries(
  readdirSync(join(root, "packages")).map((name) => [
    `@minibatch/${name}`,
    join(root, "packages", name, "src", "index.ts"),
  ]),
);

/**
 * Environment for every package's tests. MINIBATCH_CPU_POISON fills each new CPU buffer with NaN:
 * the CPU backend reuses wasm heap blocks without clearing them, so a kernel that leaves an output
 * element unwritten shows up as a NaN in some test instead of as a stale value in production.
 */
export const testEnv: Record<string, string> = { MINIBATCH_CPU_POISON: "1" };
