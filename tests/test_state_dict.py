"""state_dict / load_state_dict: PyTorch's keys, round trips, numpy interchange, error messages."""

import numpy as np
import pytest
from conftest import assert_allclose

import gradcore as gc
from gradcore import nn


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_keys_like_torch(torch):
    g = _model()
    t = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    )
    assert list(g.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        assert g.state_dict()[k].shape == tuple(v.shape), k
    assert g.state_dict()["1.num_batches_tracked"].dtype == np.int64


def test_round_trip_and_sharing():
    gc.manual_seed(0)
    a = _model()
    gc.manual_seed(1)
    b = _model()
    sd = a.state_dict()
    assert np.shares_memory(sd["0.weight"].numpy(), a[0].weight.numpy())
    res = b.load_state_dict({k: v.numpy().copy() for k, v in sd.items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in b.state_dict().items():
        assert np.array_equal(v.numpy(), sd[k].numpy()), k
    w = b[0].weight
    b.load_state_dict(sd)
    assert b[0].weight is w  # copied in place: optimizers keep their references


def test_errors_list_every_problem():
    m = _model()
    sd = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    del sd["0.bias"]
    sd["extra.weight"] = np.zeros(3)
    sd["3.weight"] = np.zeros((5, 4), np.float32)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "0.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for 3.weight: copying a param with shape (5, 4)" in msg
    assert "(2, 4)" in msg
    # strict=False tolerates missing/unexpected keys but never a shape mismatch
    sd["3.weight"] = np.zeros((2, 4), np.float32)
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["extra.weight"]
    assert not m[3].weight.numpy().any()
    with pytest.raises(RuntimeError, match="numeric"):
        m.load_state_dict({**sd, "0.bias": np.array(["a", "b", "c", "d"])}, strict=False)
    with pytest.raises(RuntimeError, match="integer buffer"):
        m.load_state_dict({"1.num_batches_tracked": np.array(1.5)}, strict=False)
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([1, 2])


def test_torch_weights_through_numpy_give_same_outputs(rng, torch):
    T = torch.nn
    tm = T.Sequential(
        T.Conv2d(1, 3, 3, padding=1),
        T.BatchNorm2d(3),
        T.ReLU(),
        T.MaxPool2d(2),
        T.Flatten(),
        T.Linear(12, 5),
        T.ReLU(),
        T.Linear(5, 2),
    )
    with torch.no_grad():
        tm[1].running_mean.uniform_(-0.5, 0.5)
        tm[1].running_var.uniform_(0.5, 2.0)
    tm.eval()
    gm = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12, 5),
        nn.ReLU(),
        nn.Linear(5, 2),
    ).eval()
    gm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((4, 1, 4, 4)).astype(np.float32)
    with gc.no_grad():
        y = gm(gc.tensor(x))
    assert_allclose(y.numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    # and back: gradcore weights into a fresh torch model give the same outputs too
    gc.manual_seed(9)
    gm2 = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12, 5),
        nn.ReLU(),
        nn.Linear(5, 2),
    ).eval()
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in gm2.state_dict().items()})
    with gc.no_grad():
        y2 = gm2(gc.tensor(x))
    assert_allclose(y2.numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
