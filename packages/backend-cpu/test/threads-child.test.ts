import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WASM_RELAXED_BASE64 } from "../src/wasm/module";
import { threadsSupported } from "../src/wasm/pool";
import { wasmStatus } from "../src/wasm/runtime";
import { SHAPES } from "./fixtures/shapes";

// Child processes: that a program which used the worker threads exits by itself, the thread count
// from the environment, and the relaxed-SIMD build (Node.js 20 validates it only with
// --experimental-wasm-relaxed-simd, a process-wide V8 flag).

const here = dirname(fileURLToPath(import.meta.url));
let dir = "";
let script = "";

interface ChildResult {
  variant: string;
  threads: number;
  ready: number;
  pool: { workers: number; ready: number; chunks: number; here: number };
  identical: boolean;
  burst: number;
  results: number[][];
}

/** Runs the bundled fixture; fails unless it printed its result and exited by itself with 0. */
function child(flags: string[], env: Record<string, string>): ChildResult {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...flags, script], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.signal, `the child was killed after ${Date.now() - t0} ms (it hung?)\n${r.stderr}`).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop() as string);
}

function flagAccepted(flag: string): boolean {
  return spawnSync(process.execPath, [flag, "-e", ""], { encoding: "utf8" }).status === 0;
}

beforeAll(async () => {
  // esbuild comes with tsup (a devDependency); bundling the TypeScript sources lets a plain
  // `node` child load the runtime without a build of the package.
  const esbuild = createRequire(createRequire(import.meta.url).resolve("tsup"))("esbuild") as {
    build(o: object): Promise<unknown>;
  };
  dir = mkdtempSync(join(tmpdir(), "minibatch-threads-"));
  script = join(dir, "child.mjs");
  await esbuild.build({
    entryPoints: [join(here, "fixtures/threads-child.ts")],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outfile: script,
    logLevel: "error",
  });
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.runIf(threadsSupported())("worker threads in a child process", () => {
  it("a process that used worker threads exits by itself; MINIBATCH_NUM_THREADS sets the count", () => {
    const r = child([], { MINIBATCH_NUM_THREADS: "3" });
    expect(r.threads).toBe(3);
    expect(r.ready).toBe(3);
    expect(r.pool).toMatchObject({ workers: 2, ready: 2 });
    expect(r.identical).toBe(true);
  });

  it("many small products in a row on 4 threads: none hangs, all bit-identical", () => {
    const r = child([], { MINIBATCH_NUM_THREADS: "4", MINIBATCH_TEST_BURST: "40000" });
    expect(r.burst).toBe(40000);
    expect(r.identical).toBe(true);
    expect(r.pool.chunks).toBeGreaterThan(r.pool.here);
  });

  it("MINIBATCH_NUM_THREADS=1: no workers", () => {
    const r = child([], { MINIBATCH_NUM_THREADS: "1" });
    expect(r.threads).toBe(1);
    expect(r.pool).toMatchObject({ workers: 0, ready: 0 });
  });
});

describe("relaxed SIMD", () => {
  it("is chosen exactly where the engine validates the relaxed build", () => {
    const ok = WebAssembly.validate(Buffer.from(WASM_RELAXED_BASE64, "base64"));
    expect(wasmStatus().variant).toBe(ok ? "relaxed-simd" : "simd");
  });

  const flag = "--experimental-wasm-relaxed-simd";
  it.runIf(flagAccepted(flag))(
    "the relaxed build agrees with the plain one to float rounding; MINIBATCH_WASM_RELAXED=0 forces plain",
    () => {
      const env = { MINIBATCH_NUM_THREADS: "2" };
      const plain = child([], { ...env, MINIBATCH_WASM_RELAXED: "0" });
      const relaxed = child([flag], env);
      const forced = child([flag], { ...env, MINIBATCH_WASM_RELAXED: "0" });
      expect(plain.variant).toBe("simd");
      expect(relaxed.variant).toBe("relaxed-simd");
      expect(forced.variant).toBe("simd");
      // Threads give the same values bit for bit in either build.
      for (const r of [plain, relaxed, forced]) expect(r.identical).toBe(true);
      expect(forced.results).toEqual(plain.results);
      SHAPES.forEach(([, , k], s) => {
        const want = plain.results[s];
        const got = relaxed.results[s];
        expect(got.length).toBe(want.length);
        // Inputs in [-1, 1]: a fused multiply-add differs by at most a rounding per step.
        const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
        expect(worst).toBeLessThan(1e-6 * k);
      });
    },
    120_000,
  );
});
