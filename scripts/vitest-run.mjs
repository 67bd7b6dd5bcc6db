#!/usr/bin/env node
// `vitest run` for a package's test script, with one retry for one known native crash: Dawn's
// software Vulkan driver (SwiftShader) now and then aborts a test process from one of its own
// threads ("terminate called after throwing an instance of 'std::system_error'"), usually after
// the tests in it have finished. The crash is inside the driver and could not be reproduced on
// demand, so the whole package is run again once, and that second run must pass on its own:
// nothing is skipped or ignored. Any other failure is reported as it is.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const SIGNATURE = "terminate called after throwing an instance of 'std::system_error'";
const vitest = join(dirname(createRequire(`${process.cwd()}/`).resolve("vitest/package.json")), "vitest.mjs");

function run() {
  const r = spawnSync(process.execPath, [vitest, "run", ...process.argv.slice(2)], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
    env: process.env,
  });
  process.stdout.write(r.stdout ?? "");
  process.stderr.write(r.stderr ?? "");
  return { status: r.status ?? 1, output: `${r.stdout}\n${r.stderr}` };
}

let r = run();
if (r.status !== 0 && r.output.includes(SIGNATURE)) {
  process.stderr.write(
    "\nvitest-run: the WebGPU software driver crashed a test process (a known native crash); running this package's tests once more\n\n",
  );
  r = run();
}
process.exit(r.status);
