import { type IndexCheck, indexError, type Shape } from "@minibatch/tensor";
import { PRELUDE } from "./wgsl";

/**
 * Data-dependent index checks on the GPU. A check is one dispatch over the indices that records
 * the first failing position, its value and the check's id in a small device buffer (the error
 * record: [id, position, value as bits, unused]) unless an earlier check already failed there.
 * `read()` and `sync()` copy the record out and clear it in the same command stream, then turn a
 * set record into the error the CPU would have thrown (`indexError`, shared with every backend).
 */

/** Bytes of the device error record. */
export const INDEX_ERROR_BYTES = 16;

/** Threads of the one workgroup that scans the indices. */
const THREADS = 256;

/**
 * One workgroup strides over the indices; each thread keeps its first failure and the workgroup
 * takes the smallest position with an atomic min, so the position is the CPU's (the first in
 * memory order) whatever the scheduling. Only thread 0 writes the record, and dispatches run in
 * order, so an earlier failing check is never overwritten by a later one.
 */
export const INDEX_CHECK_SRC = /* wgsl */ `${PRELUDE}
@group(0) @binding(1) var<storage, read> IDX: array<i32>;
@group(0) @binding(2) var<storage, read_write> ERR: array<u32>;
var<workgroup> first: atomic<u32>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) li: u32) {
  // params: n, low, high, hasIgnore, ignore, id
  let n = U(0u);
  let low = P(1u);
  let high = P(2u);
  let hasIgnore = P(3u) != 0;
  let ignore = P(4u);
  if (li == 0u) { atomicStore(&first, 0xffffffffu); }
  workgroupBarrier();
  var mine = 0xffffffffu;
  for (var j = li; j < n; j = j + ${THREADS}u) {
    let v = IDX[j];
    if ((v < low || v >= high) && !(hasIgnore && v == ignore)) {
      mine = j;
      break;
    }
  }
  if (mine != 0xffffffffu) { atomicMin(&first, mine); }
  workgroupBarrier();
  if (li == 0u) {
    let p = atomicLoad(&first);
    if (p != 0xffffffffu && ERR[0] == 0u) {
      ERR[0] = U(5u);
      ERR[1] = p;
      ERR[2] = bitcast<u32>(IDX[p]);
    }
  }
}`;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const clampI32 = (v: number) => Math.min(INT32_MAX, Math.max(INT32_MIN, v));

/** The kernel parameters of one check. */
export function indexCheckParams(n: number, check: IndexCheck, id: number): number[] {
  const ig = check.ignore;
  // An ignore value no int32 can equal (fractional, out of int32 range) is no exception at all.
  const hasIgnore = ig !== undefined && Number.isInteger(ig) && ig >= INT32_MIN && ig <= INT32_MAX;
  return [n, clampI32(check.low), clampI32(check.high), hasIgnore ? 1 : 0, hasIgnore ? ig : 0, id];
}

interface Pending {
  check: IndexCheck;
  shape: Shape;
}

/** The checks queued since the record was last copied out, by id. */
export class IndexCheckLog {
  private pending = new Map<number, Pending>();
  private nextId = 1;

  get size(): number {
    return this.pending.size;
  }

  /** Registers a check about to be dispatched; returns the id its kernel writes on failure. */
  add(check: IndexCheck, shape: Shape): number {
    const id = this.nextId;
    // Ids stay in u32 and never 0 (0 means "no failure").
    this.nextId = id >= 0xfffffff0 ? 1 : id + 1;
    this.pending.set(id, { check, shape: [...shape] });
    return id;
  }

  /** Takes every pending check: their outcome is in the record copied out at this point. */
  take(): Map<number, Pending> {
    const taken = this.pending;
    this.pending = new Map();
    return taken;
  }

  clear(): void {
    this.pending.clear();
  }
}

/** The error for a copied-out record, or null when no check failed. */
export function decodeIndexError(record: Uint32Array, taken: Map<number, Pending>): Error | null {
  const id = record[0];
  if (id === 0) return null;
  const p = taken.get(id);
  if (!p) return new Error(`minibatch webgpu: internal: an index check with unknown id ${id} failed`);
  const value = new Int32Array(record.buffer, record.byteOffset, 4)[2];
  return indexError(p.check, value, record[1], p.shape);
}
