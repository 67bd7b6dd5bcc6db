"""Writes reference fixtures for @minibatch/norm from PyTorch and scikit-learn.

Run from the repository root:  python3 packages/norm/scripts/fixtures.py && pnpm exec biome format --write packages/norm/fixtures
Needs torch and scikit-learn (pip install torch scikit-learn). The JSON it writes is committed;
the tests read it and never need Python.
"""

import json
import warnings
import os

import numpy as np
import torch
from sklearn.preprocessing import MinMaxScaler, StandardScaler

# NaN inputs make numpy warn about all-NaN slices inside scikit-learn; the results are checked below.
warnings.filterwarnings("ignore", category=RuntimeWarning)
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
torch.manual_seed(15)
rng = np.random.default_rng(15)


def f32(a):
    return torch.tensor(np.asarray(a, dtype=np.float32))


def flat(t):
    return [float(v) for v in t.detach().double().reshape(-1).tolist()]


def norm_case(name, layer, shapes, steps):
    """`steps` training forward/backward passes (new data each), then one eval pass."""
    case = {"name": name, "layer": layer, "steps": []}
    ctor = {
        "BatchNorm1d": torch.nn.BatchNorm1d,
        "BatchNorm2d": torch.nn.BatchNorm2d,
        "BatchNorm3d": torch.nn.BatchNorm3d,
        "InstanceNorm1d": torch.nn.InstanceNorm1d,
        "InstanceNorm2d": torch.nn.InstanceNorm2d,
        "GroupNorm": torch.nn.GroupNorm,
        "LayerNorm": torch.nn.LayerNorm,
    }[layer["type"]]
    m = ctor(*layer["args"], **layer.get("torchKwargs", {}))
    if getattr(m, "weight", None) is not None:
        with torch.no_grad():
            m.weight.copy_(f32(rng.uniform(0.5, 1.5, m.weight.shape)))
            m.bias.copy_(f32(rng.uniform(-0.5, 0.5, m.bias.shape)))
        case["weight"] = flat(m.weight)
        case["bias"] = flat(m.bias)
    for i, shape in enumerate(shapes):
        training = i < steps
        m.train(training)
        x = f32(rng.normal(2.0, 3.0, shape)).requires_grad_(True)
        dy = f32(rng.normal(0, 1, shape))
        y = m(x)
        (y * dy).sum().backward()
        step = {
            "training": training,
            "shape": list(shape),
            "x": flat(x),
            "dy": flat(dy),
            "y": flat(y),
            "dx": flat(x.grad),
        }
        if getattr(m, "weight", None) is not None:
            step["dweight"] = flat(m.weight.grad)
            step["dbias"] = flat(m.bias.grad)
            m.weight.grad = None
            m.bias.grad = None
        if getattr(m, "running_mean", None) is not None:
            step["runningMean"] = flat(m.running_mean)
            step["runningVar"] = flat(m.running_var)
            step["numBatchesTracked"] = int(m.num_batches_tracked)
        case["steps"].append(step)
    return case


def norm_fixtures():
    cases = []
    for momentum in [0.1, None, 0.3]:
        mom = "None" if momentum is None else momentum
        cases.append(
            norm_case(
                f"BatchNorm1d (N, C) momentum {mom}",
                {"type": "BatchNorm1d", "args": [3], "options": {"momentum": momentum},
                 "torchKwargs": {"momentum": momentum}},
                [(5, 3), (4, 3), (6, 3), (3, 3)], 3,
            )
        )
    cases.append(norm_case("BatchNorm1d (N, C, L)", {"type": "BatchNorm1d", "args": [2]},
                           [(3, 2, 4), (2, 2, 5), (2, 2, 3)], 2))
    cases.append(norm_case("BatchNorm1d (1, C, L): n = L", {"type": "BatchNorm1d", "args": [2]},
                           [(1, 2, 3), (2, 2, 3)], 1))
    cases.append(norm_case("BatchNorm2d", {"type": "BatchNorm2d", "args": [3]},
                           [(2, 3, 3, 2), (3, 3, 2, 2), (1, 3, 2, 3)], 2))
    cases.append(norm_case("BatchNorm2d eps 1e-3 momentum None",
                           {"type": "BatchNorm2d", "args": [2], "options": {"eps": 1e-3, "momentum": None},
                            "torchKwargs": {"eps": 1e-3, "momentum": None}},
                           [(2, 2, 2, 2), (3, 2, 1, 2), (2, 2, 2, 1)], 2))
    cases.append(norm_case("BatchNorm3d", {"type": "BatchNorm3d", "args": [2]},
                           [(2, 2, 2, 2, 3), (2, 2, 3, 2, 2)], 1))
    cases.append(norm_case("BatchNorm1d affine off", {"type": "BatchNorm1d", "args": [2],
                           "options": {"affine": False}, "torchKwargs": {"affine": False}},
                           [(4, 2), (3, 2)], 1))
    cases.append(norm_case("BatchNorm1d without running stats",
                           {"type": "BatchNorm1d", "args": [2], "options": {"trackRunningStats": False},
                            "torchKwargs": {"track_running_stats": False}},
                           [(4, 2), (3, 2)], 1))
    cases.append(norm_case("LayerNorm [4]", {"type": "LayerNorm", "args": [4]}, [(3, 4), (2, 3, 4)], 2))
    cases.append(norm_case("GroupNorm 2 groups of 2", {"type": "GroupNorm", "args": [2, 4]},
                           [(2, 4, 3), (3, 4, 2, 2)], 2))
    cases.append(norm_case("InstanceNorm2d affine", {"type": "InstanceNorm2d", "args": [2],
                           "options": {"affine": True}, "torchKwargs": {"affine": True}},
                           [(2, 2, 3, 3)], 1))
    return cases


def scaler_fixtures():
    cases = []
    data = {
        "small": rng.normal(0, 1, (12, 3)),
        "offset 1e9 noise 1e-4": 1e9 + rng.normal(0, 1e-4, (400, 2)),
        "offset -1e9 noise 1e-6": -1e9 + rng.normal(0, 1e-6, (300, 1)),
        "constant and near-constant": np.stack([np.full(10, 7.0), 5 + 1e-13 * np.arange(10),
                                                np.arange(10.0)], axis=1),
        "with NaN": np.where(rng.uniform(size=(15, 3)) < 0.2, np.nan, rng.normal(3, 2, (15, 3))),
    }
    for name, x in data.items():
        # scikit-learn's partial_fit turns a feature's statistics into NaN for good once a chunk
        # holds only NaN in it (as a single row with a NaN does): no chunks of one with NaN.
        for chunks in [1, 3] if "NaN" in name else [1, 3, None]:
            # None: chunks of one sample
            parts = [x[i:i + 1] for i in range(len(x))] if chunks is None else np.array_split(x, chunks)
            # StandardScaler: fit on the whole, the contract partialFit must meet over any chunking.
            # (scikit-learn's own partial_fit merges chunks less precisely: at 1e9 + noise it is
            # off by 1e-5 relative in the variance, where fit is exact to rounding.)
            ss = StandardScaler().fit(x)
            mm = MinMaxScaler()
            for p in parts:
                mm.partial_fit(p)
            probe = x[: min(5, len(x))]
            cases.append({
                "name": f"{name}, {'chunks of one' if chunks is None else f'{chunks} chunk(s)'}",
                "x": [[None if np.isnan(v) else float(v) for v in row] for row in x],
                "chunks": [len(p) for p in parts],
                "standard": {
                    "mean": [float(v) for v in ss.mean_],
                    "var": [float(v) for v in ss.var_],
                    "scale": [float(v) for v in ss.scale_],
                    "nSamplesSeen": [int(v) for v in np.broadcast_to(ss.n_samples_seen_, (x.shape[1],))],
                    "transform": [[None if np.isnan(v) else float(v) for v in r] for r in ss.transform(probe)],
                },
                "minmax": {
                    "dataMin": [float(v) for v in mm.data_min_],
                    "dataMax": [float(v) for v in mm.data_max_],
                    "scale": [float(v) for v in mm.scale_],
                    "min": [float(v) for v in mm.min_],
                },
            })
    return cases


def torch_model_fixture():
    """A model with BatchNorm trained a few steps in PyTorch, saved with safetensors, plus its
    eval outputs: minibatch must load the file and give the same outputs."""
    from safetensors.torch import save_file

    model = torch.nn.Sequential(
        torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Sigmoid(), torch.nn.Linear(5, 3)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        x = f32(rng.normal(1.0, 2.0, (8, 4)))
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = f32(rng.normal(1.0, 2.0, (6, 4)))
    with torch.no_grad():
        y = model(x)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(OUT, "torch-bn-model.safetensors"))
    with open(os.path.join(OUT, "torch-bn-model.json"), "w") as f:
        json.dump({"keys": list(model.state_dict().keys()), "x": flat(x), "xShape": list(x.shape),
                   "y": flat(y), "yShape": list(y.shape)}, f, allow_nan=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"torch": torch.__version__, "sklearn": __import__("sklearn").__version__}
    with open(os.path.join(OUT, "norm-torch.json"), "w") as f:
        json.dump({"generator": meta, "cases": norm_fixtures()}, f, allow_nan=False)
    with open(os.path.join(OUT, "scalers-sklearn.json"), "w") as f:
        json.dump({"generator": meta, "cases": scaler_fixtures()}, f, allow_nan=False)
    torch_model_fixture()


if __name__ == "__main__":
    main()
