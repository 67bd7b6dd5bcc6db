"""Writes the small Parquet fixtures of @minibatch/columnar's tests with pyarrow (the reference
writer). Run from packages/columnar: python3 scripts/make-fixtures.py. Values are simple
functions of the row id, so the tests check them without Python:
  id int32 = row id; x float32 = id / 2; y float64 = -id * 0.25; label int32 = id % 7;
  big int64 = id * 1e10; name string = "row<id>".
wide.parquet has larger column chunks (id, x as above, and noise: float64 that does not
compress), so that skipping a column or a row group saves bytes beyond the 8 KiB gaps that
readers (hyparquet, Arrow) read through rather than making another request.
"""
import os
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")


def table(start, n):
    ids = list(range(start, start + n))
    return pa.table(
        {
            "id": pa.array(ids, pa.int32()),
            "x": pa.array([i / 2 for i in ids], pa.float32()),
            "y": pa.array([-i * 0.25 for i in ids], pa.float64()),
            "label": pa.array([i % 7 for i in ids], pa.int32()),
            "big": pa.array([i * 10_000_000_000 for i in ids], pa.int64()),
            "name": pa.array([f"row{i}" for i in ids], pa.string()),
        }
    )


def write(name, t, row_group_size):
    pq.write_table(t, os.path.join(OUT, name), row_group_size=row_group_size, compression="snappy",
                   write_statistics=True)


os.makedirs(OUT, exist_ok=True)
# One file of 1000 rows in 10 row groups of 100.
write("table.parquet", table(0, 1000), 100)
# Three row groups of 1500 rows with incompressible noise.
n = 4500
rng = np.random.default_rng(0)
wide = pa.table(
    {
        "id": pa.array(range(n), pa.int32()),
        "noise": pa.array(rng.standard_normal(n), pa.float64()),
        "x": pa.array([i / 2 for i in range(n)], pa.float32()),
    }
)
write("wide.parquet", wide, 1500)
# A data set sharded over three files of unequal length (row groups of 64 rows, the last short).
start = 0
for k, n in enumerate([250, 300, 170]):
    write(f"shard-{k}.parquet", table(start, n), 64)
    start += n
# The same 1000 rows as an Arrow IPC stream in record batches of 100 rows.
import pyarrow.ipc as ipc  # noqa: E402

t = table(0, 1000)
with ipc.new_stream(os.path.join(OUT, "table.arrows"), t.schema) as w:
    for b in t.to_batches(max_chunksize=100):
        w.write_batch(b)
