import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  // The public types mention GPUBuffer and GPUDevice: point consumers at their declarations.
  dts: { banner: `/// <reference types="@webgpu/types" />` },
  sourcemap: true,
  clean: true,
  target: "es2022",
  // Dawn for Node is a native addon, loaded lazily and only outside browsers.
  external: ["webgpu"],
});
