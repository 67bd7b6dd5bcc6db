/**
 * Runs a test suite once per backend. The CPU backend always runs. WebGPU runs when an adapter is
 * found (a real GPU, or SwiftShader in CI); otherwise its suites are reported as skipped with the
 * reason, unless MINIBATCH_REQUIRE_WEBGPU=1 (set by the README's test command), where a missing
 * adapter fails the run.
 */
import "@minibatch/backend-cpu";
import { getBackend, setBackend } from "@minibatch/tensor";
import { beforeAll, describe, it } from "vitest";
import { registerReferenceBackend } from "./reference-backend/backend";

export type BackendName = "cpu" | "webgpu" | "reference";

registerReferenceBackend();

export interface BackendStatus {
  name: BackendName;
  available: boolean;
  reason?: string;
}

const statuses = new Map<BackendName, Promise<BackendStatus>>();

// Loaded dynamically so that a broken WebGPU package is reported as such, not as a crash of every suite.
const webgpuImport: string | undefined = await import("@minibatch/backend-webgpu").then(
  () => undefined,
  (e: Error) => `@minibatch/backend-webgpu failed to load: ${e.message}`,
);

/**
 * MINIBATCH_BACKENDS=cpu,reference limits the rows (the tensor package's own test command runs the
 * conformance suite on those); the others are reported as skipped with that reason.
 */
const selected = process.env.MINIBATCH_BACKENDS?.split(",").map((s) => s.trim());

export function backendStatus(name: BackendName): Promise<BackendStatus> {
  let s = statuses.get(name);
  if (!s) {
    s = (async () => {
      if (selected && !selected.includes(name)) {
        return { name, available: false, reason: `not selected (MINIBATCH_BACKENDS=${selected.join(",")})` };
      }
      if (name === "webgpu" && webgpuImport) return { name, available: false, reason: webgpuImport };
      const prev = safeActive();
      try {
        await setBackend(name);
        return { name, available: true };
      } catch (e) {
        return { name, available: false, reason: (e as Error).message };
      } finally {
        if (prev) await setBackend(prev);
      }
    })();
    statuses.set(name, s);
  }
  return s;
}

function safeActive(): string | undefined {
  try {
    return getBackend().name;
  } catch {
    return undefined;
  }
}

export const requireWebGPU = process.env.MINIBATCH_REQUIRE_WEBGPU === "1";

/** The product backends, probed once per test file (top-level await). */
export const backends: BackendStatus[] = await Promise.all((["cpu", "webgpu"] as const).map(backendStatus));
/** The product backends and the float64 reference backend (primitives only), for the conformance suite. */
const withReference: BackendStatus[] = [...backends, await backendStatus("reference")];

/**
 * `describeBackends("matmul", (b) => { it(...) })` makes one describe block per backend with that
 * backend active; an unavailable backend is a skipped block that says why (or a failing test when
 * required).
 */
export function describeBackends(
  title: string,
  body: (backend: BackendName) => void,
  rows: readonly BackendStatus[] = backends,
): void {
  for (const st of rows) {
    if (!st.available) {
      if (st.name === "webgpu" && requireWebGPU && !st.reason?.startsWith("not selected")) {
        describe(`${title} [${st.name}]`, () => {
          it("has a WebGPU adapter", () => {
            throw new Error(
              `WebGPU is required here (MINIBATCH_REQUIRE_WEBGPU=1) but unavailable: ${st.reason}`,
            );
          });
        });
      } else {
        describe.skip(`${title} [${st.name}: skipped, ${st.reason}]`, () => {
          it("skipped", () => {});
        });
      }
      continue;
    }
    describe(`${title} [${st.name}]`, () => {
      beforeAll(async () => {
        await setBackend(st.name);
      });
      body(st.name);
    });
  }
}

/**
 * As describeBackends, with a third row: the reference backend (float64, primitive kernels only,
 * every fused kernel composed by the core). The conformance suite runs on all three.
 */
export function describeConformance(title: string, body: (backend: BackendName) => void): void {
  describeBackends(title, body, withReference);
}

/** Float32 tolerance per backend: WebGPU's transcendental functions are less exact than V8's. */
export function tolerance(backend: BackendName): { rtol: number; atol: number } {
  return backend === "webgpu" ? { rtol: 2e-4, atol: 2e-5 } : { rtol: 1e-5, atol: 1e-6 };
}

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise, naming the first mismatch. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { rtol?: number; atol?: number } = {},
  what = "values",
): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} differs from expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) ? !Number.isNaN(a) : !(Math.abs(a - e) <= atol + rtol * Math.abs(e)) && a !== e) {
      throw new Error(`${what}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

export { gradCheck } from "./gradcheck";
export { expectIndexError } from "./index-errors";
export { ReferenceBackend, registerReferenceBackend } from "./reference-backend/backend";
