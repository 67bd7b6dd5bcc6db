"""Writes the PyTorch reference fixtures of @minibatch/optim's tests.

Run from packages/optim: `python3 scripts/fixtures.py && pnpm exec biome format --write test/fixtures`
(needs torch; the tests themselves do not; biome lays the JSON out as the repository's linter wants).
Optimizer cases replay the test harness's fixed parameters and gradients (test/harness.ts: INIT and
gradAt, recomputed here in float32) and record every parameter after every step. Scheduler cases
record get_last_lr() after construction and after every step.
"""

import json
import math
import os
import re

import numpy as np
import torch

torch.set_default_dtype(torch.float32)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")

INIT = [np.array(a, dtype=np.float32) for a in ([0.5, -1.2, 2.0, 0.1], [0.3, -0.7, 1.5])]
SHAPES = [(2, 2), (3,)]


def grad_at(t, k):
    out = []
    for i in range(len(INIT[k])):
        if k == 0 and i == 3 and t == 0:
            out.append(0.0)
        else:
            out.append(math.sin(1 + 1.7 * t + 2.3 * k + 0.9 * i) * (1 + i))
    return np.array(out, dtype=np.float32)


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def torch_opts(opts):
    return {snake(k): (tuple(v) if isinstance(v, list) else v) for k, v in opts.items()}


def run_optimizer(cls, options, group_overrides=None, steps=8):
    params = [torch.tensor(v.copy()).reshape(s).requires_grad_() for v, s in zip(INIT, SHAPES)]
    if group_overrides is None:
        opt = cls(params, **torch_opts(options))
    else:
        groups = [{"params": [p], **torch_opts(o)} for p, o in zip(params, group_overrides)]
        opt = cls(groups, **torch_opts(options))
    trajectory = []
    for t in range(steps):
        for k, p in enumerate(params):
            p.grad = torch.tensor(grad_at(t, k)).reshape(SHAPES[k])
        opt.step()
        trajectory.append([p.detach().reshape(-1).tolist() for p in params])
    return trajectory


OPTIMIZERS = {
    "SGD": (torch.optim.SGD, [
        ("plain", {"lr": 0.1}, None),
        ("momentum, dampening, weightDecay", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weightDecay": 0.2}, None),
        ("nesterov", {"lr": 0.05, "momentum": 0.8, "nesterov": True}, None),
        ("maximize, per-group options", {"lr": 0.05, "maximize": True}, [{}, {"lr": 0.2, "momentum": 0.5}]),
    ]),
    "Adam": (torch.optim.Adam, [
        ("plain", {"lr": 0.05}, None),
        ("betas, eps, L2 weightDecay", {"lr": 0.02, "betas": [0.8, 0.9], "eps": 1e-3, "weightDecay": 0.2}, None),
        ("amsgrad", {"lr": 0.05, "amsgrad": True}, None),
        ("maximize, per-group options", {"lr": 0.05, "maximize": True}, [{}, {"lr": 0.01, "betas": [0.5, 0.6]}]),
    ]),
    "AdamW": (torch.optim.AdamW, [
        ("defaults (weightDecay 0.01)", {"lr": 0.05}, None),
        ("decoupled weightDecay 0.3", {"lr": 0.05, "weightDecay": 0.3}, None),
        ("amsgrad", {"lr": 0.05, "amsgrad": True, "weightDecay": 0.1}, None),
        ("per-group options", {"lr": 0.05}, [{"weightDecay": 0.5}, {"lr": 0.01}]),
    ]),
    "RMSprop": (torch.optim.RMSprop, [
        ("plain", {"lr": 0.01}, None),
        ("alpha, eps, weightDecay", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weightDecay": 0.1}, None),
        ("momentum, centered", {"lr": 0.01, "momentum": 0.9, "centered": True}, None),
        ("per-group options", {"lr": 0.01}, [{}, {"lr": 0.05, "momentum": 0.5}]),
    ]),
    "Adagrad": (torch.optim.Adagrad, [
        ("plain", {"lr": 0.1}, None),
        ("lrDecay, weightDecay, initialAccumulatorValue, eps", {"lr": 0.2, "lrDecay": 0.05, "weightDecay": 0.1, "initialAccumulatorValue": 0.3, "eps": 1e-3}, None),
        ("maximize", {"lr": 0.1, "maximize": True}, None),
        ("per-group options", {"lr": 0.1}, [{}, {"lr": 0.3, "lrDecay": 0.1, "maximize": True}]),
    ]),
    "Adamax": (torch.optim.Adamax, [
        ("plain", {"lr": 0.05}, None),
        ("betas, eps, weightDecay", {"lr": 0.02, "betas": [0.8, 0.9], "eps": 1e-3, "weightDecay": 0.2}, None),
        ("maximize", {"lr": 0.05, "maximize": True}, None),
        ("per-group options", {"lr": 0.05}, [{"weightDecay": 0.5}, {"lr": 0.1, "betas": [0.5, 0.6]}]),
    ]),
    "NAdam": (torch.optim.NAdam, [
        ("plain", {"lr": 0.05}, None),
        ("betas, eps, momentumDecay", {"lr": 0.02, "betas": [0.8, 0.9], "eps": 1e-3, "momentumDecay": 0.1}, None),
        ("L2 weight decay", {"lr": 0.05, "weightDecay": 0.3}, None),
        ("decoupled weight decay", {"lr": 0.05, "weightDecay": 0.3, "decoupledWeightDecay": True}, None),
        ("maximize", {"lr": 0.05, "maximize": True}, None),
        ("per-group options", {"lr": 0.05}, [{}, {"lr": 0.01, "weightDecay": 0.1, "maximize": True}]),
    ]),
    "RAdam": (torch.optim.RAdam, [
        ("plain (rectified from step 6)", {"lr": 0.05}, None),
        ("betas rectified from step 1", {"lr": 0.02, "betas": [0.8, 0.5], "eps": 1e-3}, None),
        ("L2 weight decay", {"lr": 0.05, "weightDecay": 0.3, "betas": [0.9, 0.9]}, None),
        ("decoupled weight decay", {"lr": 0.05, "weightDecay": 0.3, "decoupledWeightDecay": True, "betas": [0.9, 0.9]}, None),
        ("maximize", {"lr": 0.05, "maximize": True, "betas": [0.9, 0.9]}, None),
        ("per-group options", {"lr": 0.05, "betas": [0.9, 0.9]}, [{}, {"lr": 0.01, "betas": [0.5, 0.6]}]),
    ]),
}


def optimizer_fixtures():
    cases = []
    for name, (cls, variants) in OPTIMIZERS.items():
        for title, options, groups in variants:
            cases.append({
                "optimizer": name,
                "title": title,
                "options": options,
                "groups": groups,
                "steps": run_optimizer(cls, options, groups),
            })
    return {"init": [v.tolist() for v in INIT], "shapes": SHAPES, "cases": cases}


# ---- L-BFGS ---------------------------------------------------------------------------------------

LBFGS_A = [[1.0, 0.5, -0.3, 0.2], [0.1, -1.2, 0.4, 0.0], [0.3, 0.2, 0.9, -0.5]]
LBFGS_B = [1.0, -0.5, 0.25]


def lbfgs_loss(x, w):
    a = torch.tensor(LBFGS_A)
    b = torch.tensor(LBFGS_B)
    return ((a @ x - b) ** 2).sum() + 0.1 * (x ** 4).sum() + (w[0] * x[0] - w[1]) ** 2


def lbfgs_fixtures():
    cases = []
    for title, options, steps in [
        ("defaults, 3 steps", {}, 3),
        ("maxIter 4, historySize 2, lr 0.5", {"maxIter": 4, "historySize": 2, "lr": 0.5}, 4),
        ("maxEval 3", {"maxEval": 3, "maxIter": 10}, 3),
    ]:
        x = torch.tensor([0.5, -1.0, 0.8, 0.3], requires_grad=True)
        w = torch.tensor([1.5, -0.4], requires_grad=True)
        opt = torch.optim.LBFGS([x, w], **torch_opts(options))

        def closure():
            opt.zero_grad()
            loss = lbfgs_loss(x, w)
            loss.backward()
            return loss

        record = []
        for _ in range(steps):
            loss = opt.step(closure)
            record.append({"loss": float(loss), "x": x.detach().tolist(), "w": w.detach().tolist(),
                           "funcEvals": opt.state[x]["func_evals"], "nIter": opt.state[x]["n_iter"]})
        cases.append({"title": title, "options": options, "steps": record})
    return {"A": LBFGS_A, "b": LBFGS_B, "x0": [0.5, -1.0, 0.8, 0.3], "w0": [1.5, -0.4], "cases": cases}


# ---- schedulers ---------------------------------------------------------------------------------

S = torch.optim.lr_scheduler


def make_opt(lrs=(0.1, 0.05), initial=None, momentum=0.9):
    ps = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)], momentum=momentum)
    if initial is not None:
        for g, lr0 in zip(opt.param_groups, initial):
            g["initial_lr"] = lr0
    return opt


def record(sched, steps, metrics=None):
    out = [list(sched.get_last_lr())]
    for i in range(steps):
        if metrics is not None:
            sched.step(metrics[i])
        else:
            sched.step()
        out.append([g["lr"] for g in sched.optimizer.param_groups])
    return out


def scheduler_fixtures():
    cases = []

    def add(title, js, build, steps, lrs=(0.1, 0.05), initial=None, metrics=None):
        opt = make_opt(lrs, initial)
        sched = build(opt)
        cases.append({"title": title, "js": js, "lrs": list(lrs), "initialLr": list(initial) if initial else None,
                      "metrics": metrics, "lr": record(sched, steps, metrics)})

    add("MultiStepLR", {"kind": "MultiStepLR", "args": [[2, 5, 5, 7]], "options": {"gamma": 0.5}},
        lambda o: S.MultiStepLR(o, [2, 5, 5, 7], gamma=0.5), 10)
    add("MultiStepLR resumed at epoch 3", {"kind": "MultiStepLR", "args": [[2, 5]], "options": {"gamma": 0.5, "lastEpoch": 3}},
        lambda o: S.MultiStepLR(o, [2, 5], gamma=0.5, last_epoch=3), 6, lrs=(0.05, 0.025), initial=(0.1, 0.05))
    add("ConstantLR", {"kind": "ConstantLR", "args": [], "options": {"factor": 0.25, "totalIters": 3}},
        lambda o: S.ConstantLR(o, factor=0.25, total_iters=3), 6)
    add("ConstantLR defaults", {"kind": "ConstantLR", "args": [], "options": {}},
        lambda o: S.ConstantLR(o), 7)
    add("PolynomialLR", {"kind": "PolynomialLR", "args": [], "options": {"totalIters": 6, "power": 2}},
        lambda o: S.PolynomialLR(o, total_iters=6, power=2), 9)
    add("PolynomialLR defaults", {"kind": "PolynomialLR", "args": [], "options": {}},
        lambda o: S.PolynomialLR(o), 7)
    add("CosineAnnealingWarmRestarts", {"kind": "CosineAnnealingWarmRestarts", "args": [3], "options": {"etaMin": 0.001}},
        lambda o: S.CosineAnnealingWarmRestarts(o, 3, eta_min=0.001), 10)
    add("CosineAnnealingWarmRestarts tMult 2", {"kind": "CosineAnnealingWarmRestarts", "args": [2], "options": {"tMult": 2}},
        lambda o: S.CosineAnnealingWarmRestarts(o, 2, T_mult=2), 16)
    add("CosineAnnealingWarmRestarts resumed", {"kind": "CosineAnnealingWarmRestarts", "args": [2], "options": {"tMult": 2, "lastEpoch": 4}},
        lambda o: S.CosineAnnealingWarmRestarts(o, 2, T_mult=2, last_epoch=4), 8, initial=(0.1, 0.05))
    add("StepLR resumed at epoch 4", {"kind": "StepLR", "args": [3, 0.5], "options": {"lastEpoch": 4}},
        lambda o: S.StepLR(o, 3, 0.5, last_epoch=4), 6, lrs=(0.05, 0.025), initial=(0.1, 0.05))
    add("ExponentialLR resumed", {"kind": "ExponentialLR", "args": [0.9], "options": {"lastEpoch": 2}},
        lambda o: S.ExponentialLR(o, 0.9, last_epoch=2), 4, lrs=(0.081, 0.0405), initial=(0.1, 0.05))
    add("CosineAnnealingLR resumed", {"kind": "CosineAnnealingLR", "args": [5, 0.01], "options": {"lastEpoch": 2}},
        lambda o: S.CosineAnnealingLR(o, 5, 0.01, last_epoch=2), 6, lrs=(0.07, 0.035), initial=(0.1, 0.05))
    add("LinearLR resumed", {"kind": "LinearLR", "args": [], "options": {"startFactor": 0.2, "totalIters": 5, "lastEpoch": 2}},
        lambda o: S.LinearLR(o, start_factor=0.2, total_iters=5, last_epoch=2), 5, lrs=(0.052, 0.026), initial=(0.1, 0.05))
    add("PolynomialLR resumed", {"kind": "PolynomialLR", "args": [], "options": {"totalIters": 6, "power": 2, "lastEpoch": 1}},
        lambda o: S.PolynomialLR(o, total_iters=6, power=2, last_epoch=1), 7, lrs=(0.069, 0.0345), initial=(0.1, 0.05))
    add("ConstantLR resumed", {"kind": "ConstantLR", "args": [], "options": {"factor": 0.5, "totalIters": 3, "lastEpoch": 1}},
        lambda o: S.ConstantLR(o, factor=0.5, total_iters=3, last_epoch=1), 4, lrs=(0.05, 0.025), initial=(0.1, 0.05))
    add("SequentialLR resumed", {"kind": "SequentialLR", "children": [
            {"kind": "ConstantLR", "args": [], "options": {"factor": 0.5, "totalIters": 2}},
            {"kind": "ExponentialLR", "args": [0.8], "options": {}}], "milestones": [2], "options": {"lastEpoch": 3}},
        lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, 0.8)], milestones=[2], last_epoch=3),
        5, initial=(0.1, 0.05))
    add("SequentialLR (LinearLR warm-up, then ExponentialLR)",
        {"kind": "SequentialLR", "children": [
            {"kind": "LinearLR", "args": [], "options": {"startFactor": 0.1, "totalIters": 3}},
            {"kind": "ExponentialLR", "args": [0.8], "options": {}}], "milestones": [3]},
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3), S.ExponentialLR(o, 0.8)], milestones=[3]), 8)
    add("SequentialLR (ConstantLR, StepLR, CosineAnnealingLR)",
        {"kind": "SequentialLR", "children": [
            {"kind": "ConstantLR", "args": [], "options": {"factor": 0.5, "totalIters": 2}},
            {"kind": "StepLR", "args": [2, 0.5], "options": {}},
            {"kind": "CosineAnnealingLR", "args": [4], "options": {}}], "milestones": [2, 5]},
        lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2), S.StepLR(o, 2, 0.5), S.CosineAnnealingLR(o, 4)], milestones=[2, 5]), 12)
    add("ChainedScheduler (ConstantLR and ExponentialLR)",
        {"kind": "ChainedScheduler", "children": [
            {"kind": "ConstantLR", "args": [], "options": {"factor": 0.1, "totalIters": 2}},
            {"kind": "ExponentialLR", "args": [0.9], "options": {}}]},
        lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1, total_iters=2), S.ExponentialLR(o, 0.9)]), 6)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    add("ReduceLROnPlateau min/rel", {"kind": "ReduceLROnPlateau", "args": [], "options": {"patience": 2, "factor": 0.5}},
        lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.5), len(metrics), metrics=metrics)
    add("ReduceLROnPlateau cooldown, minLr per group, abs threshold",
        {"kind": "ReduceLROnPlateau", "args": [], "options": {"patience": 1, "factor": 0.3, "cooldown": 2, "minLr": [0.01, 0.004], "threshold": 0.02, "thresholdMode": "abs"}},
        lambda o: S.ReduceLROnPlateau(o, patience=1, factor=0.3, cooldown=2, min_lr=[0.01, 0.004], threshold=0.02, threshold_mode="abs"), len(metrics), metrics=metrics)
    up = [0.1, 0.2, 0.2, 0.21, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    add("ReduceLROnPlateau max mode", {"kind": "ReduceLROnPlateau", "args": [], "options": {"mode": "max", "patience": 1}},
        lambda o: S.ReduceLROnPlateau(o, mode="max", patience=1), len(up), metrics=up)
    return {"cases": cases}


def compact(data):
    """JSON with floats at 15 significant digits: float32 parameters round-trip, rates stay exact to 1e-14."""
    def fix(v):
        if isinstance(v, float):
            return float(f"{v:.15g}")
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v
    return json.dumps(fix(data), separators=(",", ":"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in [("optimizers.json", optimizer_fixtures()), ("schedulers.json", scheduler_fixtures()),
                       ("lbfgs.json", lbfgs_fixtures())]:
        with open(os.path.join(OUT, name), "w") as f:
            f.write(compact(data))
        print("wrote", name)
