import { describe, expect, it } from "vitest";
import { createWebGPUBackend, type GPUData } from "./index";
import { adapterStatus } from "./test-util";

// Its own file, so the one device it destroys is the only device in its process.
const status = await adapterStatus();
const why = status.available ? "" : ` (skipped: ${status.reason})`;

describe.skipIf(!status.available)(`webgpu device loss${why}`, () => {
  it("turns device loss into catchable errors", async () => {
    const b = await createWebGPUBackend();
    const x = b.alloc(4, "float32") as GPUData;
    await b.sync();
    (b as any).device.destroy();
    await expect(b.sync()).rejects.toThrow(/lost/);
    expect(() => b.alloc(4, "float32")).toThrow(/lost/);
    await expect(b.read(x, 4, "float32")).rejects.toThrow(/lost/);
  });
});
