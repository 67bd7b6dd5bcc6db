import { defineConfig } from "tsup";

// The CLI only: the web page is built by Vite (vite.config.ts).
export default defineConfig({
  entry: { cli: "src/cli.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  dts: false,
});
