import { registerBackend } from "@minibatch/tensor";
import { CpuBackend } from "./backend";

export { buf, CpuBackend, type CpuData } from "./backend";
export { KERNELS as cpuKernels } from "./kernels";

// Importing this package makes the CPU backend available and, being synchronous and
// registered with the highest priority, the default one.
registerBackend("cpu", () => new CpuBackend(), 2);
