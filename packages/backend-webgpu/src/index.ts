/// <reference types="@webgpu/types" />
// Typechecks of other packages read these sources too (tsconfig paths): they need the WebGPU types.
import { registerBackend } from "@minibatch/tensor";
import { findGPU, NO_ADAPTER_HELP } from "./adapter";
import { WebGPUBackend, type WebGPUInfo } from "./backend";
import { type MatmulTile, warmPipelines } from "./kernels";

export { bucketBytes, GPUData, WebGPUBackend, type WebGPUInfo } from "./backend";
export { KERNELS as webgpuKernels, type MatmulTile } from "./kernels";

export interface CreateWebGPUOptions {
  /** Passed to requestAdapter. */
  powerPreference?: "low-power" | "high-performance";
  /**
   * Compile the common pipelines with createComputePipelineAsync before returning, so the first
   * training step does not stall on synchronous compiles. Default: on for hardware GPUs, off on
   * software adapters (SwiftShader compiles slowly and every pipeline is compiled on use anyway).
   */
  warmup?: boolean;
  /** Matmul tile size; by default "large" on hardware GPUs and "small" on software adapters. */
  matmulTile?: MatmulTile;
}

let lastInfo: WebGPUInfo | null = null;

/**
 * Creates a WebGPU backend with its own device. `await setBackend('webgpu')` calls this once
 * and keeps the result; call it directly for an independent backend (tests, several devices).
 */
export async function createWebGPUBackend(opts: CreateWebGPUOptions = {}): Promise<WebGPUBackend> {
  const gpu = await findGPU();
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference });
  if (!adapter) {
    throw new Error(`minibatch webgpu: requestAdapter() found no GPU adapter. ${NO_ADAPTER_HELP}`);
  }
  const a = adapter.info;
  const info: WebGPUInfo = {
    vendor: a?.vendor ?? "",
    architecture: a?.architecture ?? "",
    device: a?.device ?? "",
    description: a?.description ?? "",
    isFallbackAdapter: (a as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? false,
  };
  // Ask for the adapter's buffer limits: the defaults (128 MiB bindings) are small for training.
  const requiredLimits: Record<string, number> = {
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits });
  } catch (e) {
    throw new Error(`minibatch webgpu: requestDevice() failed on ${describe(info)}: ${(e as Error).message}`);
  }
  const backend = new WebGPUBackend(device, info, gpu);
  if (opts.matmulTile) backend.matmulTile = opts.matmulTile;
  if (opts.warmup ?? backend.matmulTile === "large") {
    const warm = warmPipelines(backend.matmulTile);
    await Promise.all(warm.map(([key, nIn, nOut, src]) => backend.precompile(key, nIn, nOut, src)));
  }
  lastInfo = info;
  return backend;
}

function describe(info: WebGPUInfo): string {
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "an unnamed adapter";
}

/**
 * The adapter behind the most recently created WebGPU backend (vendor, architecture, ...), or
 * null before `await setBackend('webgpu')` / `createWebGPUBackend()`.
 */
export function webgpuInfo(): WebGPUInfo | null {
  return lastInfo;
}

// Registered below the CPU backend (priority 2) and asynchronous, so it is only used after
// `await setBackend('webgpu')`.
registerBackend("webgpu", () => createWebGPUBackend(), 1);
