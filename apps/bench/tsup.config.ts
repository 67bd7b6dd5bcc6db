import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/main.ts", "src/child.ts"],
    format: ["esm"],
    platform: "node",
    target: "node20",
    clean: true,
    // Libraries are measured as installed (TF.js loads its .wasm files from its own folder).
    external: [/^@tensorflow\//, /^@minibatch\//, "webgpu", "esbuild"],
  },
  {
    entry: ["src/tf-grads.ts"],
    format: ["cjs"],
    platform: "node",
    target: "node20",
    noExternal: [/^@tensorflow\/tfjs-core/],
  },
]);
