"""Per-rank programs for tests/test_distributed.py, run as `mpiexec -n 2 python mpi_worker.py
CASE OUTDIR`. Each case writes what the test checks into OUTDIR (rank-suffixed files)."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import gradcore
from gradcore import distributed as dist
from gradcore import nn
from gradcore.nn.parallel import DistributedDataParallel

GLOBAL_BATCH = 8
STEPS = 20


def tiny_model(bn: bool = False) -> nn.Module:
    """conv -> (BN) -> relu -> pool -> linear: 10-class logits from (N, 1, 6, 6)."""
    gradcore.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4) if bn else nn.Identity(),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(36, 10),
    )


def data(step: int):
    """The global batch of `step`: (8, 1, 6, 6) inputs and labels, the same on every rank."""
    rng = np.random.default_rng([7, step])
    x = rng.standard_normal((GLOBAL_BATCH, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 10, GLOBAL_BATCH)
    return x, y


def train(world: int, rank: int, sync_bn: bool = False, accumulate: bool = False) -> np.ndarray:
    """STEPS of SGD on this rank's slice of each global batch; the flat final weights.
    `accumulate`: each slice in two halves, the first backward under no_sync()."""
    model = tiny_model(bn=sync_bn)
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.0005)  # several buckets
    init = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    np.save(os.path.join(sys.argv[2], "init.npy"), init)
    opt = gradcore.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    per = GLOBAL_BATCH // world
    for step in range(STEPS):
        x, y = data(step)
        xs, ys = x[rank * per : (rank + 1) * per], y[rank * per : (rank + 1) * per]
        opt.zero_grad()
        if accumulate:
            h = per // 2
            with ddp.no_sync():
                (loss_fn(ddp(gradcore.tensor(xs[:h])), gradcore.tensor(ys[:h])) * 0.5).backward()
            (loss_fn(ddp(gradcore.tensor(xs[h:])), gradcore.tensor(ys[h:])) * 0.5).backward()
        else:
            loss_fn(ddp(gradcore.tensor(xs)), gradcore.tensor(ys)).backward()
        opt.step()
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


def case_collectives(out: str) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    every = [np.arange(6, dtype=np.float32).reshape(2, 3) * (r + 1) - r for r in range(world)]
    for op, want in (
        ("sum", np.sum(every, axis=0)),
        ("avg", np.sum(every, axis=0) / world),
        ("max", np.max(every, axis=0)),
    ):
        t = gradcore.tensor(every[rank].copy())
        assert dist.all_reduce(t, op=op) is t
        np.testing.assert_array_equal(t.numpy(), want.astype(np.float32), err_msg=op)
    b = gradcore.tensor(np.full((4,), rank, dtype=np.float64))
    dist.broadcast(b, src=1)
    np.testing.assert_array_equal(b.numpy(), np.ones(4))
    g = dist.all_gather(gradcore.tensor(np.array([rank, 10 * rank], dtype=np.int64)))
    np.testing.assert_array_equal(
        np.stack([t.numpy() for t in g]), [[r, 10 * r] for r in range(world)]
    )
    dist.barrier()
    open(os.path.join(out, f"ok.{rank}"), "w").close()


def case_single_copy(out: str) -> None:
    """all_reduce on the single-copy path (threshold lowered to 0) against numpy, on odd
    sizes and several dtypes; writes whether the path was on (GRADCORE_DIST_SINGLE_COPY)."""
    from gradcore import _single_copy

    rank, world = dist.get_rank(), dist.get_world_size()
    with open(os.path.join(out, f"path.{rank}"), "w") as f:
        f.write("single-copy" if dist._g().single_copy else "mpi")
    _single_copy.MIN_BYTES = 0
    _single_copy.PIECE_BYTES = 4096  # several pieces per part even for small buffers
    for n in (1, 2, 3, 1025, 100003):
        for dtype in (np.float32, np.float64, np.int32):
            every = [
                np.random.default_rng([n, r]).standard_normal(n).astype(dtype) * 100
                for r in range(world)
            ]
            for op, want in (
                ("sum", sum(every[1:], every[0].copy())),
                ("avg", sum(every[1:], every[0].copy()) / world),
                ("max", np.max(every, axis=0)),
            ):
                if op == "avg" and dtype is np.int32:
                    continue
                t = gradcore.tensor(every[rank].copy().reshape(n, 1))
                assert dist.all_reduce(t, op=op) is t
                np.testing.assert_array_equal(
                    t.numpy().reshape(-1), want.astype(dtype), err_msg=f"{op} {n} {dtype}"
                )
    dist.barrier()
    open(os.path.join(out, f"ok.{rank}"), "w").close()


def case_ddp(out: str) -> None:
    w = train(dist.get_world_size(), dist.get_rank())
    np.save(os.path.join(out, f"weights.{dist.get_rank()}.npy"), w)


def case_syncbn(out: str) -> None:
    w = train(dist.get_world_size(), dist.get_rank(), sync_bn=True)
    np.save(os.path.join(out, f"weights.{dist.get_rank()}.npy"), w)


def case_no_sync(out: str) -> None:
    w = train(dist.get_world_size(), dist.get_rank(), accumulate=True)
    np.save(os.path.join(out, f"weights.{dist.get_rank()}.npy"), w)


class TwoHeads(nn.Module):
    """A model whose second head is used only on rank 1."""

    def __init__(self):
        super().__init__()
        gradcore.manual_seed(2)
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)

    def forward(self, x):
        y = self.a(x)
        return y + self.b(x) if dist.get_rank() == 1 else y


def case_unused(out: str) -> None:
    """find_unused_parameters=True: head b (unused on rank 0) gets the average of rank 1's
    gradient and zero; without it, the first forward raises naming b's parameters."""
    model = TwoHeads()
    ddp = DistributedDataParallel(model, find_unused_parameters=True)
    x = gradcore.tensor(np.ones((2, 4), dtype=np.float32))
    ddp(x).sum().backward()
    np.save(os.path.join(out, f"grad_b.{dist.get_rank()}.npy"), model.b.weight.grad.numpy())
    np.save(os.path.join(out, f"grad_a.{dist.get_rank()}.npy"), model.a.weight.grad.numpy())
    strict = DistributedDataParallel(TwoHeads())
    try:
        strict(x)
        msg = "no error"
    except RuntimeError as e:
        msg = str(e)
    with open(os.path.join(out, f"strict.{dist.get_rank()}"), "w") as f:
        f.write(msg)


def case_mismatch(out: str) -> None:
    model = tiny_model() if dist.get_rank() == 0 else nn.Linear(3, 2)
    try:
        DistributedDataParallel(model)
    except dist.DistributedError as e:
        with open(os.path.join(out, f"error.{dist.get_rank()}"), "w") as f:
            f.write(str(e))
        return
    raise AssertionError("mismatched models were not detected")


def case_config_mismatch(out: str) -> None:
    try:
        DistributedDataParallel(tiny_model(), config={"lr": 0.1 * (1 + dist.get_rank())})
    except dist.DistributedError as e:
        with open(os.path.join(out, f"error.{dist.get_rank()}"), "w") as f:
            f.write(str(e))


def case_rank_raises(out: str) -> None:
    """Rank 1 raises before its first backward; rank 0 would wait in the gradient
    all-reduce: the excepthook aborts the job."""
    model = DistributedDataParallel(tiny_model())
    x, y = data(0)
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails on purpose")
    nn.CrossEntropyLoss()(model(gradcore.tensor(x)), gradcore.tensor(y)).backward()
    open(os.path.join(out, "rank0-finished"), "w").close()


def case_rank_hangs(out: str) -> None:
    """Rank 1 stops calling collectives (sleeps) without dying: rank 0's all-reduce times
    out (GRADCORE_DIST_TIMEOUT) and aborts the job."""
    model = DistributedDataParallel(tiny_model())
    x, y = data(0)
    if dist.get_rank() == 1:
        time.sleep(600)
    nn.CrossEntropyLoss()(model(gradcore.tensor(x)), gradcore.tensor(y)).backward()
    open(os.path.join(out, "rank0-finished"), "w").close()


if __name__ == "__main__":
    gradcore.set_num_threads(1)
    dist.init()
    case, outdir = sys.argv[1], sys.argv[2]
    globals()[f"case_{case}"](outdir)
