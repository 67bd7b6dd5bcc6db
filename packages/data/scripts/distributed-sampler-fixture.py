"""Reference indices of torch.utils.data.DistributedSampler (shuffle=False, whose order does not
depend on torch's generator) for DistributedSampler's tests. Run from packages/data:
python3 scripts/distributed-sampler-fixture.py"""
import json
import os
from torch.utils.data import DistributedSampler

cases = []
for n in [0, 1, 5, 10, 11, 17]:
    for replicas in [1, 2, 3, 4]:
        for drop_last in [False, True]:
            ranks = [
                list(DistributedSampler(range(n), num_replicas=replicas, rank=r, shuffle=False, drop_last=drop_last))
                for r in range(replicas)
            ]
            cases.append({"n": n, "numReplicas": replicas, "dropLast": drop_last, "ranks": ranks})
out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "distributed-sampler.json")
with open(out, "w") as f:
    json.dump(cases, f)
