import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium } from "playwright-core";
import { build, type PreviewServer, preview } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const app = join(dirname(fileURLToPath(import.meta.url)), "..");
const requireWebgpu = process.env.MINIBATCH_REQUIRE_WEBGPU === "1";
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
// Outside CI (MINIBATCH_REQUIRE_WEBGPU unset) a machine without Chromium skips this suite, saying why.
const noChromium = existsSync(chromiumPath) ? null : `no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`;
if (noChromium && requireWebgpu) throw new Error(`MINIBATCH_REQUIRE_WEBGPU=1 but ${noChromium}`);
if (noChromium) console.warn(`web demo tests skipped: ${noChromium}`);
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--enable-unsafe-webgpu",
];

/** A port the OS says is free right now (the preview server binds it a moment later). */
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

let server: PreviewServer;
let context: BrowserContext;
let url: string;
const outDir = mkdtempSync(join(tmpdir(), "minibatch-web-"));
const userDataDir = mkdtempSync(join(tmpdir(), "minibatch-chromium-"));

beforeAll(async () => {
  if (noChromium) return;
  execFileSync(process.execPath, [join(app, "scripts", "copy-mnist.mjs")], { stdio: "pipe" });
  const configFile = join(app, "vite.config.ts");
  await build({ configFile, logLevel: "error", build: { outDir } });
  const port = await freePort();
  server = await preview({
    configFile,
    logLevel: "error",
    build: { outDir },
    preview: { host: "127.0.0.1", port, strictPort: true },
  });
  url = `http://127.0.0.1:${port}/`;
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 1500 },
  });
});

afterAll(async () => {
  await context?.close();
  await new Promise<void>((resolve) => (server ? server.httpServer.close(() => resolve()) : resolve()));
  rmSync(outDir, { recursive: true, force: true });
  rmSync(userDataDir, { recursive: true, force: true });
});

interface PageState {
  phase: string;
  backend: string;
  fallbackNote: string | null;
  evals: number;
  error: string | null;
  runs: { name: string; curve: { step: number; testAccuracy: number }[] }[];
}

describe.skipIf(noChromium !== null)("web demo", () => {
  it(requireWebgpu
    ? "trains BN on WebGPU, with rising accuracy and a drawn digit classified"
    : "trains BN with rising accuracy (on WebGPU, or on CPU with the fallback note when this browser has no WebGPU)", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // A small run that fits SwiftShader (a software GPU where each training step takes about a
    // second): BN alone, 20 steps, evaluation on 300 test images every 5 steps. Evaluation uses
    // BN's running statistics, which need over a dozen steps to settle, hence 20.
    await page.goto(`${url}?steps=20&evalEvery=5&trainSize=2000&testSize=300&norms=batch`);
    await page.waitForFunction(
      () => (window as any).__demo.phase === "ready" || (window as any).__demo.phase === "error",
    );
    await page.click("#start");
    await page.waitForFunction(
      () => (window as any).__demo.phase === "done" || (window as any).__demo.phase === "error",
      undefined,
      { timeout: 100_000 },
    );
    const state = (await page.evaluate(() => (window as any).__demo)) as PageState;
    expect(state.error).toBeNull();
    expect(errors).toEqual([]);

    // The backend the page reports, and the note when it fell back.
    const badge = await page.getAttribute("#backend", "data-backend");
    expect(badge).toBe(state.backend);
    if (requireWebgpu) expect(state.backend).toBe("webgpu");
    if (state.backend === "cpu") {
      expect(await page.isVisible("#backend-note")).toBe(true);
      expect(await page.textContent("#backend-note")).toContain("CPU backend");
    }

    // Several evaluation points, and accuracy rising from chance.
    expect(state.evals).toBeGreaterThanOrEqual(5);
    const bn = state.runs.find((r) => r.name === "bn")!;
    expect(bn.curve.map((p) => p.step)).toEqual([0, 5, 10, 15, 20]);
    expect(bn.curve[0].testAccuracy).toBeLessThan(0.3);
    expect(bn.curve.at(-1)!.testAccuracy).toBeGreaterThan(bn.curve[0].testAccuracy + 0.2);
    for (const id of ["#chart-acc svg", "#chart-loss svg", "#chart-pct svg"])
      expect(await page.isVisible(id)).toBe(true);

    // Draw a "1" and get predictions from both models.
    const box = (await page.locator("#pad").boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.15);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.85, { steps: 12 });
    await page.mouse.up();
    await page.waitForSelector("#predictions table");
    expect(await page.locator("#predictions tbody tr").count()).toBe(1);

    mkdirSync(join(app, "test-results"), { recursive: true });
    await page.screenshot({ path: join(app, "test-results", "web-demo.png"), fullPage: true });
    await page.close();
  }, 150_000);

  it("trains on the CPU backend with its WebAssembly kernels (?backend=cpu)", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${url}?backend=cpu&steps=40&evalEvery=10&trainSize=3000&testSize=500&norms=batch,none`);
    await page.waitForFunction(
      () => (window as any).__demo.phase === "ready" || (window as any).__demo.phase === "error",
    );
    await page.click("#start");
    await page.waitForFunction(
      () => (window as any).__demo.phase === "done" || (window as any).__demo.phase === "error",
      undefined,
      { timeout: 100_000 },
    );
    const state = (await page.evaluate(() => (window as any).__demo)) as PageState & {
      wasm: { enabled: boolean; reason: string } | null;
    };
    expect(state.error).toBeNull();
    expect(errors).toEqual([]);
    expect(state.backend).toBe("cpu");
    // The tensors live in wasm memory here: the kernels must have loaded in this browser.
    expect(state.wasm).toEqual({ enabled: true, reason: "" });
    const bn = state.runs.find((r) => r.name === "bn")!;
    expect(bn.curve.at(-1)!.testAccuracy).toBeGreaterThan(0.6);
    await page.close();
  }, 150_000);
});
