import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  // Dawn for Node is a native addon, loaded lazily and only outside browsers.
  external: ["webgpu"],
});
