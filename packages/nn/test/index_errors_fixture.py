"""Which class targets and embedding indices PyTorch rejects, and its values for the others.

Writes index-errors.fixture.json beside this file; index-errors.test.ts checks every backend
against it. Run: python3 packages/nn/test/index_errors_fixture.py (torch 2.x, CPU is enough), then
`pnpm exec biome format --write packages/nn/test` to format the JSON.
"""

import json
import pathlib

import torch
import torch.nn.functional as F

N, C = 4, 3
LOGITS = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-2.0, 0.0, 1.0], [0.3, 0.6, -0.9]]
EMB = [[float(2 * r), float(2 * r + 1)] for r in range(5)]


def verdict(fn):
    try:
        out = fn()
    except (IndexError, RuntimeError) as e:
        return {"raises": True, "torch": str(e).splitlines()[0]}
    return {"raises": False, "values": out.detach().double().reshape(-1).tolist()}


cases = []
for target, ignore in [
    ([0, 2, 1, 1], None),
    ([0, -100, 2, 1], None),
    ([0, 3, 1, 1], None),
    ([0, -1, 1, 1], None),
    ([1, 1, 0, 2], 1),
    ([-100, 1, 0, 2], 1),
    ([5, 0, 1, 2], 5),
    ([-1, 0, 1, 2], -1),
]:
    x = torch.tensor(LOGITS, dtype=torch.float64)
    t = torch.tensor(target)
    kw = {} if ignore is None else {"ignore_index": ignore}
    for op, fn in [
        ("crossEntropy", lambda: F.cross_entropy(x, t, reduction="none", **kw)),
        ("nllLoss", lambda: F.nll_loss(F.log_softmax(x, 1), t, reduction="none", **kw)),
    ]:
        cases.append({"op": op, "target": target, "ignoreIndex": ignore, **verdict(fn)})

for indices, shape in [([4, 0, 4], [3]), ([-1], [1]), ([5], [1]), ([0, 1, 2, 7], [2, 2]), ([], [0])]:
    w = torch.tensor(EMB, dtype=torch.float64)
    idx = torch.tensor(indices, dtype=torch.long).reshape(shape)
    cases.append({"op": "Embedding", "indices": indices, "shape": shape, **verdict(lambda: F.embedding(idx, w))})

out = {"logits": LOGITS, "n": N, "c": C, "embedding": EMB, "cases": cases}
path = pathlib.Path(__file__).with_name("index-errors.fixture.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {len(cases)} cases to {path}")
