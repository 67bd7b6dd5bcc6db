// Streams a Parquet file through ParquetStream under a V8 heap cap and reports peak memory:
//   pnpm --filter @minibatch/columnar build
//   python3 scripts/make-big.py /tmp/big.parquet 1500000 32
//   node --max-old-space-size=64 scripts/stream-memory.mjs /tmp/big.parquet
// It exits non-zero when the peak resident memory passes --cap-mb (default 3x the heap cap).
import { statSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { ParquetStream } from "@minibatch/columnar";

const path = process.argv[2];
if (!path)
  throw new Error("usage: node --max-old-space-size=64 scripts/stream-memory.mjs FILE.parquet [--cap-mb N]");
const heapCapMb = getHeapStatistics().heap_size_limit / 2 ** 20;
const i = process.argv.indexOf("--cap-mb");
const capMb = i > 0 ? Number(process.argv[i + 1]) : Math.round(3 * heapCapMb);
const fileMb = statSync(path).size / 2 ** 20;

const stream = await ParquetStream.open(path, { shuffle: true, seed: 1, shuffleWindow: 1, prefetch: 1 });
const meta = stream.files[0];
let peakRss = 0;
let peakHeap = 0;
let peakExternal = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
  peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
};
const timer = setInterval(sample, 20);
const t0 = performance.now();
let rows = 0;
let sum = 0;
// Batches of 256 rows, column by column, as a training loop would take them.
for await (const batch of stream.batches(0, 256)) {
  rows += batch.id.length;
  for (const v of batch.f0) sum += v;
  sample();
}
clearInterval(timer);
sample();
const s = (performance.now() - t0) / 1000;
const mb = (b) => (b / 2 ** 20).toFixed(1);
const rawMb = (rows * meta.columns.length * 4) / 2 ** 20;
console.log(
  `file ${fileMb.toFixed(1)} MiB on disk, ${rows} rows x ${meta.columns.length} columns (${rawMb.toFixed(0)} MiB as float32), ${meta.rowGroups.length} row groups`,
);
console.log(`V8 heap cap ${heapCapMb.toFixed(0)} MiB; resident-memory cap checked: ${capMb} MiB`);
console.log(
  `peak RSS ${mb(peakRss)} MiB, peak heap used ${mb(peakHeap)} MiB, peak external+arrayBuffers ${mb(peakExternal)} MiB`,
);
console.log(
  `peak decoded row groups alive: ${stream.peakLiveRowGroups}; read ${mb(stream.stats.bytes)} MiB in ${stream.stats.requests} reads; ${s.toFixed(1)} s (${Math.round(rows / s)} rows/s); checksum ${sum.toFixed(3)}`,
);
await stream.close();
if (peakRss / 2 ** 20 > capMb) {
  console.error(`FAIL: peak RSS ${mb(peakRss)} MiB is above the cap of ${capMb} MiB`);
  process.exit(1);
}
