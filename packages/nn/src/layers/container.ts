import type { Tensor } from "@minibatch/tensor";
import { Module } from "../module";

/**
 * Runs modules in order, each on the previous one's output (PyTorch `nn.Sequential`). Children are
 * named "0", "1", ..., so state dict keys read "0.weight", "2.bias" as in PyTorch.
 */
export class Sequential extends Module {
  private readonly layers: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: Module): this {
    if (!(m instanceof Module)) throw new Error(`Sequential: item ${this.layers.length} is not a Module`);
    this.registerModule(String(this.layers.length), m);
    this.layers.push(m);
    return this;
  }

  get length(): number {
    return this.layers.length;
  }

  /** The i-th module; negative i counts from the end. */
  at(i: number): Module {
    const m = this.layers.at(i);
    if (!m) throw new Error(`Sequential: index ${i} is out of range for ${this.layers.length} modules`);
    return m;
  }

  [Symbol.iterator](): IterableIterator<Module> {
    return this.layers[Symbol.iterator]();
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.call(y);
    return y;
  }
}

/** A list of modules that registers them (PyTorch `nn.ModuleList`); `forward` is yours to write. */
export class ModuleList extends Module {
  private readonly items: Module[] = [];

  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: Module): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): Module {
    const m = this.items.at(i);
    if (!m) throw new Error(`ModuleList: index ${i} is out of range for ${this.items.length} modules`);
    return m;
  }

  [Symbol.iterator](): IterableIterator<Module> {
    return this.items[Symbol.iterator]();
  }

  forward(): never {
    throw new Error("ModuleList has no forward; iterate over it in your module's forward");
  }
}
