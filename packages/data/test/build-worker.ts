import { fileURLToPath } from "node:url";
import { build } from "tsup";
import type { TestProject } from "vitest/node";

/**
 * Node 20 cannot run the TypeScript worker entry, so the tests bundle it once into a cache folder
 * and hand its path to the tests (the published package ships it as dist/worker.js).
 */
export default async function setup(project: TestProject): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const outDir = `${root}node_modules/.cache/minibatch-data-worker`;
  await build({
    entry: { worker: `${root}src/workers/worker.ts` },
    format: ["esm"],
    outDir,
    outExtension: () => ({ js: ".mjs" }),
    platform: "node",
    target: "node20",
    silent: true,
    clean: true,
    dts: false,
    config: false,
  });
  project.provide("workerScript", `${outDir}/worker.mjs`);
}

declare module "vitest" {
  export interface ProvidedContext {
    workerScript: string;
  }
}
