"""ONNX export: every supported module and the zoo's models, run in onnxruntime and compared
with gradcore's own outputs; unsupported modules are named in the error."""

from __future__ import annotations

import numpy as np
import pytest

import gradcore
from gradcore import nn
from gradcore.models import build_model
from gradcore.onnx import UnsupportedModuleError

onnx = pytest.importorskip("onnx", reason="needs the onnx extra")
ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra")


def _run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def _randomise_bn(model):
    rng = np.random.default_rng(5)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.numpy()[:] = rng.standard_normal(m.num_features)
            m.running_var.numpy()[:] = rng.uniform(0.5, 2.0, m.num_features)
            m.weight.numpy()[:] = rng.uniform(0.5, 1.5, m.num_features)
            m.bias.numpy()[:] = rng.standard_normal(m.num_features)


def _check(model, shape, tmp_path, batch_again=3, atol=1e-4):
    gradcore.manual_seed(0)
    _randomise_bn(model)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    path = tmp_path / "m.onnx"
    model.train()
    got = gradcore.onnx.export(model, gradcore.tensor(x), path)
    assert model.training  # mode restored
    onnx.checker.check_model(onnx.load(str(path)))
    np.testing.assert_allclose(_run(path, x), got, rtol=1e-4, atol=atol)
    # the batch dimension is dynamic, and the file matches gradcore's eval-mode output
    x2 = rng.standard_normal((batch_again, *shape[1:])).astype(np.float32)
    model.eval()
    want = model(gradcore.tensor(x2)).numpy()
    np.testing.assert_allclose(_run(path, x2), want, rtol=1e-4, atol=atol)
    return path


@pytest.mark.parametrize("name", ["mlp", "cnn-small", "cnn-bn", "resnet-small", "resnet18"])
def test_zoo_models_match_onnxruntime(name, tmp_path):
    gradcore.manual_seed(0)
    _check(build_model(name), (2, 1, 28, 28), tmp_path)


def test_initializers_are_named_by_state_dict_keys(tmp_path):
    gradcore.manual_seed(0)
    model = build_model("resnet-small")
    path = _check(model, (1, 1, 28, 28), tmp_path)
    names = {t.name for t in onnx.load(str(path)).graph.initializer}
    assert {"conv1.weight", "layer2.0.downsample.0.weight", "fc.bias"} <= names
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Add") == 3  # one residual add per BasicBlock


@pytest.mark.parametrize(
    "act",
    [
        nn.ReLU(),
        nn.LeakyReLU(0.2),
        nn.GELU(),
        nn.GELU(approximate="tanh"),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.SiLU(),
    ],
    ids=lambda m: repr(m),
)
def test_activations(act, tmp_path):
    _check(nn.Sequential(nn.Conv2d(2, 3, 3), act), (2, 2, 6, 6), tmp_path)


def test_conv_variants_pools_and_softmax(tmp_path):
    gradcore.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, stride=2, padding=2, dilation=2, groups=2),
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 8, 3, padding="same", bias=False),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        nn.AdaptiveAvgPool2d(2),
        nn.Dropout(0.5),
        nn.Identity(),
        nn.Flatten(),
        nn.Linear(16, 6),
        nn.BatchNorm1d(6),
        nn.LogSoftmax(dim=1),
    )
    _check(model, (2, 4, 13, 13), tmp_path)
    _check(nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Softmax(dim=1)), (2, 3, 4), tmp_path)


def test_unsupported_module_is_named_and_nothing_is_written(tmp_path):
    class Mystery(nn.Module):
        def forward(self, x):
            return x * 2

    model = nn.Sequential(nn.Conv2d(1, 2, 3), Mystery())
    path = tmp_path / "m.onnx"
    with pytest.raises(UnsupportedModuleError, match=r"Mystery at '1'.*supported: .*Conv2d"):
        gradcore.onnx.export(model, gradcore.randn(1, 1, 5, 5), path)
    assert not path.exists()
    with pytest.raises(UnsupportedModuleError, match="divisor_override"):
        gradcore.onnx.export(nn.AvgPool2d(2, divisor_override=3), gradcore.randn(1, 1, 4, 4), path)


def test_register_converter_exports_a_custom_module(tmp_path):
    class Double(nn.Module):
        def forward(self, x):
            return x * 2

    @gradcore.onnx.register_converter(Double)
    def _double(b, m, name, x):
        two = b.const(m, "two", np.array(2.0, np.float32))
        return b.op("Mul", [name, two], "double"), m(x)

    _check(nn.Sequential(nn.Linear(3, 3), Double()), (2, 3), tmp_path)
