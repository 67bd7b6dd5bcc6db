import * as mb from "@minibatch/tensor";
import { expect } from "vitest";

/** Reads every tensor in `out` (a GPU backend throws a recorded index error here). */
async function readAll(out: unknown): Promise<void> {
  for (const t of [out].flat(2) as mb.Tensor[]) await t.data();
}

/**
 * Runs `fn` in a tidy scope and reads what it returns. A backend that reads host memory must
 * throw at once; one that reads asynchronously (a GPU) when the result is read. Either way the
 * error is a RangeError whose message is exactly `message`, and no tensor or buffer outlives it.
 */
export async function expectIndexError(fn: () => unknown, message: string): Promise<void> {
  const before = mb.memory();
  let thrown: unknown = null;
  if (mb.getBackend().readSync) {
    try {
      mb.tidy(fn);
    } catch (e) {
      thrown = e;
    }
  } else {
    // Queuing the work does not throw on a GPU: the check runs on the device.
    const out = mb.tidy(fn);
    try {
      await readAll(out);
    } catch (e) {
      thrown = e;
    }
    mb.dispose(out);
  }
  expect(thrown, `expected: ${message}`).toBeInstanceOf(RangeError);
  expect((thrown as Error).message).toBe(message);
  const after = mb.memory();
  expect(after.tensors).toBe(before.tensors);
  expect(after.backends).toEqual(before.backends);
}
