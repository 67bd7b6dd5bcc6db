import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
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
  backendReason: string;
  fallbackNote: string | null;
  evals: number;
  runId: number;
  config: { batchSize: number; lr: number; steps: number; norms: string[] } | null;
  evalMode: string;
  error: string | null;
  captions: { accuracy: string; percentiles: string };
  wasm: { enabled: boolean; reason: string; variant: string | null; threads: number } | null;
  inspect: {
    batchSize: number;
    match: boolean;
    units: {
      mean: number;
      varBiased: number;
      runningVarExpected: number;
      runningVarAfter: number;
      xhat: number[];
    }[];
  } | null;
  runs: { name: string; curve: { step: number; testAccuracy: number; trainModeAccuracy: number }[] }[];
}

const shots = join(app, "test-results");
mkdirSync(shots, { recursive: true });

const demoState = (page: Page) => page.evaluate(() => (window as any).__demo) as Promise<PageState>;

/** Waits until a run that started after `runId` has finished. */
async function waitForRun(page: Page, runId: number): Promise<PageState> {
  await page.waitForFunction(
    (id) => {
      const d = (window as any).__demo;
      return d.phase === "error" || (d.runId > id && d.phase === "done");
    },
    runId,
    { timeout: 100_000 },
  );
  const state = await demoState(page);
  expect(state.error).toBeNull();
  return state;
}

const SMALL = "steps=30&evalEvery=10&trainSize=2000&testSize=300";

describe.skipIf(noChromium !== null)("web demo", () => {
  let page: Page;
  const errors: string[] = [];

  it("picks the faster backend by default and says why", async () => {
    page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${url}?${SMALL}&norms=batch,none`);
    await page.waitForFunction(() => ["ready", "error"].includes((window as any).__demo.phase));
    const state = await demoState(page);
    expect(state.error).toBeNull();
    expect(await page.getAttribute("#backend", "data-backend")).toBe(state.backend);
    if (state.backend === "cpu") {
      // Only a software adapter, or none, makes the CPU backend the default, and the page says which.
      expect(state.backendReason).toMatch(/software renderer|no WebGPU/);
      expect(await page.textContent("#backend-note")).toContain(state.backendReason);
      expect(state.wasm).toMatchObject({ enabled: true, reason: "" });
      // Chromium has relaxed SIMD; the page is not cross-origin isolated, so products run on one thread.
      expect(["simd", "relaxed-simd"]).toContain(state.wasm?.variant);
      expect(state.wasm?.threads).toBe(1);
    } else expect(state.backendReason).toBe("a hardware WebGPU adapter");
    // Chromium here has WebGPU only through SwiftShader, a software adapter.
    if (requireWebgpu) expect(state.backendReason).toMatch(/software renderer|hardware/);
  }, 60_000);

  it("trains BN and the baseline side by side, with captions from the data", async () => {
    await page.click("#start");
    const state = await waitForRun(page, 0);
    expect(state.runs.map((r) => r.name)).toEqual(["bn", "baseline"]);
    for (const r of state.runs) expect(r.curve.map((p) => p.step)).toEqual([0, 10, 20, 30]);
    const bn = state.runs[0];
    expect(bn.curve.at(-1)!.testAccuracy).toBeGreaterThan(bn.curve[0].testAccuracy + 0.2);
    // The caption names the leader with numbers taken from the curves.
    const leader = [...state.runs].sort(
      (a, b) => b.curve.at(-1)!.testAccuracy - a.curve.at(-1)!.testAccuracy,
    )[0];
    const label = leader.name === "bn" ? "With BN" : "Without BN (baseline)";
    expect(state.captions.accuracy).toContain(
      `${label} leads with ${(leader.curve.at(-1)!.testAccuracy * 100).toFixed(1)} %`,
    );
    expect(await page.locator("#chart-pct figure").count()).toBe(2);
    expect(await page.textContent("#caption-acc")).toBe(state.captions.accuracy);
    await page.screenshot({ path: join(shots, "web-side-by-side.png"), fullPage: true });
  }, 120_000);

  it("reruns at once when the batch-size or learning-rate slider moves", async () => {
    let before = (await demoState(page)).runId;
    await page.locator("#batch-size").fill("4"); // BATCHES[4] = 32
    let state = await waitForRun(page, before);
    expect(state.config).toMatchObject({ batchSize: 32, lr: 0.5 });
    expect(await page.textContent("#batch-value")).toBe("32");
    before = state.runId;
    await page.locator("#lr").fill(String(Math.log10(2)));
    state = await waitForRun(page, before);
    expect(state.config).toMatchObject({ batchSize: 32, lr: 2 });
    expect(await page.textContent("#lr-value")).toBe("2");
    expect(state.runs.every((r) => r.curve.length === 4)).toBe(true);
    await page.screenshot({ path: join(shots, "web-sliders.png"), fullPage: true });
  }, 200_000);

  it("turns BN off and on", async () => {
    let before = (await demoState(page)).runId;
    await page.locator('#norms input[value="batch"]').uncheck();
    let state = await waitForRun(page, before);
    expect(state.runs.map((r) => r.name)).toEqual(["baseline"]);
    expect(await page.locator("#chart-pct figure").count()).toBe(1);
    expect(state.captions.accuracy).not.toContain("BN leads");
    before = state.runId;
    await page.locator('#norms input[value="batch"]').check();
    state = await waitForRun(page, before);
    expect(state.runs.map((r) => r.name)).toEqual(["bn", "baseline"]);
  }, 200_000);

  it("switches the accuracy between eval mode and train mode", async () => {
    await page.locator('#mode input[value="train"]').check();
    let state = await demoState(page);
    expect(state.evalMode).toBe("train");
    expect(state.captions.accuracy).toMatch(/^Test accuracy in train mode: batch statistics\./);
    const bn = state.runs.find((r) => r.name === "bn")!;
    const shown = (bn.curve.at(-1)!.trainModeAccuracy * 100).toFixed(1);
    expect(await page.textContent("#caption-acc")).toContain(`${shown} %`);
    await page.screenshot({ path: join(shots, "web-train-mode.png"), fullPage: true });
    await page.locator('#mode input[value="eval"]').check();
    state = await demoState(page);
    expect(state.captions.accuracy).toMatch(/^Test accuracy in eval mode: running statistics\./);
  }, 30_000);

  it("steps through one mini-batch: mu_B, biased sigma^2_B, normalized values, gamma, beta, running variance", async () => {
    await page.click("#inspect");
    await page.waitForFunction(() => (window as any).__demo.inspect !== null, undefined, { timeout: 30_000 });
    const { inspect } = await demoState(page);
    expect(inspect!.batchSize).toBe(32);
    expect(inspect!.units).toHaveLength(4);
    for (const u of inspect!.units) {
      expect(u.varBiased).toBeGreaterThan(0);
      // The normalized values of a full batch have mean 0; of the first samples, at least they are finite.
      expect(u.xhat.every(Number.isFinite)).toBe(true);
      expect(u.runningVarAfter).toBeCloseTo(u.runningVarExpected, 4);
    }
    expect(inspect!.match).toBe(true);
    const text = await page.textContent("#inspect-out");
    expect(text).toContain("μ_B");
    expect(text).toContain("σ²_B");
    expect(text).toContain("γ (learned scale)");
    expect(text).toContain("β (learned shift)");
    expect(text).toContain("matches the formula");
    await page.locator(".inspect").screenshot({ path: join(shots, "web-inspect.png") });
  }, 60_000);

  it("classifies a drawn digit with each model", async () => {
    // Mouse coordinates are the viewport's: the pad must be on screen.
    await page.locator("#pad").scrollIntoViewIfNeeded();
    const box = (await page.locator("#pad").boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.15);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.85, { steps: 12 });
    await page.mouse.up();
    await page.waitForSelector("#predictions table");
    expect(await page.locator("#predictions tbody tr").count()).toBe(2);
    await page.screenshot({ path: join(shots, "web-demo.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("trains on WebGPU when asked with ?backend=webgpu", async (ctx) => {
    const p = await context.newPage();
    const errs: string[] = [];
    p.on("pageerror", (e) => errs.push(e.message));
    // Small: on SwiftShader, a software GPU, one training step takes about a second.
    await p.goto(
      `${url}?backend=webgpu&steps=15&evalEvery=5&trainSize=1000&testSize=200&norms=batch&autostart=1`,
    );
    await p.waitForFunction(
      () =>
        ["done", "error"].includes((window as any).__demo.phase) || (window as any).__demo.backend === "cpu",
      undefined,
      { timeout: 120_000 },
    );
    let state = await demoState(p);
    if (state.backend !== "webgpu") {
      if (requireWebgpu) throw new Error(`no WebGPU in this browser: ${state.backendReason}`);
      await p.close();
      ctx.skip();
      return;
    }
    await p.waitForFunction(() => ["done", "error"].includes((window as any).__demo.phase), undefined, {
      timeout: 120_000,
    });
    state = await demoState(p);
    expect(state.error).toBeNull();
    expect(errs).toEqual([]);
    const bn = state.runs[0];
    expect(bn.curve.map((x) => x.step)).toEqual([0, 5, 10, 15]);
    expect(bn.curve.at(-1)!.testAccuracy).toBeGreaterThan(bn.curve[0].testAccuracy + 0.15);
    await p.close();
  }, 200_000);
});
