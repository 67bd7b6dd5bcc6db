import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { build, type PreviewServer, preview } from "vite";
import { afterAll, describe, expect, it } from "vitest";

// DataLoader({ workers }) in a page bundled by Vite: the bundler must find and emit the worker
// script (new Worker(new URL("./worker.js", import.meta.url), { type: "module" }) in
// @minibatch/data), and the page must load batches through it, in a real browser.
const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "vite-workers");
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const requireBrowser = process.env.MINIBATCH_REQUIRE_WEBGPU === "1";
const noChromium = existsSync(chromiumPath) ? null : `no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`;
if (noChromium && requireBrowser) throw new Error(`MINIBATCH_REQUIRE_WEBGPU=1 but ${noChromium}`);
if (noChromium) console.warn(`Vite worker test skipped: ${noChromium}`);

const outDir = mkdtempSync(join(tmpdir(), "minibatch-vite-workers-"));
const userDataDir = mkdtempSync(join(tmpdir(), "minibatch-chromium-"));
let server: PreviewServer | undefined;

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.httpServer.close(() => resolve()) : resolve()));
  rmSync(outDir, { recursive: true, force: true });
  rmSync(userDataDir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(noChromium !== null)("DataLoader workers in a Vite build", () => {
  it("emits the worker script and loads every batch through two workers", async () => {
    await build({
      root: fixture,
      configFile: false,
      logLevel: "error",
      build: { outDir, target: "es2022", emptyOutDir: true },
    });
    const assets = readdirSync(join(outDir, "assets"));
    expect(assets.some((f) => /^worker-.*\.js$/.test(f))).toBe(true);
    const port = await freePort();
    server = await preview({
      root: fixture,
      configFile: false,
      logLevel: "error",
      build: { outDir },
      preview: { host: "127.0.0.1", port, strictPort: true },
    });
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => document.getElementById("out")?.textContent !== "running", null, {
        timeout: 60_000,
      });
      const result = JSON.parse((await page.textContent("#out")) ?? "{}");
      expect(result).toEqual({ ok: true, sum: (63 * 64) / 2, batches: 8 });
    } finally {
      await context.close();
    }
  });
});
