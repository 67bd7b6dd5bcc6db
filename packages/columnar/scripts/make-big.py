"""Writes a Parquet data set larger than the memory cap of scripts/stream-memory.mjs (not
committed): python3 scripts/make-big.py OUT.parquet ROWS COLS [ROW_GROUP_ROWS]. Random float32
columns, which do not compress, so the file is about ROWS * COLS * 4 bytes."""
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

out, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
group = int(sys.argv[4]) if len(sys.argv) > 4 else 32768
rng = np.random.default_rng(0)
writer = None
for start in range(0, rows, group):
    n = min(group, rows - start)
    t = pa.table({"id": pa.array(np.arange(start, start + n, dtype=np.int32))}
                 | {f"f{c}": pa.array(rng.standard_normal(n, dtype=np.float32)) for c in range(cols)})
    # No dictionary: float features are PLAIN-encoded, as writers do once a dictionary overflows.
    writer = writer or pq.ParquetWriter(out, t.schema, compression="snappy", use_dictionary=False)
    writer.write_table(t, row_group_size=group)
writer.close()
