import {
  allocArray,
  type Backend,
  BYTES_PER_ELEMENT,
  type DType,
  type KernelTable,
  type TensorInfo,
  type TypedArray,
} from "@minibatch/tensor";
import { KERNELS } from "./kernels";

/** A CPU buffer: the typed array is the storage itself. */
export interface CpuData {
  values: TypedArray;
  dtype: DType;
}

export class CpuBackend implements Backend {
  readonly name = "cpu";
  readonly kernels: KernelTable<CpuBackend> = KERNELS;
  private live = 0;
  private liveBytes = 0;

  alloc(size: number, dtype: DType): CpuData {
    this.live++;
    this.liveBytes += size * BYTES_PER_ELEMENT[dtype];
    return { values: allocArray(dtype, size), dtype };
  }

  write(id: object, values: TypedArray): void {
    const d = id as CpuData;
    if (values.length !== d.values.length) {
      throw new Error(`cpu.write: expected ${d.values.length} values, got ${values.length}`);
    }
    d.values.set(values);
  }

  read(id: object): Promise<TypedArray> {
    return Promise.resolve((id as CpuData).values.slice());
  }

  readSync(id: object): TypedArray {
    return (id as CpuData).values.slice();
  }

  free(id: object): void {
    const d = id as CpuData;
    this.live--;
    this.liveBytes -= d.values.length * BYTES_PER_ELEMENT[d.dtype];
  }

  memory(): { buffers: number; bytes: number } {
    return { buffers: this.live, bytes: this.liveBytes };
  }
}

/** The storage of a tensor on this backend (no copy). */
export function buf<T extends TypedArray = Float32Array>(t: TensorInfo): T {
  return (t.dataId as CpuData).values as T;
}
