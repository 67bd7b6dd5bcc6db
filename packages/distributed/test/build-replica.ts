import { fileURLToPath } from "node:url";
import { build } from "tsup";
import type { TestProject } from "vitest/node";
import { workspaceAliases } from "../../../vitest.shared";

/**
 * Node 20 cannot run TypeScript in a worker thread, so the tests bundle the replica script once
 * (with the workspace packages from their sources, like the tests) into a cache folder.
 */
export default async function setup(project: TestProject): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const outDir = `${root}node_modules/.cache/minibatch-distributed-replica`;
  await build({
    entry: { replica: `${root}test/replica-task.ts`, collective: `${root}test/collective-worker.ts` },
    format: ["esm"],
    outDir,
    outExtension: () => ({ js: ".mjs" }),
    platform: "node",
    target: "node20",
    silent: true,
    clean: true,
    dts: false,
    config: false,
    noExternal: [/.*/],
    esbuildOptions(o) {
      o.alias = workspaceAliases;
    },
  });
  project.provide("replicaScript", `${outDir}/replica.mjs`);
  project.provide("collectiveScript", `${outDir}/collective.mjs`);
}

declare module "vitest" {
  export interface ProvidedContext {
    replicaScript: string;
    collectiveScript: string;
  }
}
