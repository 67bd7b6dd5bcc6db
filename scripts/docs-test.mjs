#!/usr/bin/env node
// Runs every ```ts and ```js code block of the guides (docs/guide/*.md) against the built packages,
// so the docs cannot drift from the API. Each block is a small program on its own: it is compiled
// with esbuild (TypeScript, `using`) and run with Node.js from a folder whose node_modules links
// the workspace packages, as an app that installed them would see them. Needs `pnpm build` first.
import { execFile as execFileCb } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const execFile = promisify(execFileCb);
const root = resolve(import.meta.dirname, "..");
const guides = join(root, "docs", "guide");
const work = join(root, ".tmp", "docs-blocks");
const esbuild = createRequire(createRequire(join(root, "package.json")).resolve("tsup"))("esbuild");

rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, "node_modules", "@minibatch"), { recursive: true });
for (const d of readdirSync(join(root, "packages"))) {
  symlinkSync(join(root, "packages", d), join(work, "node_modules", "@minibatch", d), "dir");
}
writeFileSync(
  join(work, "package.json"),
  JSON.stringify({ name: "docs-blocks", private: true, type: "module" }),
);

const blocks = [];
for (const page of readdirSync(guides)
  .filter((f) => f.endsWith(".md"))
  .sort()) {
  const text = readFileSync(join(guides, page), "utf8");
  let n = 0;
  for (const m of text.matchAll(/^```(ts|js)\b[^\n]*\n([\s\S]*?)^```/gm)) {
    const line = text.slice(0, m.index).split("\n").length;
    blocks.push({
      id: `${page.replace(/\.md$/, "")}-${++n}`,
      where: `docs/guide/${page}:${line}`,
      lang: m[1],
      code: m[2],
    });
  }
}

let failed = 0;
const started = Date.now();
const results = [];
// Two at a time: CI machines have 2 cores.
for (let i = 0; i < blocks.length; i += 2) {
  results.push(...(await Promise.all(blocks.slice(i, i + 2).map(run))));
}
for (const r of results) {
  console.log(`${r.ok ? "ok  " : "FAIL"} ${r.where}${r.ok ? `  -> ${r.last}` : `\n${r.error}`}`);
  if (!r.ok) failed++;
}
console.log(
  `docs test: ${blocks.length - failed}/${blocks.length} code blocks of the guides ran (${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
rmSync(work, { recursive: true, force: true });
if (failed || blocks.length === 0) process.exit(1);

async function run(block) {
  const file = join(work, `${block.id}.mjs`);
  try {
    const { code } = await esbuild.transform(block.code, {
      loader: block.lang,
      format: "esm",
      target: "es2022",
    });
    writeFileSync(file, code);
    const { stdout } = await execFile(process.execPath, [file], {
      cwd: work,
      timeout: 120_000,
      env: { ...process.env, MINIBATCH_LEAK_WARNING: "0" },
    });
    if (process.env.DOCS_TEST_VERBOSE) console.log(`--- ${block.where}\n${stdout}`);
    const lines = stdout.trim().split("\n").filter(Boolean);
    return { ...block, ok: true, last: (lines.at(-1) ?? "(no output)").slice(0, 100) };
  } catch (e) {
    return {
      ...block,
      ok: false,
      error: `${e.stderr || ""}${e.stdout || ""}${e.stderr || e.stdout ? "" : e.message}`,
    };
  }
}
