"""nn.init: PyTorch's formulas (bounds, std, gains, fans) and default layer initialisation."""

import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import nn
from gradcore.nn import init


def test_calculate_gain(torch):
    for name, param in [
        ("linear", None),
        ("relu", None),
        ("tanh", None),
        ("sigmoid", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("conv2d", None),
        ("selu", None),
    ]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param)
        )
    with pytest.raises(ValueError, match="Unsupported"):
        init.calculate_gain("swish")


def test_fans_and_errors():
    w = gc.empty(8, 4, 3, 3)
    assert init._calculate_fan_in_and_fan_out(w) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(gc.empty(5))
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(w, mode="fan_avg")


def test_distributions_and_seeding():
    gc.manual_seed(0)
    w = gc.empty(200, 300)
    init.kaiming_uniform_(w, a=0, nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 300)
    a = w.numpy()
    assert a.min() >= -bound and a.max() <= bound and a.max() > 0.98 * bound
    init.kaiming_normal_(w, mode="fan_out")
    assert a.std() == pytest.approx(math.sqrt(2.0 / (1 + 0.0)) / math.sqrt(200), rel=0.02)
    init.xavier_uniform_(w, gain=2.0)
    b = 2.0 * math.sqrt(6.0 / 500)
    assert np.abs(a).max() <= b and np.abs(a).max() > 0.98 * b
    init.xavier_normal_(w)
    assert a.std() == pytest.approx(math.sqrt(2.0 / 500), rel=0.02)
    init.normal_(w, 3.0, 0.5)
    assert a.mean() == pytest.approx(3.0, abs=0.01) and a.std() == pytest.approx(0.5, rel=0.02)
    init.uniform_(w, -1, 2)
    assert a.min() >= -1 and a.max() < 2
    init.constant_(w, 1.5)
    assert np.all(a == 1.5)
    init.zeros_(w)
    assert not a.any()
    init.ones_(w)
    assert np.all(a == 1)
    gc.manual_seed(4)
    x1 = init.normal_(gc.empty(5)).numpy().copy()
    gc.manual_seed(4)
    assert np.array_equal(init.normal_(gc.empty(5)).numpy(), x1)


def test_default_layer_init_like_torch():
    gc.manual_seed(0)
    lin = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) gives 1/sqrt(fan_in) too
    assert (
        np.abs(lin.weight.numpy()).max() <= bound
        and np.abs(lin.weight.numpy()).max() > 0.95 * bound
    )
    assert np.abs(lin.bias.numpy()).max() <= bound
    conv = nn.Conv2d(4, 16, 3)
    bound = 1 / math.sqrt(4 * 9)
    assert np.abs(conv.weight.numpy()).max() <= bound
    assert np.abs(conv.bias.numpy()).max() <= bound
    bn = nn.BatchNorm2d(3)
    assert np.all(bn.weight.numpy() == 1) and np.all(bn.bias.numpy() == 0)
    assert (
        lin.weight.dtype == np.float32
        and nn.Linear(2, 2, dtype=gc.float64).weight.dtype == np.float64
    )
