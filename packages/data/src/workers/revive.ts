import { ConcatDataset, isMapStyle, type MapStyleDataset, Subset, ZipDataset } from "../datasets";
import type { WorkerDescriptor } from "./descriptor";

function toImportable(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) return spec;
  if (spec.startsWith("/") || /^[a-z]:[\\/]/i.test(spec)) {
    return `file://${spec.startsWith("/") ? "" : "/"}${encodeURI(spec.replace(/\\/g, "/"))}`;
  }
  return spec;
}

/** Rebuilds a dataset from its descriptor, inside a worker. */
export async function reviveDataset(d: WorkerDescriptor): Promise<MapStyleDataset> {
  switch (d.kind) {
    case "module": {
      const mod = await import(/* @vite-ignore */ toImportable(d.module));
      const name = d.export ?? "default";
      if (!(name in mod)) {
        throw new Error(
          `workerDataset: module ${d.module} has no export '${name}' (exports: ${Object.keys(mod).join(", ")})`,
        );
      }
      let ds = mod[name];
      if (typeof ds === "function" && !isMapStyle(ds)) ds = await ds(...(d.args ?? []));
      if (!isMapStyle(ds)) {
        throw new Error(
          `workerDataset: export '${name}' of ${d.module} is not a map-style dataset (an object with length and get(i)), nor a function returning one`,
        );
      }
      return ds;
    }
    case "idx": {
      const { IdxDataset } = await import("../readers/idx-file");
      return IdxDataset.open(d.path, d.options);
    }
    case "subset":
      return new Subset(await reviveDataset(d.of), d.indices);
    case "concat":
      return new ConcatDataset(await Promise.all(d.of.map(reviveDataset)));
    case "zip":
      return new ZipDataset(await Promise.all(d.of.map(reviveDataset)), d.keys);
  }
}
