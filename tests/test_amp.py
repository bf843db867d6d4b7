"""gradcore.amp.autocast (bfloat16 on the CPU): conv2d, conv_transpose2d, linear and matmul
compute from bfloat16-rounded inputs with float32 accumulation and give bfloat16 values
(checked against a float64 reference on the rounded inputs, and against PyTorch's CPU
autocast); their gradients are bfloat16 values; every other op and everything outside the
block is unchanged; the state is per thread; bad arguments raise; `fit` and `gradcore train
--amp bf16` train under it."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
from test_convert import reference_bits

import gradcore as gc
import gradcore.nn.functional as F
from gradcore import amp

pytest.importorskip("ml_dtypes", reason="needs the bf16 extra (ml_dtypes)")
torch = pytest.importorskip("torch", reason="PyTorch is the reference for autocast")


def bf16(a: np.ndarray) -> np.ndarray:
    """a rounded to bfloat16 (RNE), as float32 (test_convert's integer reference)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    return (reference_bits(a).astype(np.uint32) << 16).view(np.float32).reshape(a.shape)


def is_bf16(a: np.ndarray) -> bool:
    return bool(np.all(np.ascontiguousarray(a, np.float32).view(np.uint32) & 0xFFFF == 0))


def torch_reference(op: str, arrays: list) -> np.ndarray:
    ts = [torch.from_numpy(a) for a in arrays]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        if op.startswith("conv2d"):
            y = torch.nn.functional.conv2d(*ts, stride=1, padding=1)
        elif op == "conv_transpose2d":
            y = torch.nn.functional.conv_transpose2d(*ts, stride=2, padding=1)
        elif op == "linear":
            y = torch.nn.functional.linear(*ts)
        else:
            y = torch.matmul(*ts)
    assert y.dtype == torch.bfloat16
    return y.float().numpy()


CASES = {
    "conv2d": ([(2, 3, 7, 9), (5, 3, 3, 3), (5,)], lambda x, w, b: F.conv2d(x, w, b, 1, 1)),
    # 32 x 3 x 3 rows of columns: the bfloat16 GEMM route where the CPU has AVX512_BF16
    "conv2d_wide": ([(2, 32, 6, 7), (5, 32, 3, 3), (5,)], lambda x, w, b: F.conv2d(x, w, b, 1, 1)),
    "conv_transpose2d": (
        [(2, 4, 5, 6), (4, 3, 3, 3), (3,)],
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
    ),
    "linear": ([(7, 33), (5, 33), (5,)], lambda x, w, b: F.linear(x, w, b)),
    "matmul": ([(7, 65), (65, 9)], lambda a, b: a @ b),
}


@pytest.mark.parametrize("op", list(CASES))
def test_lower_precision_ops_match_a_rounded_float64_reference_and_torch(rng, op):
    shapes, fn = CASES[op]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ts = [gc.tensor(a, requires_grad=True) for a in arrays]
    with gc.autocast("cpu", dtype=gc.bfloat16):
        y = fn(*ts)
    assert y.dtype == np.float32 and is_bf16(y.numpy())
    # float64 on the rounded inputs, then rounded: float32 accumulation may move a value
    # across one bfloat16 rounding boundary, so within one bfloat16 ulp (2^-7 relative)
    rounded = [gc.tensor(bf16(a).astype(np.float64)) for a in arrays]
    want = bf16(fn(*rounded).numpy().astype(np.float32))
    np.testing.assert_allclose(y.numpy(), want, rtol=2.0**-7, atol=1e-6)
    np.testing.assert_allclose(y.numpy(), torch_reference(op, arrays), rtol=2.0**-7, atol=1e-2)
    # gradients: bfloat16 values, close to float32 autograd on the rounded inputs
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(gc.tensor(g))
    plain = [gc.tensor(bf16(a), requires_grad=True) for a in arrays]
    fn(*plain).backward(gc.tensor(bf16(g)))
    for t, p in zip(ts, plain):
        assert t.grad.dtype == np.float32 and is_bf16(t.grad.numpy())
        np.testing.assert_allclose(t.grad.numpy(), bf16(p.grad.numpy()), rtol=2.0**-6, atol=1e-2)


def test_linear_and_matmul_run_on_the_bfloat16_gemm(rng):
    """Under autocast the 2-d float32 products run on gemm_bf16: linear as one LinearBf16 node
    (it rounds its own inputs and output), matmul as a MatMul2dBf16 node between amp's
    rounding of its inputs and of its output."""
    x = gc.tensor(rng.standard_normal((5, 7)).astype(np.float32), requires_grad=True)
    w = gc.tensor(rng.standard_normal((3, 7)).astype(np.float32), requires_grad=True)
    with gc.autocast():
        lin, mm = F.linear(x, w), x @ w.T
    assert type(lin.grad_fn).__name__ == "LinearBf16"
    assert type(mm.grad_fn.next_functions[0]).__name__ == "MatMul2dBf16"


def test_conv2d_runs_on_the_bfloat16_kernels(rng):
    """Under autocast a float32 conv2d is one Conv2dBf16 node (it rounds its own inputs and
    output); a float64 one runs as outside the block."""
    x = gc.tensor(rng.standard_normal((2, 32, 5, 5)).astype(np.float32), requires_grad=True)
    w = gc.tensor(rng.standard_normal((4, 32, 3, 3)).astype(np.float32), requires_grad=True)
    with gc.autocast():
        y = F.conv2d(x, w, padding=1)
        y64 = F.conv2d(
            gc.tensor(x.numpy().astype(np.float64)), gc.tensor(w.numpy().astype(np.float64))
        )
    assert type(y.grad_fn).__name__ == "Conv2dBf16" and is_bf16(y.numpy())
    assert y64.dtype == np.float64 and not is_bf16(y64.numpy())


def test_other_ops_and_code_outside_the_block_are_unchanged(rng):
    a = rng.standard_normal((6, 10)).astype(np.float32)
    w = rng.standard_normal((4, 10)).astype(np.float32)
    x, wt = gc.tensor(a), gc.tensor(w)
    outside = F.linear(x, wt).numpy()
    with gc.autocast():
        relu = F.relu(x).numpy()
        loss = F.cross_entropy(x, gc.tensor(np.arange(6) % 10)).item()
        inside = F.linear(x, wt).numpy()
        with gc.autocast(enabled=False):
            off = F.linear(x, wt).numpy()
        assert amp.is_autocast_enabled() and amp.get_autocast_dtype() == gc.bfloat16
    assert not amp.is_autocast_enabled() and amp.get_autocast_dtype() is None
    np.testing.assert_array_equal(relu, np.maximum(a, 0))
    assert loss == F.cross_entropy(x, gc.tensor(np.arange(6) % 10)).item()
    np.testing.assert_array_equal(off, outside)
    np.testing.assert_array_equal(F.linear(x, wt).numpy(), outside)
    assert not np.array_equal(inside, outside) and is_bf16(inside)
    d = gc.tensor(a.astype(np.float64))
    with gc.autocast():  # float64 is left alone, as in PyTorch
        np.testing.assert_array_equal((d @ d.T).numpy(), a.astype(np.float64) @ a.T)


def test_decorator_and_per_thread_state(rng):
    a = gc.tensor(rng.standard_normal((3, 3)).astype(np.float32))

    @gc.autocast()
    def product():
        return a @ a

    assert is_bf16(product().numpy()) and not amp.is_autocast_enabled()
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other():
        inside.wait(5)
        seen["other"] = amp.is_autocast_enabled()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with gc.autocast():
        inside.set()
        done.wait(5)
        seen["self"] = amp.is_autocast_enabled()
    t.join(5)
    assert seen == {"other": False, "self": True}


def test_bad_arguments_raise():
    with pytest.raises(RuntimeError, match="device_type 'cuda' is not available"):
        gc.autocast("cuda")
    with pytest.raises(ValueError, match="must be gradcore.bfloat16, got float16"):
        gc.autocast("cpu", dtype=np.float16)
    gc.autocast("cpu", dtype=np.float16, enabled=False)  # off: any dtype, like PyTorch


def test_fit_under_autocast_trains(rng):
    from gradcore import nn
    from gradcore.data import DataLoader, TensorDataset
    from gradcore.train import fit

    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    gc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 2))
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(gc.tensor(x), gc.tensor(y)), batch_size=16)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=5, autocast_dtype=gc.bfloat16)
    assert h.rows[-1]["train_loss"] < h.rows[0]["train_loss"]
    assert all(p.numpy().dtype == np.float32 for p in model.parameters())  # float32 masters
    assert not amp.is_autocast_enabled()


def test_cli_one_epoch_with_amp_is_within_half_a_point_of_float32(tmp_path, capsys):
    """`gradcore train --amp bf16`: cnn-small, 1 epoch on Fashion-MNIST (generated IDX files
    of a learnable problem when the system copy is missing), test accuracy within 0.5 points
    of the float32 run with the same seed."""
    from test_cli import FMNIST_SYSTEM, write_fake_mnist

    from gradcore.__main__ import main

    if os.path.isdir(FMNIST_SYSTEM):
        data = ["--dataset", "fashion-mnist"]
    else:
        data = ["--data-root", write_fake_mnist(tmp_path / "data", n_train=4096, n_test=1024)]
    acc = {}
    for mode in ("none", "bf16"):
        out = tmp_path / mode
        rc = main(
            ["train", "--epochs", "1", "--threads", "2", "--amp", mode, "--out", str(out)] + data
        )
        assert rc == 0, capsys.readouterr().out
        acc[mode] = json.loads((out / "summary.json").read_text())["test_accuracy"]
    capsys.readouterr()
    assert acc["none"] > 0.8
    assert abs(acc["bf16"] - acc["none"]) <= 0.005, acc
