import { defineConfig } from "tsup";

// The CLI only: the web page is built by Vite (vite.config.ts).
export default defineConfig({
  // dp-replica is the worker-thread entry of --workers-train, found next to cli.js.
  // run-worker is the worker-thread entry of train --parallel.
  entry: { cli: "src/cli.ts", "dp-replica": "src/dp-replica.ts", "run-worker": "src/run-worker.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  dts: false,
});
