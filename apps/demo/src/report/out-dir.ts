import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/**
 * Makes sure the report folder can be written, before any training: creates it and writes and
 * removes a probe file. Folders are created one level at a time: Node's recursive mkdir spins
 * forever on some paths (under /proc), and an unwritable --out found only after training would
 * lose the results. Throws an error that names the folder and the reason.
 */
export function prepareOutDir(dir: string): string {
  const abs = resolve(dir);
  const missing: string[] = [];
  let cur = abs;
  while (!existsSync(cur)) {
    missing.unshift(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  try {
    if (existsSync(cur) && !statSync(cur).isDirectory()) throw new Error(`${cur} is not a folder`);
    for (const d of missing) mkdirSync(d);
    const probe = join(abs, `.write-test-${process.pid}`);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (e) {
    throw new Error(`cannot write the report to ${abs}: ${(e as Error).message}`);
  }
  return abs;
}
