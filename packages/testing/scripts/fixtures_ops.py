"""Writes src/fixtures/torch-ops.json: PyTorch's values and gradients for the tensor conveniences
(sort, argsort, topk, cumsum, take_along_dim, masked_fill, unique) and the spec'd ops atan and
softplus. Run from packages/testing: python3 scripts/fixtures_ops.py (needs torch)."""
import json
import math

import torch

torch.manual_seed(0)
cases = []


def t(x):
    return x.detach().double().flatten().tolist()


def add(name, fn, inputs, grad=True, **meta):
    xs = [torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]).requires_grad_(grad) for v in inputs]
    out = fn(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    case = {"name": name, "inputs": inputs, "outputs": [{"data": t(o), "shape": list(o.shape)} for o in outs], **meta}
    if grad:
        w = torch.linspace(0.5, 1.5, outs[0].numel()).reshape(outs[0].shape)
        (outs[0] * w).sum().backward()
        case["grads"] = [t(x.grad) for x in xs]
    cases.append(case)


def data(shape, lo=-3, hi=3):
    n = math.prod(shape)
    return {"data": (torch.rand(n) * (hi - lo) + lo).tolist(), "shape": shape}


x34 = data([3, 4])
x253 = data([2, 5, 3])
ties = {"data": [2.0, 1.0, 2.0, float("nan"), 1.0, 0.5, 2.0, -1.0], "shape": [2, 4]}

for dim in (0, 1, -1):
    for desc in (False, True):
        add(f"sort dim={dim} descending={desc}", lambda x, d=dim, s=desc: torch.sort(x, dim=d, descending=s, stable=True)[0],
            [x34], dim=dim, descending=desc)
        add(f"argsort dim={dim} descending={desc}", lambda x, d=dim, s=desc: torch.argsort(x, dim=d, descending=s, stable=True).float(),
            [x34], grad=False, dim=dim, descending=desc)
for desc in (False, True):
    add(f"argsort ties and NaN descending={desc}", lambda x, s=desc: torch.argsort(x, dim=1, descending=s, stable=True).float(),
        [ties], grad=False, dim=1, descending=desc)
add("sort 3-d middle axis", lambda x: torch.sort(x, dim=1, stable=True)[0], [x253], dim=1, descending=False)
for k, largest in ((2, True), (3, False), (5, True)):
    add(f"topk k={k} largest={largest}", lambda x, k=k, l=largest: torch.topk(x, k, dim=1, largest=l)[0], [x253], k=k, largest=largest, dim=1)
    add(f"topk indices k={k} largest={largest}", lambda x, k=k, l=largest: torch.topk(x, k, dim=1, largest=l)[1].float(), [x253], grad=False, k=k, largest=largest, dim=1)
for dim in (0, 1, 2, -1):
    add(f"cumsum dim={dim}", lambda x, d=dim: torch.cumsum(x, dim=d), [x253], dim=dim)
idx = [[2, 0, 1, 1], [0, 0, 2, 1], [1, 2, 0, 0]]
add("take_along_dim dim=1", lambda x: torch.take_along_dim(x, torch.tensor(idx)[:, :3], dim=1), [x34], dim=1, indices=[r[:3] for r in idx])
add("take_along_dim dim=0", lambda x: torch.take_along_dim(x, torch.tensor(idx)[:2], dim=0), [x34], dim=0, indices=idx[:2])
mask = [[True, False, False, True], [False, False, True, False], [True, True, False, False]]
add("masked_fill", lambda x: x.masked_fill(torch.tensor(mask), -7.5), [x34], mask=mask, value=-7.5)
wide = {"data": [-1e4, -25.0, -20.0, -3.0, -0.5, 0.0, 0.5, 3.0, 19.5, 20.0, 20.5, 1e4], "shape": [12]}
add("atan", torch.atan, [wide])
add("softplus", torch.nn.functional.softplus, [wide])
u = {"data": [3.0, 1.0, 2.0, 3.0, float("nan"), 1.0, -2.0, 2.0], "shape": [2, 4]}
vals, inv, counts = torch.unique(torch.tensor(u["data"]).reshape(2, 4), sorted=True, return_inverse=True, return_counts=True)
cases.append({"name": "unique", "inputs": [u], "outputs": [{"data": t(vals), "shape": list(vals.shape)}, {"data": t(inv), "shape": list(inv.shape)}, {"data": t(counts), "shape": list(counts.shape)}]})

def clean(v):
    # JSON has no NaN or infinity: they are written as strings and read back by the tests.
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, list):
        return [clean(e) for e in v]
    if isinstance(v, dict):
        return {k: clean(e) for k, e in v.items()}
    return v


with open("src/fixtures/torch-ops.json", "w") as f:
    json.dump(clean({"generator": "scripts/fixtures_ops.py", "torch": torch.__version__, "cases": cases}), f, allow_nan=False)
print(f"{len(cases)} cases")
