"""W3 in NumPy: the ceiling row of `pnpm bench`. The same 784-100-100-100-10 sigmoid net, batch
norm, SGD at lr 0.5, initial weights and batch order as the other rows (the bench writes them to
the folder given as argv[1]), in float32 on one thread. Prints `RESULT <json>` lines like the
JavaScript rows, with the epoch as contiguous segments (the bench computes the headline, whole
epoch with warm-up included, and the steady-state median from them, as for every other row).
There is no untimed warm-up: the clock starts before the first step, as in the JavaScript rows.
Usage: python3 w3_numpy.py DIR BUDGET_MS [CASE]   (CASE: bn60, bn256, nobn60 or nobn256; all if empty)"""
import json
import sys
import time

import numpy as np

LAYERS = [784, 100, 100, 100, 10]
EPS, LR, MOMENTUM = np.float32(1e-5), np.float32(0.5), np.float32(0.1)
CASES = [("bn60", True, 60), ("bn256", True, 256), ("nobn60", False, 60), ("nobn256", False, 256)]


def idx(path):
    raw = open(path, "rb").read()
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(dims)


class Net:
    def __init__(self, bn, folder):
        self.bn = bn
        self.W = [np.fromfile(f"{folder}/W{l}.bin", np.float32).reshape(LAYERS[l], LAYERS[l + 1]) for l in range(4)]
        self.b = [np.zeros(LAYERS[l + 1], np.float32) for l in range(4)]
        c = LAYERS[1:4]
        self.gamma = [np.ones(n, np.float32) for n in c]
        self.beta = [np.zeros(n, np.float32) for n in c]
        self.rm = [np.zeros(n, np.float32) for n in c]
        self.rv = [np.ones(n, np.float32) for n in c]

    def step(self, x, y):
        n = x.shape[0]
        hs, xhats, invs = [x], [], []
        h = x
        for l in range(4):
            z = h @ self.W[l]
            if self.bn and l < 3:
                mu = z.mean(0)
                var = ((z - mu) ** 2).mean(0)
                inv = 1 / np.sqrt(var + EPS)
                xhat = (z - mu) * inv
                self.rm[l] = self.rm[l] * (1 - MOMENTUM) + mu * MOMENTUM
                self.rv[l] = self.rv[l] * (1 - MOMENTUM) + var * np.float32(n / (n - 1)) * MOMENTUM
                xhats.append(xhat)
                invs.append(inv)
                z = xhat * self.gamma[l] + self.beta[l]
            else:
                z = z + self.b[l]
            if l < 3:
                h = 1 / (1 + np.exp(-z))
                hs.append(h)
            else:
                h = z
        # softmax cross-entropy, mean over the batch
        p = np.exp(h - h.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(n), y] -= 1
        d = p / np.float32(n)
        for l in range(3, -1, -1):
            if l < 3:
                s = hs[l + 1]
                d = d * s * (1 - s)
                if self.bn:
                    dgamma = (d * xhats[l]).sum(0)
                    dbeta = d.sum(0)
                    d = self.gamma[l] * invs[l] / np.float32(n) * (np.float32(n) * d - dbeta - xhats[l] * dgamma)
                    self.gamma[l] -= LR * dgamma
                    self.beta[l] -= LR * dbeta
                else:
                    self.b[l] -= LR * d.sum(0)
            else:
                self.b[3] -= LR * d.sum(0)
            dW = hs[l].T @ d
            if l > 0:
                d = d @ self.W[l].T
            self.W[l] -= LR * dW

    def accuracy(self, x, y):
        h = x
        for l in range(4):
            z = h @ self.W[l]
            if self.bn and l < 3:
                z = (z - self.rm[l]) * (self.gamma[l] / np.sqrt(self.rv[l] + EPS)) + self.beta[l]
            else:
                z = z + self.b[l]
            h = 1 / (1 + np.exp(-z)) if l < 3 else z
        return float((h.argmax(1) == y).mean() * 100)


def main():
    folder, budget = sys.argv[1], float(sys.argv[2]) / 1000
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    mnist = open(f"{folder}/mnist-dir").read().strip()
    train_x = idx(f"{mnist}/train-images-idx3-ubyte").reshape(60000, 784)
    train_y = idx(f"{mnist}/train-labels-idx1-ubyte").astype(np.int64)
    test_x = (idx(f"{mnist}/t10k-images-idx3-ubyte").reshape(10000, 784) / np.float32(255)).astype(np.float32)
    test_y = idx(f"{mnist}/t10k-labels-idx1-ubyte")
    order = np.fromfile(f"{folder}/order.bin", np.int32)
    scale = np.float32(1 / 255)
    for key, bn, batch in CASES:
        if only and key != only:
            continue
        steps = 60000 // batch

        def batch_at(s):
            ids = order[s * batch:(s + 1) * batch]
            return train_x[ids].astype(np.float32) * scale, train_y[ids]

        net = Net(bn, folder)
        per_seg = -(-steps // 10)
        segments, done = [], 0
        start = last = time.perf_counter()
        while done < steps and time.perf_counter() - start < budget:
            first = done
            end = min(steps, done + per_seg)
            while done < end:
                net.step(*batch_at(done))
                done += 1
            now = time.perf_counter()
            segments.append({"samples": (done - first) * batch, "ms": (now - last) * 1000})
            last = now
        rates = [s["samples"] / (s["ms"] / 1000) for s in segments if s["ms"] > 0]
        extra = {"steps": done, "of": steps}
        if done == steps:
            extra["accuracy"] = net.accuracy(test_x, test_y)
        else:
            extra["note"] = f"partial: {done}/{steps} steps in the {budget:.0f} s budget"
        print("RESULT " + json.dumps({"workload": "W3", "case": f"MNIST {'BN' if bn else 'no BN'} batch {batch}",
                                     "impl": "numpy", "metric": "samples/s", "values": rates,
                                     "segments": segments, "extra": extra}),
              flush=True)


if __name__ == "__main__":
    main()
