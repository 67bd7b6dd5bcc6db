"""Trains a minibatch model exported as PyTorch-compatible safetensors with PyTorch
DistributedDataParallel and synchronized batch norm, then writes the trained weights back as
safetensors. (PyTorch's nn.SyncBatchNorm runs on GPUs only; on CPU with gloo the script uses
CpuSyncBatchNorm below, the same computation.)

  # 2 processes on this machine (gloo, CPU); torchrun sets RANK / WORLD_SIZE / MASTER_ADDR:
  torchrun --standalone --nproc_per_node 2 ddp_train.py --model model.safetensors \
      --data data.safetensors --out trained.safetensors --steps 5 --lr 0.1
  # without torchrun the script spawns --nproc processes itself (gloo on 127.0.0.1).

The model is the MLP of minibatch's round-trip test (Linear 12-16, BatchNorm1d, Sigmoid, Linear
16-16, BatchNorm1d, Sigmoid, Linear 16-4), named as minibatch's Sequential names it ("0.weight",
"1.running_mean", ...). data.safetensors holds x (steps * batch, 12) float32, y int32 and
eval_x; the global batch of step s is rows [s * batch, (s + 1) * batch), split evenly over ranks.
The output holds the trained state dict and eval_out, the model's eval-mode output on eval_x.
"""
import argparse
import os

import torch
import torch.distributed as dist
import torch.distributed.nn as dist_nn
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from torch import nn


class CpuSyncBatchNorm(nn.BatchNorm1d):
    """Synchronized batch norm for CPU process groups (gloo). PyTorch's nn.SyncBatchNorm runs
    only on GPU devices, so on CPU the global statistics come from a differentiable all-reduce
    of per-channel sum, sum of squares and count: its backward all-reduces the gradient sums,
    which is SyncBatchNorm's backward. Running statistics follow BatchNorm: global mean and
    unbiased global variance. Same parameters and buffers, so state dicts are unchanged."""

    def forward(self, x):
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        xd = x.double()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float64)
        stats = torch.cat([xd.sum(dims), (xd * xd).sum(dims), count])
        stats = dist_nn.all_reduce(stats)
        c = x.shape[1]
        n = stats[2 * c]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean
        shape = [1, c] + [1] * (x.dim() - 2)
        y = ((xd - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)).float()
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                unbiased = var * n / (n - 1)
                self.running_mean.mul_(1 - f).add_(f * mean.float())
                self.running_var.mul_(1 - f).add_(f * unbiased.float())
        return y


def convert_cpu_sync_batchnorm(module):
    """Swaps every BatchNorm1d/2d/3d for CpuSyncBatchNorm, keeping its parameters and buffers."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            sync = CpuSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            sync.load_state_dict(child.state_dict())
            setattr(module, name, sync)
        else:
            convert_cpu_sync_batchnorm(child)
    return module


def build_model():
    return nn.Sequential(
        nn.Linear(12, 16), nn.BatchNorm1d(16), nn.Sigmoid(),
        nn.Linear(16, 16), nn.BatchNorm1d(16, momentum=None), nn.Sigmoid(),
        nn.Linear(16, 4),
    )


def train(rank, world, args):
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = build_model()
    state = load_file(args.model)
    # minibatch stores num_batches_tracked as int32; PyTorch's buffer is int64.
    state = {k: (v.long() if k.endswith("num_batches_tracked") else v) for k, v in state.items()}
    model.load_state_dict(state)
    if torch.cuda.is_available() and args.device == "cuda":
        # On GPUs, PyTorch's own SyncBatchNorm (use the nccl backend there).
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        model = convert_cpu_sync_batchnorm(model)
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)
    data = load_file(args.data)
    x, y = data["x"], data["y"].long()
    batch = args.batch
    share = batch // world
    ddp.train()
    for s in range(args.steps):
        lo = s * batch + rank * share
        out = ddp(x[lo:lo + share])
        loss = nn.functional.cross_entropy(out, y[lo:lo + share])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if rank == 0:
        model.eval()
        with torch.no_grad():
            eval_out = model(data["eval_x"])
        trained = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        trained = {k: (v.int() if k.endswith("num_batches_tracked") else v) for k, v in trained.items()}
        trained["eval_out"] = eval_out.contiguous()
        save_file(trained, args.out)
    dist.barrier()
    dist.destroy_process_group()


def spawned(rank, world, args, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    train(rank, world, args)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--port", type=int, default=29517)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = p.parse_args()
    torch.set_num_threads(1)
    if "RANK" in os.environ:
        train(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args)
    else:
        mp.spawn(spawned, args=(args.nproc, args, args.port), nprocs=args.nproc, join=True)
