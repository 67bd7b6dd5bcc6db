import { tensor } from "@minibatch/tensor";
import { describeBackends } from "@minibatch/testing";
import { expect, it } from "vitest";
import { loadSafetensors, saveSafetensors } from "./safetensors";

/** A safetensors file assembled by hand: u64 LE header length, JSON header, raw LE data. */
function build(header: unknown, data: number[] | Uint8Array, rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const le = {
  f32: (xs: number[]) => {
    const b = new Uint8Array(xs.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < xs.length; i++) dv.setFloat32(i * 4, xs[i], true);
    return [...b];
  },
  i32: (xs: number[]) => {
    const b = new Uint8Array(xs.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < xs.length; i++) dv.setInt32(i * 4, xs[i], true);
    return [...b];
  },
};

describeBackends("safetensors", () => {
  it("writes exactly the reference layout: header length, space-padded JSON, packed LE data", async () => {
    const bytes = await saveSafetensors({ x: tensor([1, 2]) });
    const json = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    // 8 + 54 = 62 bytes: padded with two spaces to 64 so the data is 8-byte aligned.
    const padded = json + " ".repeat((8 - ((8 + json.length) % 8)) % 8);
    const expected = build(null, le.f32([1, 2]), padded);
    expect(Array.from(bytes)).toEqual(Array.from(expected));
  });

  it("reads a hand-built file with F32, I32, BOOL, U8, I64, F64, F16, BF16 and metadata", async () => {
    const i64 = new Uint8Array(16);
    new DataView(i64.buffer).setBigInt64(0, -5n, true);
    new DataView(i64.buffer).setBigInt64(8, 7n, true);
    const f64 = new Uint8Array(8);
    new DataView(f64.buffer).setFloat64(0, 0.1, true);
    // F16 1.5 = 0x3e00, -2 = 0xc000; BF16 1.0 = 0x3f80, -0.5 = 0xbf00.
    const half = [0x00, 0x3e, 0x00, 0xc0];
    const bf16 = [0x80, 0x3f, 0x00, 0xbf];
    const data = [
      ...le.f32([1.5, -2, 3, 0.25]),
      ...le.i32([7, -1]),
      1,
      0,
      1,
      255,
      ...i64,
      ...f64,
      ...half,
      ...bf16,
    ];
    const header = {
      __metadata__: { format: "pt", note: "hand-built" },
      w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
      idx: { dtype: "I32", shape: [2], data_offsets: [16, 24] },
      mask: { dtype: "BOOL", shape: [3], data_offsets: [24, 27] },
      byte: { dtype: "U8", shape: [], data_offsets: [27, 28] },
      steps: { dtype: "I64", shape: [2], data_offsets: [28, 44] },
      dbl: { dtype: "F64", shape: [1], data_offsets: [44, 52] },
      half: { dtype: "F16", shape: [2], data_offsets: [52, 56] },
      bf: { dtype: "BF16", shape: [2], data_offsets: [56, 60] },
    };
    const { tensors, metadata } = loadSafetensors(build(header, data));
    expect(metadata).toEqual({ format: "pt", note: "hand-built" });
    expect(tensors.w.shape).toEqual([2, 2]);
    expect(await tensors.w.toArray()).toEqual([
      [1.5, -2],
      [3, 0.25],
    ]);
    expect(tensors.idx.dtype).toBe("int32");
    expect(Array.from(await tensors.idx.data())).toEqual([7, -1]);
    expect(tensors.mask.dtype).toBe("bool");
    expect(await tensors.mask.toArray()).toEqual([true, false, true]);
    expect(tensors.byte.shape).toEqual([]);
    expect(await tensors.byte.item()).toBe(255);
    expect(Array.from(await tensors.steps.data())).toEqual([-5, 7]);
    expect(await tensors.dbl.item()).toBeCloseTo(0.1, 7);
    expect(Array.from(await tensors.half.data())).toEqual([1.5, -2]);
    expect(Array.from(await tensors.bf.data())).toEqual([1, -0.5]);
  });

  it("round-trips every dtype, metadata and empty tensors", async () => {
    const src = {
      a: tensor([[1.25, -3.5e-8, 1e30]]),
      b: tensor(new Int32Array([-2147483648, 2147483647, 0])),
      c: tensor([true, false]),
      empty: tensor([], [0, 3]),
      s: tensor(42),
    };
    const bytes = await saveSafetensors(src, { epoch: "3" });
    const { tensors, metadata } = loadSafetensors(bytes.buffer as ArrayBuffer);
    expect(metadata).toEqual({ epoch: "3" });
    for (const [k, t] of Object.entries(src)) {
      expect(tensors[k].shape).toEqual(t.shape);
      expect(tensors[k].dtype).toBe(t.dtype);
      expect(Array.from(await tensors[k].data())).toEqual(Array.from(await t.data()));
    }
    // Same state, same bytes.
    expect(Array.from(await saveSafetensors(src, { epoch: "3" }))).toEqual(Array.from(bytes));
  });

  it("rejects malformed files with a reason", async () => {
    const ok = { t: { dtype: "F32", shape: [1], data_offsets: [0, 4] } };
    const data = le.f32([1]);
    expect(() => loadSafetensors(new Uint8Array(5))).toThrow(/too short/);
    const longHeader = build(ok, data);
    new DataView(longHeader.buffer).setUint32(0, 10_000, true);
    expect(() => loadSafetensors(longHeader)).toThrow(/runs past the end/);
    const huge = build(ok, data);
    new DataView(huge.buffer).setUint32(4, 1, true);
    expect(() => loadSafetensors(huge)).toThrow(/implausibly large/);
    expect(() => loadSafetensors(build(null, data, "{not json"))).toThrow(/not valid UTF-8 JSON/);
    expect(() => loadSafetensors(build([1, 2], data))).toThrow(/must be a JSON object/);
    expect(() =>
      loadSafetensors(build({ t: { dtype: "F32", shape: [1], data_offsets: [0, 8] } }, data)),
    ).toThrow(/run past the end of the data/);
    expect(() =>
      loadSafetensors(build({ t: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, data)),
    ).toThrow(/needs 8 bytes but data_offsets \[0,4\] span 4/);
    expect(() =>
      loadSafetensors(build({ t: { dtype: "C64", shape: [1], data_offsets: [0, 4] } }, data)),
    ).toThrow(/unsupported dtype 'C64'/);
    expect(() =>
      loadSafetensors(build({ t: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, data)),
    ).toThrow(/invalid shape/);
    expect(() =>
      loadSafetensors(build({ t: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, data)),
    ).toThrow(/invalid data_offsets/);
    expect(() =>
      loadSafetensors(
        build(
          {
            a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
            b: { dtype: "I32", shape: [1], data_offsets: [0, 4] },
          },
          data,
        ),
      ),
    ).toThrow(/overlap/);
    expect(() => loadSafetensors(build({ __metadata__: { n: 1 } }, []))).toThrow(/must be a string/);
    const i64 = new Uint8Array(8);
    new DataView(i64.buffer).setBigInt64(0, 1n << 40n, true);
    expect(() =>
      loadSafetensors(build({ t: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, i64)),
    ).toThrow(/does not fit in int32/);
    await expect(saveSafetensors({ t: tensor([1]) }, { n: 1 as any })).rejects.toThrow(
      /metadata values must be strings/,
    );
  });
});
