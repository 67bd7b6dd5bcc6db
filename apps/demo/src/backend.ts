import "@minibatch/backend-cpu";
import { setBackend } from "@minibatch/tensor";
import type { BackendName } from "./config";

/**
 * Activates the CPU backend, or WebGPU (in Node.js through Dawn, the `webgpu` package); returns
 * a short description of the device for logs and reports.
 */
export async function useBackend(name: BackendName): Promise<string> {
  if (name === "cpu") {
    await setBackend("cpu");
    return "cpu";
  }
  const webgpu = await import("@minibatch/backend-webgpu");
  await setBackend("webgpu");
  const info = webgpu.webgpuInfo();
  const what = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(" ");
  return what ? `webgpu (${what})` : "webgpu";
}
