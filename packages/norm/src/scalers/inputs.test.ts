import "@minibatch/backend-cpu";
import * as mb from "@minibatch/tensor";
import { expect, it } from "vitest";
import { MinMaxScaler } from "./minmax";
import { StandardScaler } from "./standard";

// fit, transform and inverseTransform take the same inputs: a tensor, a nested array or
// { values, shape }; the temporary tensor made from plain data is disposed.
const rows = [
  [1, 10],
  [3, 30],
  [5, 50],
];

for (const make of [() => new StandardScaler(), () => new MinMaxScaler()]) {
  it(`${make().constructor.name}: transform and inverseTransform accept what fit accepts`, async () => {
    const s = await make().fit(rows);
    const viaTensor = mb.tensor(rows);
    const ref = s.transform(viaTensor);
    const expected = await ref.data();
    const before = mb.memory().tensors;
    const a = s.transform(rows);
    const b = s.transform({ values: rows.flat(), shape: [3, 2] });
    expect(Array.from(await a.data())).toEqual(Array.from(expected));
    expect(Array.from(await b.data())).toEqual(Array.from(expected));
    const back = s.inverseTransform(await a.toArray());
    expect(Array.from(await back.data())).toEqual(rows.flat());
    expect(mb.memory().tensors).toBe(before + 3);
    mb.dispose([viaTensor, ref, a, b, back]);
    expect(() => s.transform(42 as never)).toThrow(
      /transform: expected a Tensor, a nested array or \{ values, shape \}/,
    );
  });
}
