import { setBackend } from "@minibatch/tensor";

export interface AdapterStatus {
  available: boolean;
  reason?: string;
}

export const requireWebGPU = (globalThis as any).process?.env?.MINIBATCH_REQUIRE_WEBGPU === "1";

/**
 * Whether the webgpu backend starts here. Tests skip (saying why) without an adapter, unless
 * MINIBATCH_REQUIRE_WEBGPU=1, where a missing adapter is an error.
 */
export async function adapterStatus(): Promise<AdapterStatus> {
  try {
    await setBackend("webgpu");
    return { available: true };
  } catch (e) {
    if (requireWebGPU) throw e;
    return { available: false, reason: (e as Error).message };
  }
}
