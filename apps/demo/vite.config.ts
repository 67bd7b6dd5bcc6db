import { defineConfig } from "vite";

// The web demo: web/index.html trains the MNIST experiment in the browser. MNIST comes from
// web/public/mnist/ (filled by scripts/copy-mnist.mjs), so the built page needs no network.
export default defineConfig({
  root: "web",
  base: "./",
  publicDir: "public",
  build: {
    outDir: "../web-dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
  },
  preview: { host: "127.0.0.1", port: 5174 },
  server: { host: "127.0.0.1", port: 5173 },
});
