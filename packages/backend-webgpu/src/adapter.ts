/**
 * Finding a WebGPU implementation: the browser's `navigator.gpu`, or in Node.js the optional
 * `webgpu` package (Dawn), imported lazily so that browser bundles never see it.
 */

export const NO_ADAPTER_HELP =
  "Install a GPU driver (Vulkan, Metal or D3D12). On Linux without a GPU, install Debian's chromium and " +
  "libvulkan1 (apt-get install -y chromium libvulkan1) and set " +
  "VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json to use SwiftShader, a software GPU.";

function isNode(): boolean {
  const p = (globalThis as any).process;
  return typeof p?.versions?.node === "string";
}

/** Returns a GPU object, or throws an Error that says why there is none and how to get one. */
export async function findGPU(): Promise<GPU> {
  const nav = (globalThis as any).navigator;
  if (nav?.gpu) return nav.gpu as GPU;
  if (!isNode()) {
    throw new Error(
      "minibatch webgpu: this browser has no navigator.gpu (WebGPU is disabled or unsupported). Use a browser " +
        "with WebGPU (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu), served over https or localhost.",
    );
  }
  // A variable specifier keeps bundlers from resolving (and trying to bundle) the native addon.
  const specifier = "webgpu";
  let mod: any;
  try {
    mod = await import(/* @vite-ignore */ specifier);
  } catch (e) {
    throw new Error(
      `minibatch webgpu: WebGPU in Node.js needs the optional peer dependency 'webgpu' (Dawn): npm install webgpu. Loading it failed: ${(e as Error).message}`,
    );
  }
  const globals = mod.globals ?? mod.default?.globals ?? {};
  // Dawn's README installs its constructors and enums (GPUBufferUsage, ...) as globals; keep any
  // the host already defines.
  for (const [k, v] of Object.entries(globals)) {
    if (!(k in globalThis)) (globalThis as any)[k] = v;
  }
  const create = mod.create ?? mod.default?.create;
  return create([]) as GPU;
}
