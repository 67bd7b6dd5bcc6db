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
