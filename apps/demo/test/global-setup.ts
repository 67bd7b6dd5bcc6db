import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const app = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Where the CLI tests' build of the CLI goes: not dist/, which turbo's `build` task may be
 * rewriting at the same moment. Inside node_modules/ so that the bundle still resolves the
 * @minibatch packages from apps/demo/node_modules.
 */
export const TEST_CLI_DIR = join(app, "node_modules", ".cache", "demo-test-cli");

/** Builds the CLI with the package's tsup config (about a second), so the tests run what `pnpm demo` runs. */
export default function setup(): void {
  execFileSync(
    process.execPath,
    [join(app, "node_modules", "tsup", "dist", "cli-default.js"), "--out-dir", TEST_CLI_DIR],
    {
      cwd: app,
      stdio: "pipe",
    },
  );
}
