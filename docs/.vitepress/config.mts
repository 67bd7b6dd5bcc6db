import { defineConfig } from "vitepress";

// The docs site. `pnpm docs` builds it (with the TypeDoc API reference in public/api) offline.
export default defineConfig({
  title: "minibatch",
  description: "Mini-batches, normalization and training for TypeScript, on the CPU and WebGPU",
  cleanUrls: true,
  // The API reference is TypeDoc HTML under public/api; its copied READMEs are not pages.
  srcExclude: ["public/**", "node_modules/**", "README.md"],
  ignoreDeadLinks: [/^\/api\//],
  themeConfig: {
    nav: [
      { text: "Guide", link: "/guide/getting-started" },
      { text: "API", link: "/api/index.html", target: "_self" },
    ],
    sidebar: [
      {
        text: "Guide",
        items: [
          { text: "Getting started", link: "/guide/getting-started" },
          { text: "Installing", link: "/guide/install" },
          { text: "Memory: tidy, using, dispose", link: "/guide/memory" },
          { text: "Backends", link: "/guide/backends" },
          { text: "Batching and the DataLoader", link: "/guide/data" },
          { text: "Normalization", link: "/guide/normalization" },
          { text: "Training with fit()", link: "/guide/training" },
          { text: "Compiled steps: compile()", link: "/guide/compile" },
          { text: "Checkpoints and PyTorch", link: "/guide/checkpoints" },
        ],
      },
      {
        text: "Cheat sheets",
        items: [
          { text: "From PyTorch", link: "/guide/from-pytorch" },
          { text: "From TensorFlow.js", link: "/guide/from-tfjs" },
        ],
      },
    ],
    search: { provider: "local" },
  },
});
