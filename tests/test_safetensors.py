"""safetensors interchange: gradcore's files read by PyTorch's own safetensors reader and
PyTorch's files read by gradcore, matched by parameter name; errors for what the format cannot
hold."""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import nn
from gradcore.serialization import FileFormatError

st_torch = pytest.importorskip("safetensors.torch", reason="needs the safetensors extra")
torch = pytest.importorskip("torch")


def _gradcore_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3),
    )


def _torch_cnn():
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 4, 3, padding=1),
        tnn.BatchNorm2d(4),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(4 * 4 * 4, 3),
    )


def _x():
    return np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)


def _perturb_running_stats(sd):
    for k, v in sd.items():
        if "running" in k:
            v.copy_(torch.rand_like(v) + 0.5)


def test_gradcore_file_loads_into_pytorch_by_name(tmp_path):
    gradcore.manual_seed(0)
    g = _gradcore_cnn()
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.numpy()[:] = np.linspace(-1, 1, 4)
            m.running_var.numpy()[:] = np.linspace(0.5, 2, 4)
    g.eval()
    path = tmp_path / "g.safetensors"
    gradcore.save_safetensors(g.state_dict(), path, metadata={"from": "gradcore"})
    sd = st_torch.load_file(str(path))
    assert set(sd) == set(g.state_dict())
    t = _torch_cnn()
    t.load_state_dict(sd)  # strict: every name and shape matches
    t.eval()
    want = t(torch.from_numpy(_x())).detach().numpy()
    got = g(gradcore.tensor(_x())).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_pytorch_file_loads_into_gradcore_by_name(tmp_path):
    torch.manual_seed(0)
    t = _torch_cnn()
    _perturb_running_stats(t.state_dict())
    t.eval()
    path = tmp_path / "t.safetensors"
    st_torch.save_file(t.state_dict(), str(path))
    sd = gradcore.load_safetensors(path)
    assert all(isinstance(v, gradcore.Tensor) for v in sd.values())
    g = _gradcore_cnn()
    g.load_state_dict(sd)
    g.eval()
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(g.state_dict()[k].numpy(), v.numpy())
    want = t(torch.from_numpy(_x())).detach().numpy()
    np.testing.assert_allclose(g(gradcore.tensor(_x())).numpy(), want, rtol=1e-5, atol=1e-5)


def test_round_trip_is_bitwise_and_keeps_dtypes(tmp_path):
    sd = {
        "w": gradcore.tensor(np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)),
        "steps": np.array(7, dtype=np.int64),
        "d": np.arange(4, dtype=np.float64),
    }
    path = tmp_path / "x.safetensors"
    gradcore.save_safetensors(sd, path)
    back = gradcore.load_safetensors(path, as_tensors=False)
    for k in sd:
        want = sd[k].numpy() if isinstance(sd[k], gradcore.Tensor) else sd[k]
        assert back[k].dtype == want.dtype and back[k].shape == want.shape
        np.testing.assert_array_equal(back[k], want)
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(TypeError, match="'opt' is a dict"):
        gradcore.save_safetensors({"opt": {"lr": 1}}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="keys must be str"):
        gradcore.save_safetensors({1: np.zeros(2)}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="state dict"):
        gradcore.save_safetensors([np.zeros(2)], tmp_path / "a.safetensors")
    with pytest.raises(FileNotFoundError, match="no such file"):
        gradcore.load_safetensors(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00hello")
    with pytest.raises(FileFormatError, match="junk.safetensors: not a readable safetensors"):
        gradcore.load_safetensors(junk)
