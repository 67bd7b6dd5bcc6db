import { defineConfig } from "tsup";

export default defineConfig({
  // worker.ts is the worker-thread entry; the loader finds it next to itself in dist/.
  entry: { index: "src/index.ts", node: "src/node.ts", worker: "src/workers/worker.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts", node: "src/node.ts" } },
  sourcemap: true,
  clean: true,
  target: "es2022",
});
