/**
 * The backend in a real browser: a bundle of @minibatch/tensor + this package runs a small
 * forward and backward pass on navigator.gpu in headless Chromium (SwiftShader with
 * --enable-unsafe-webgpu when there is no GPU), and the values are checked against the CPU.
 */
import "@minibatch/backend-cpu";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as mb from "@minibatch/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { workspaceAliases } from "../../../vitest.shared";
import { requireWebGPU } from "./test-util";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const PAGE_SCRIPT = `
import * as mb from "@minibatch/tensor";
import { webgpuInfo } from "@minibatch/backend-webgpu";
window.result = (async () => {
  try {
    await mb.setBackend("webgpu");
  } catch (e) {
    return { error: "no-adapter", message: String(e && e.message) };
  }
  try {
    const x = mb.tensor([[1, 2, 3], [4, 5, 6]]);
    const w = mb.tensor([[0.5, -1], [0.25, 0], [-0.5, 1]]).requiresGrad_();
    const loss = mb.sum(mb.sigmoid(mb.matmul(x, w)));
    loss.backward();
    // An out-of-range index: recorded on the device, thrown by the next read.
    let indexError = null;
    try {
      await mb.indexSelect(x, 0, mb.tensor(new Int32Array([1, 2]))).data();
    } catch (e) {
      indexError = String(e && e.message);
    }
    return {
      backend: mb.getBackend().name,
      info: webgpuInfo(),
      loss: await loss.item(),
      grad: Array.from(await w.grad.data()),
      indexError,
    };
  } catch (e) {
    return { error: "failed", message: String(e && e.stack || e) };
  }
})();
`;

/** The same computation on the CPU backend, for the expected values. */
async function expected(): Promise<{ loss: number; grad: number[] }> {
  await mb.setBackend("cpu");
  const x = mb.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const w = mb
    .tensor([
      [0.5, -1],
      [0.25, 0],
      [-0.5, 1],
    ])
    .requiresGrad_();
  const loss = mb.sum(mb.sigmoid(mb.matmul(x, w)));
  loss.backward();
  return { loss: await loss.item(), grad: Array.from(await w.grad!.data()) };
}

/** The part of esbuild's API used here (esbuild is not a direct dependency, so no types). */
interface EsbuildLike {
  build(options: Record<string, unknown>): Promise<{ outputFiles: { text: string }[] }>;
}

async function bundle(): Promise<string> {
  // esbuild comes with tsup (a devDependency); resolve it from there.
  const req = createRequire(import.meta.url);
  const esbuild = createRequire(req.resolve("tsup"))("esbuild") as EsbuildLike;
  const out = await esbuild.build({
    stdin: { contents: PAGE_SCRIPT, resolveDir: import.meta.dirname, loader: "js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    alias: workspaceAliases,
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

let server: Server | null = null;
let userDataDir: string | null = null;
afterAll(() => {
  server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe("webgpu in headless Chromium", () => {
  it("runs forward and backward on navigator.gpu", async (ctx) => {
    if (!existsSync(chromiumPath)) {
      if (requireWebGPU)
        throw new Error(`MINIBATCH_REQUIRE_WEBGPU=1 but no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`);
      ctx.skip(`no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`);
    }
    const js = await bundle();
    // The bundle must not pull in the Node-only Dawn addon.
    expect(js).not.toMatch(/dawn\.node|from ["']webgpu["']/);
    const srv = createServer((req, res) => {
      if (req.url === "/bundle.js") {
        res.writeHead(200, { "content-type": "text/javascript" });
        res.end(js);
      } else {
        res.writeHead(200, { "content-type": "text/html" });
        res.end('<!doctype html><meta charset="utf-8"><script type="module" src="/bundle.js"></script>');
      }
    });
    server = srv;
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const port = (srv.address() as { port: number }).port;

    const { chromium } = await import("playwright-core");
    userDataDir = mkdtempSync(join(tmpdir(), "minibatch-chromium-"));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-unsafe-webgpu",
      ],
    });
    try {
      const page = await context.newPage();
      const logs: string[] = [];
      page.on("console", (m) => logs.push(m.text()));
      page.on("pageerror", (e) => logs.push(String(e)));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => (window as any).result !== undefined, null, { timeout: 30_000 });
      const result = await page.evaluate(() => (window as any).result);
      if (result.error === "no-adapter") {
        if (requireWebGPU)
          throw new Error(`MINIBATCH_REQUIRE_WEBGPU=1 but the page found no adapter: ${result.message}`);
        ctx.skip(`Chromium has no WebGPU adapter here: ${result.message}`);
      }
      if (result.error) throw new Error(`page failed: ${result.message}\n${logs.join("\n")}`);
      console.log(
        `browser webgpu adapter: vendor=${result.info.vendor} architecture=${result.info.architecture}`,
      );
      expect(result.backend).toBe("webgpu");
      const want = await expected();
      expect(result.loss).toBeCloseTo(want.loss, 5);
      expect(result.grad).toHaveLength(want.grad.length);
      for (let i = 0; i < want.grad.length; i++) expect(result.grad[i]).toBeCloseTo(want.grad[i], 5);
      expect(result.indexError).toBe(
        "indexSelect: index 2 at position 1 is out of range for axis 0 of size 2 (expected -2..1)",
      );
    } finally {
      await context.close();
    }
  }, 120_000);
});
