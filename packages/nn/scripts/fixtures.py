"""Writes the PyTorch reference fixtures of @minibatch/nn's tests.

Run from packages/nn: `python3 scripts/fixtures.py && pnpm exec biome format --write test/fixtures`
(needs torch; the tests themselves do not; biome lays the JSON out as the repository's linter wants).
Every case records its float32 inputs, the options in minibatch's spelling, PyTorch's output,
and the gradients of sum(output * w) with respect to each float input, where
w[i] = 0.5 + (i * 7919 % 13) / 13 (the weighting the tests use too).
"""

import json
import os
import re

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")
rng = np.random.default_rng(1234)


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def weights(n):
    return torch.tensor([0.5 + (i * 7919 % 13) / 13 for i in range(n)], dtype=torch.float32)


def rand(shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def case(fn, title, inputs, options, call):
    """inputs: list of numpy arrays (float32 are differentiable; int arrays are int32 inputs)."""
    ts = []
    for a in inputs:
        if a.dtype == np.float32:
            ts.append(torch.tensor(a, requires_grad=True))
        else:
            ts.append(torch.tensor(a.astype(np.int64)))
    out = call(*ts)
    flat = out.reshape(-1)
    (flat * weights(flat.numel())).sum().backward()
    return {
        "fn": fn,
        "title": title,
        "inputs": [{"values": a.reshape(-1).tolist(), "shape": list(a.shape),
                    "dtype": "float32" if a.dtype == np.float32 else "int32"} for a in inputs],
        "options": options,
        "output": {"values": flat.detach().tolist(), "shape": list(out.shape)},
        # NaN (PyTorch's gradient of a zero KL target) becomes null: the tests expect a finite value there.
        "grads": [[None if v != v else v for v in t.grad.reshape(-1).tolist()] if t.grad is not None else None
                  for t in ts],
    }


def torch_kw(options):
    return {snake(k): tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def loss_cases():
    cases = []
    x, y = rand((3, 4), -2, 2), rand((3, 4), -2, 2)
    for beta in (1.0, 0.5, 2.0, 0.0):
        for red in ("mean", "sum", "none"):
            o = {"beta": beta, "reduction": red}
            cases.append(case("smoothL1Loss", f"beta {beta}, {red}", [x, y], o,
                              lambda a, b, o=o: F.smooth_l1_loss(a, b, **torch_kw(o))))
    logp = torch.log_softmax(torch.tensor(rand((3, 5), -2, 2)), 1).detach().numpy()
    p = torch.softmax(torch.tensor(rand((3, 5), -2, 2)), 1).detach().numpy()
    p[0, 1] = 0.0  # a zero target contributes 0 (xlogy), not NaN
    logq = torch.log_softmax(torch.tensor(rand((3, 5), -2, 2)), 1).detach().numpy()
    for red in ("mean", "batchmean", "sum", "none"):
        o = {"reduction": red}
        cases.append(case("klDivLoss", f"{red}", [logp, p], o,
                          lambda a, b, o=o: F.kl_div(a, b, **torch_kw(o))))
        o = {"reduction": red, "logTarget": True}
        cases.append(case("klDivLoss", f"{red}, logTarget", [logp, logq], o,
                          lambda a, b, o=o: F.kl_div(a, b, **torch_kw(o))))
    a, b = rand((4, 6)), rand((4, 6))
    for dim in (1, 0, -1):
        o = {"dim": dim}
        cases.append(case("cosineSimilarity", f"dim {dim}", [a, b], o,
                          lambda u, v, o=o: F.cosine_similarity(u, v, **o)))
    c3, d3 = rand((2, 3, 4)), rand((2, 3, 4))
    cases.append(case("cosineSimilarity", "3-d, dim 2, eps 1e-3", [c3, d3], {"dim": 2, "eps": 1e-3},
                      lambda u, v: F.cosine_similarity(u, v, dim=2, eps=1e-3)))
    bb = rand((1, 6))
    cases.append(case("cosineSimilarity", "broadcast [4, 6] with [1, 6]", [a, bb], {"dim": 1},
                      lambda u, v: F.cosine_similarity(u, v, dim=1)))
    target = np.array([1, -1, -1, 1], dtype=np.int32)
    for margin in (0.0, 0.3, -0.2):
        for red in ("mean", "sum", "none"):
            o = {"margin": margin, "reduction": red}
            cases.append(case("cosineEmbeddingLoss", f"margin {margin}, {red}", [a, b, target], o,
                              lambda u, v, t, o=o: F.cosine_embedding_loss(u, v, t, **torch_kw(o))))
    cases.append(case("cosineEmbeddingLoss", "one pair, 1-d", [a[0], b[0], np.array(-1, dtype=np.int32)],
                      {"margin": -0.5}, lambda u, v, t: F.cosine_embedding_loss(u, v, t, margin=-0.5)))
    s1, s2 = rand((7,)), rand((7,))
    yy = np.array([1, -1, 1, 1, -1, -1, 1], dtype=np.float32)
    for margin in (0.0, 0.5):
        for red in ("mean", "sum", "none"):
            o = {"margin": margin, "reduction": red}
            cases.append(case("marginRankingLoss", f"margin {margin}, {red}", [s1, s2, yy], o,
                              lambda u, v, t, o=o: F.margin_ranking_loss(u, v, t, **torch_kw(o))))
    return cases


def module_case(name, args, options, x_shape, title=None):
    """A layer with PyTorch's module of the same name and options, its parameters drawn here."""
    torch.manual_seed(0)
    mod = getattr(torch.nn, name)(*args, **torch_kw(options))
    params = {}
    with torch.no_grad():
        for pname, p in mod.named_parameters():
            p.copy_(torch.tensor(rand(tuple(p.shape))))
            params[pname] = {"values": p.reshape(-1).tolist(), "shape": list(p.shape)}
    xa = rand(x_shape, -2, 2)
    x = torch.tensor(xa, requires_grad=True)
    out = mod(x)
    flat = out.reshape(-1)
    (flat * weights(flat.numel())).sum().backward()
    return {
        "module": name,
        "title": title or f"{args} {options}",
        "args": args,
        "options": options,
        "params": params,
        "input": {"values": xa.reshape(-1).tolist(), "shape": list(x_shape)},
        "output": {"values": flat.detach().tolist(), "shape": list(out.shape)},
        "grads": {"input": x.grad.reshape(-1).tolist(),
                  **{k: p.grad.reshape(-1).tolist() for k, p in mod.named_parameters()}},
    }


def layer_cases():
    c = []
    C = module_case
    c.append(C("Conv2d", [2, 3, 4], {"padding": "same"}, (2, 2, 6, 7), "even kernel, padding 'same' (asymmetric)"))
    c.append(C("Conv2d", [2, 3, [2, 3]], {"padding": "same", "dilation": [1, 2]}, (1, 2, 5, 8), "kernel [2, 3], dilation [1, 2], 'same'"))
    c.append(C("Conv2d", [2, 3, 3], {"padding": 1, "paddingMode": "reflect"}, (2, 2, 5, 6), "reflect"))
    c.append(C("Conv2d", [2, 2, 3], {"padding": [1, 2], "paddingMode": "replicate", "bias": False}, (1, 2, 4, 5), "replicate, no bias"))
    c.append(C("Conv2d", [2, 3, 3], {"padding": 2, "paddingMode": "circular", "stride": 2}, (2, 2, 5, 6), "circular, stride 2"))
    c.append(C("Conv2d", [2, 3, 4], {"padding": "same", "paddingMode": "reflect"}, (1, 2, 6, 6), "'same' with reflect, even kernel"))
    c.append(C("Conv2d", [4, 2, 3], {"padding": 1, "paddingMode": "circular", "groups": 2}, (1, 4, 4, 5), "circular, groups 2"))
    c.append(C("Conv1d", [2, 4, 3], {"stride": 2, "padding": 1}, (2, 2, 9), "stride 2, padding 1"))
    c.append(C("Conv1d", [2, 3, 4], {"padding": "same", "dilation": 2}, (2, 2, 8), "'same', even kernel, dilation 2"))
    c.append(C("Conv1d", [2, 3, 3], {"padding": 2, "paddingMode": "reflect"}, (1, 2, 7), "reflect"))
    c.append(C("Conv1d", [4, 2, 3], {"groups": 2, "bias": False, "paddingMode": "circular", "padding": 1}, (2, 4, 6), "groups 2, circular, no bias"))
    c.append(C("ConvTranspose2d", [3, 2, 3], {"stride": 2, "padding": 1, "outputPadding": 1}, (2, 3, 4, 5), "stride 2, padding 1, outputPadding 1"))
    c.append(C("ConvTranspose2d", [2, 3, [2, 3]], {"stride": [1, 2], "dilation": 2}, (1, 2, 3, 4), "kernel [2, 3], stride [1, 2], dilation 2"))
    c.append(C("ConvTranspose2d", [4, 6, 3], {"stride": 3, "padding": 2, "groups": 2}, (1, 4, 3, 3), "groups 2, stride 3, padding 2"))
    c.append(C("ConvTranspose2d", [2, 2, 2], {"bias": False}, (2, 2, 3, 3), "stride 1, no bias"))
    c.append(C("ConvTranspose2d", [2, 2, 3], {"padding": 3}, (1, 2, 6, 6), "padding larger than the kernel's reach (crops)"))
    c.append(C("MaxPool2d", [3], {"stride": 2, "ceilMode": True}, (2, 2, 6, 7), "ceilMode"))
    c.append(C("MaxPool2d", [2], {"dilation": 2}, (1, 2, 7, 6), "dilation 2"))
    c.append(C("MaxPool2d", [3], {"stride": 2, "padding": 1, "ceilMode": True, "dilation": [1, 2]}, (1, 2, 8, 9), "padding, ceilMode, dilation [1, 2]"))
    c.append(C("MaxPool2d", [2], {}, (1, 3, 4, 6), "defaults"))
    c.append(C("AvgPool2d", [3], {"stride": 2, "padding": 1, "countIncludePad": False}, (2, 2, 6, 7), "countIncludePad false"))
    c.append(C("AvgPool2d", [3], {"stride": 2, "ceilMode": True}, (1, 2, 6, 8), "ceilMode"))
    c.append(C("AvgPool2d", [3], {"stride": 2, "padding": 1, "ceilMode": True, "countIncludePad": False}, (1, 2, 6, 6), "ceilMode, padding, countIncludePad false"))
    c.append(C("AvgPool2d", [2], {"stride": 1, "padding": 1, "ceilMode": True}, (1, 1, 4, 5), "ceilMode, padding, countIncludePad true"))
    c.append(C("AvgPool2d", [2], {"divisorOverride": 3}, (1, 2, 4, 4), "divisorOverride"))
    c.append(C("AdaptiveAvgPool2d", [[3, 2]], {}, (2, 2, 5, 7), "[5, 7] to [3, 2]"))
    c.append(C("AdaptiveAvgPool2d", [4], {}, (1, 2, 4, 4), "identity size"))
    c.append(C("AdaptiveAvgPool2d", [[None, 3]], {}, (1, 1, 3, 8), "None keeps the height"))
    c.append(C("AdaptiveAvgPool2d", [1], {}, (2, 3, 3, 5), "global average"))
    c.append(C("Upsample", [], {"scaleFactor": 2, "mode": "nearest"}, (1, 2, 3, 4), "nearest x2"))
    c.append(C("Upsample", [], {"size": [5, 3], "mode": "nearest"}, (1, 1, 3, 4), "nearest to [5, 3]"))
    c.append(C("Upsample", [], {"size": [5, 7], "mode": "bilinear", "alignCorners": True}, (2, 1, 3, 4), "bilinear alignCorners"))
    c.append(C("Upsample", [], {"scaleFactor": 1.5, "mode": "bilinear"}, (1, 2, 4, 4), "bilinear x1.5"))
    c.append(C("Upsample", [], {"size": [3, 2], "mode": "bilinear", "alignCorners": False}, (1, 1, 5, 6), "bilinear downsampling"))
    c.append(C("Upsample", [], {"scaleFactor": [2, 3], "mode": "bilinear", "alignCorners": True}, (1, 1, 2, 3), "bilinear alignCorners, scale [2, 3]"))
    c.append(C("Upsample", [], {"scaleFactor": 3, "mode": "nearest"}, (2, 2, 4), "nearest x3 on [N, C, L]"))
    c.append(C("Upsample", [], {"size": 7, "mode": "linear"}, (1, 2, 4), "linear to 7 on [N, C, L]"))
    c.append(C("Upsample", [], {"scaleFactor": 2.5, "mode": "linear", "alignCorners": True}, (1, 1, 3), "linear alignCorners x2.5"))
    c.append(C("Upsample", [], {"scaleFactor": 0.5, "mode": "nearest"}, (1, 1, 5, 6), "nearest x0.5 (downsampling)"))
    return c


def pad_cases():
    out = []
    x = rand((2, 3, 4, 5))
    for mode, pads in [("constant", [1, 2, 2, 0]), ("constant", [-1, 2, 0, -2]), ("reflect", [2, 1, 3, 0]),
                       ("replicate", [0, 3, 1, 2]), ("circular", [2, 5, 1, 4]), ("reflect", [1, 3])]:
        value = 0.5 if mode == "constant" else None
        o = {"pads": pads, "mode": mode, "value": value}
        kw = {"value": value} if value is not None else {}
        xi = x if len(pads) == 4 else x[0]  # PyTorch pads only the last axis of a 2- or 3-d input
        out.append(case("pad", f"{mode} {pads}", [xi], o, lambda t, pads=pads, mode=mode, kw=kw: F.pad(t, pads, mode=mode, **kw)))
    return out


def init_cases():
    out = {"dirac": [], "eye": [], "truncNormal": []}
    for shape, groups in [((4, 3, 3), 1), ((6, 2, 3, 3), 2), ((2, 4, 2, 2), 1), ((4, 2, 3, 2, 3), 2), ((3, 3, 1, 4), 3)]:
        t = torch.empty(shape)
        torch.nn.init.dirac_(t, groups)
        out["dirac"].append({"shape": list(shape), "groups": groups, "values": t.reshape(-1).tolist()})
    for shape in [(3, 5), (4, 2), (3, 3)]:
        t = torch.empty(shape)
        torch.nn.init.eye_(t)
        out["eye"].append({"shape": list(shape), "values": t.reshape(-1).tolist()})
    # Moments of the truncated normal, and PyTorch's own sample moments (its sampler, 10^6 draws).
    import math
    torch.manual_seed(0)
    for mean, std, a, b in [(0, 1, -2, 2), (0.5, 2, -1, 4), (0, 1, 1.5, 3), (0, 0.02, -0.04, 0.04), (0, 1, 4, 6)]:
        phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))
        al, be = (a - mean) / std, (b - mean) / std
        z = cdf(be) - cdf(al)
        m = mean + std * (phi(al) - phi(be)) / z
        var = std ** 2 * (1 + (al * phi(al) - be * phi(be)) / z - ((phi(al) - phi(be)) / z) ** 2)
        t = torch.empty(1_000_000)
        torch.nn.init.trunc_normal_(t, mean, std, a, b)
        out["truncNormal"].append({"mean": mean, "std": std, "a": a, "b": b, "expectedMean": m,
                                   "expectedStd": math.sqrt(var), "torchSampleMean": t.mean().item(),
                                   "torchSampleStd": t.std().item()})
    return out


def compact(data):
    """JSON with floats at 9 significant digits: enough to round-trip float32 exactly, half the size."""
    def fix(v):
        if isinstance(v, float):
            return float(f"{v:.9g}")
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v
    return json.dumps(fix(data), separators=(",", ":"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in [("losses.json", {"cases": loss_cases()}), ("init.json", init_cases()),
                       ("layers.json", {"cases": layer_cases()}), ("pad.json", {"cases": pad_cases()})]:
        with open(os.path.join(OUT, name), "w") as f:
            f.write(compact(data))
        print("wrote", name)
