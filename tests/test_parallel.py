"""gradcore.distributed's single-process fallback, DistributedDataParallel and SyncBatchNorm
in one process (the multi-rank behaviour is in tests/test_distributed.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcore
from gradcore import distributed as dist
from gradcore import nn
from gradcore.nn.parallel import DistributedDataParallel
from gradcore.nn.sync_batchnorm import _SyncBatchNormTrain


@pytest.fixture(autouse=True)
def single_process_group():
    dist.destroy_process_group()
    dist.init(use_mpi=False)
    yield
    dist.destroy_process_group()


def test_fallback_group_is_one_process_and_collectives_are_identities():
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    t = gradcore.tensor(np.array([1.0, -2.0], dtype=np.float32))
    for op in ("sum", "avg", "max"):
        assert dist.all_reduce(t, op) is t
    np.testing.assert_array_equal(t.numpy(), [1.0, -2.0])
    assert dist.broadcast(t, 0) is t
    (g,) = dist.all_gather(t)
    np.testing.assert_array_equal(g.numpy(), t.numpy())
    dist.barrier()


def test_collective_arguments_are_checked():
    t = gradcore.tensor(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(t, "mean")
    with pytest.raises(ValueError, match="src must be in"):
        dist.broadcast(t, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        dist.all_reduce(gradcore.tensor(np.ones((3, 2), dtype=np.float32)[:, 0]))
    with pytest.raises(TypeError, match="Tensor or numpy array"):
        dist.all_reduce([1.0])


def test_uninitialised_group_says_so():
    dist.destroy_process_group()
    assert not dist.is_initialized() and dist.get_world_size() == 1
    with pytest.raises(RuntimeError, match="init"):
        dist.barrier()


def _mlp():
    gradcore.manual_seed(3)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def _train(model, steps=5):
    opt = gradcore.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = gradcore.tensor(rng.standard_normal((4, 5)).astype(np.float32))
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_ddp_on_one_process_is_bitwise_the_bare_model():
    bare = _train(_mlp())
    wrapped = _train(DistributedDataParallel(_mlp(), bucket_cap_mb=0.0001))
    for a, b in zip(bare, wrapped):
        np.testing.assert_array_equal(a, b)


def test_ddp_buckets_in_reverse_registration_order_by_size():
    ddp = DistributedDataParallel(_mlp(), bucket_cap_mb=1e-9)  # one parameter per bucket
    assert ddp.bucket_sizes == [1, 1, 1, 1]
    assert [b.indices for b in ddp._buckets] == [[3], [2], [1], [0]]
    assert DistributedDataParallel(_mlp()).bucket_sizes == [4]


def test_ddp_state_dict_is_the_modules():
    m = _mlp()
    ddp = DistributedDataParallel(m)
    assert list(ddp.state_dict()) == list(m.state_dict())
    ddp.load_state_dict(m.state_dict())


def test_ddp_rejects_unused_parameters_naming_them():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = nn.Linear(2, 2)

        def forward(self, x):
            return self.a(x)

    x = gradcore.tensor(np.ones((1, 2), dtype=np.float32))
    with pytest.raises(RuntimeError, match=r"b\.weight, b\.bias get no gradient"):
        DistributedDataParallel(Unused())(x)
    ddp = DistributedDataParallel(Unused(), find_unused_parameters=True)
    ddp(x).sum().backward()
    np.testing.assert_array_equal(ddp.module.b.weight.grad.numpy(), np.zeros((2, 2)))


def test_ddp_rejects_a_parameter_used_twice():
    lin = nn.Linear(3, 3)
    ddp = DistributedDataParallel(nn.Sequential(lin, nn.ReLU(), lin))
    x = gradcore.tensor(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(RuntimeError, match="received a second gradient after one forward"):
        ddp(x).sum().backward()


def test_ddp_arguments_are_checked():
    with pytest.raises(TypeError, match="expected a Module"):
        DistributedDataParallel(3)
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DistributedDataParallel(_mlp(), bucket_cap_mb=0)


def _bn_model():
    gradcore.manual_seed(4)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())


def test_convert_sync_batchnorm_keeps_order_parameters_and_one_process_results():
    x = gradcore.tensor(np.random.default_rng(1).standard_normal((4, 2, 5, 5)).astype(np.float32))
    ref = _bn_model()
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(_bn_model())
    assert [type(m).__name__ for m in conv] == ["Conv2d", "SyncBatchNorm", "ReLU"]
    y_ref, y = ref(x), conv(x)
    np.testing.assert_array_equal(y.numpy(), y_ref.numpy())
    np.testing.assert_array_equal(conv[1].running_var.numpy(), ref[1].running_var.numpy())
    bn = _bn_model()[1]
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert isinstance(sync, nn.SyncBatchNorm) and sync.weight is bn.weight


def test_sync_batchnorm_math_matches_torch():
    """The multi-rank function, run on one rank (its all-reduces are identities): forward,
    running stats and gradients equal to torch's batch norm."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 2, 5)).astype(np.float64)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    g = rng.standard_normal(x.shape)
    rm, rv = np.zeros(4), np.ones(4)
    xt = gradcore.tensor(x, requires_grad=True)
    wt = gradcore.tensor(w, requires_grad=True)
    bt = gradcore.tensor(b, requires_grad=True)
    y = _SyncBatchNormTrain.apply(xt, wt, bt, rm, rv, 0.1, 1e-5)
    y.backward(gradcore.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    trm, trv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, True, 0.1, 1e-5)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-12)
    for ours, theirs in ((xt, tx), (wt, tw), (bt, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
