import { defineConfig } from "tsup";

export default defineConfig({
  // arrow and duckdb are subpaths (@minibatch/columnar/arrow, /duckdb) so their engines stay optional.
  entry: { index: "src/index.ts", arrow: "src/arrow.ts", duckdb: "src/duckdb.ts" },
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
});
