import { defineConfig } from "tsup";

export default defineConfig({
  // arrow is a subpath (@minibatch/columnar/arrow) so that apache-arrow stays optional.
  entry: { index: "src/index.ts", arrow: "src/arrow.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
});
