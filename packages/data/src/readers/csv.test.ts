import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseCsv } from "./csv";
import { readCsvFile } from "./files";

const fx = (name: string) => fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

async function rows<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of g) out.push(r);
  return out;
}

describe("CSV", () => {
  it("parses quoted fields with commas, doubled quotes, newlines and CRLF; typed columns", async () => {
    const got = await rows(readCsvFile(fx("people.csv"), { types: { age: "int", score: "number" } }));
    expect(got).toEqual([
      { name: "alice", age: 30, score: 1.5, note: "likes, commas" },
      { name: "bob", age: 25, score: 2, note: 'said "hi"\nthen left' },
      { name: "carol", age: 41, score: -300, note: "plain" },
    ]);
  });

  it("gives the same rows however the text is chunked, from a web ReadableStream", async () => {
    const text = 'a,b\n"x,\n""y""",2\n\n3,4\n"",5';
    const want = [
      { a: 'x,\n"y"', b: 2 },
      { a: "3", b: 4 },
      { a: "", b: 5 },
    ];
    for (const size of [1, 2, 3, 7, 100]) {
      const bytes = new TextEncoder().encode(text);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
          c.close();
        },
      });
      expect(await rows(parseCsv(stream, { types: { b: "number" } }))).toEqual(want);
    }
  });

  it("supports no header with columns, array output, another delimiter, and missing numbers as NaN", async () => {
    const got = await rows(
      parseCsv(["1;2\n", ";x\n"], {
        header: false,
        columns: ["u", "v"],
        delimiter: ";",
        output: "array",
        types: { u: "number" },
      }),
    );
    expect(got).toEqual([
      [1, "2"],
      [Number.NaN, "x"],
    ]);
  });

  it("rejects a ragged row, naming the file and line", async () => {
    const p = fx("ragged.csv");
    await expect(rows(readCsvFile(p))).rejects.toThrow(
      `${p}: line 3: expected 3 fields (a, b, c) but found 2`,
    );
  });

  it("rejects a non-numeric field in a number column, naming file, line and column", async () => {
    const p = fx("nonnumeric.csv");
    await expect(rows(readCsvFile(p, { types: "number" }))).rejects.toThrow(
      `${p}: line 3, column 'y': 'oops' is not a number`,
    );
    await expect(rows(parseCsv(["x\n1.5\n"], { types: "int", name: "mem.csv" }))).rejects.toThrow(
      "mem.csv: line 2, column 'x': '1.5' is not an integer",
    );
  });

  it("counts lines inside quoted fields, and reports unterminated quotes", async () => {
    await expect(rows(parseCsv(['a,b\n"1\n2",3\n4\n'], { name: "q.csv" }))).rejects.toThrow(
      "q.csv: line 4: expected 2 fields",
    );
    await expect(rows(parseCsv(['a\n"open\n'], { name: "u.csv" }))).rejects.toThrow(
      "u.csv: line 2: unterminated quoted field",
    );
    await expect(rows(parseCsv(['a,b\n"x"y,2\n'], { name: "g.csv" }))).rejects.toThrow(
      'g.csv: line 2: unexpected character "y" after a closing quote',
    );
  });
});
