import { registerBackend } from "@minibatch/tensor";
import { CpuBackend } from "./backend";

export { buf, CpuBackend, type CpuData } from "./backend";
export { KERNELS as cpuKernels } from "./kernels";

// Importing this package makes the CPU backend available and, being synchronous and
// registered with the highest priority, the default one.
registerBackend("cpu", () => new CpuBackend(), 2);

/**
 * Large matrix products (matmul, and convolutions through it) are split across worker threads
 * sharing the wasm memory where SharedArrayBuffer is available (Node.js; browsers on
 * crossOriginIsolated pages); the same values on any number of threads. `setNumThreads(n)` (or the
 * environment variable MINIBATCH_NUM_THREADS) sets how many, the calling thread included.
 */
export { getNumThreads, setNumThreads } from "./wasm/pool";

/**
 * The matmul and batch-norm kernels run in WebAssembly SIMD where available. Node.js compiles them
 * synchronously on first use; in a browser, `await initWasm()` once at startup (the main thread
 * refuses synchronous compiles; until then the TypeScript kernels run).
 */
export { initWasm, wasmStatus } from "./wasm/runtime";
