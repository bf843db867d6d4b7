"""nn modules: registration, traversal, modes, repr, layers vs PyTorch with the same weights."""

import numpy as np
import pytest
from conftest import assert_allclose

import gradcore as gc
from gradcore import nn
from gradcore.autograd import gradcheck
from gradcore.nn import functional as F


def _copy_from_torch(gm, tm):
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def _grads_match(gm, tm, **tol):
    g = dict(gm.named_parameters())
    for k, tp in tm.named_parameters():
        assert_allclose(g[k].grad.numpy(), tp.grad.numpy(), what=k, **tol)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.head = nn.Linear(4, 2, bias=False)
        self.register_buffer("scale", gc.ones(2))
        self.register_buffer("tmp", gc.zeros(1), persistent=False)

    def forward(self, x):
        return self.head(self.features(x)) * self.scale


def test_module_registration_and_traversal():
    m = Net()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "head.weight"]
    assert [n for n, _ in m.named_buffers()] == ["scale", "tmp"]
    assert [n for n, _ in m.named_children()] == ["features", "head"]
    assert [n for n, _ in m.named_modules()] == ["", "features", "features.0", "features.1", "head"]
    assert len(list(m.parameters())) == 3 and len(list(m.modules())) == 5
    assert m.head.bias is None and isinstance(m.head.weight, nn.Parameter)
    assert list(m.state_dict()) == ["scale"] + names  # own first (like torch); tmp left out
    m.eval()
    assert not m.training and not m.features[1].training
    m.train()
    assert all(x.training for x in m.modules())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Net" and "Linear" in seen
    with pytest.raises(TypeError, match="parameter"):
        m.head.weight = gc.ones(2, 4)
    shared = nn.Linear(2, 2)
    s = nn.Sequential(shared, shared)
    assert len(list(s.parameters())) == 2  # shared parameters listed once


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m(gc.ones(1, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.numpy().sum() == 0
    m.zero_grad()
    assert m.weight.grad is None
    m.requires_grad_(False)
    assert not m(gc.ones(1, 3)).requires_grad


def test_repr_like_torch(torch):
    g = nn.Sequential(
        nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.2), nn.Flatten(), nn.Linear(4, 2, bias=False)
    )
    t = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2, bias=False),
    )
    assert repr(g) == repr(t)
    assert repr(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)) == repr(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
    )
    assert repr(nn.BatchNorm2d(4)) == repr(torch.nn.BatchNorm2d(4))
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))


def test_containers():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear) and len(s[:2]) == 2
    s.append(nn.Identity())
    assert len(s) == 4
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and [n for n, _ in ml.named_parameters()][-1] == "3.bias"
    with pytest.raises(IndexError):
        ml[7]


def test_module_to_dtype_and_device():
    m = nn.Linear(3, 2)
    p = m.weight
    m.double()
    assert m.weight is p and p.dtype == np.float64
    assert m(gc.ones(1, 3, dtype=gc.float64)).dtype == np.float64
    with pytest.raises(RuntimeError, match="CUDA"):
        m.to("cuda")


def test_linear_module_gradcheck_and_torch(rng, torch):
    m = nn.Linear(3, 4).double()
    x = gc.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    assert gradcheck(lambda a, w, b: nn.functional.linear(a, w, b), (x, m.weight, m.bias))
    tm = torch.nn.Linear(3, 4)
    g = nn.Linear(3, 4)
    _copy_from_torch(g, tm)
    xa = rng.standard_normal((5, 3)).astype(np.float32)
    g(gc.tensor(xa)).pow(2).sum().backward()
    tm(torch.tensor(xa)).pow(2).sum().backward()
    _grads_match(g, tm, rtol=1e-5, atol=1e-5)


def _small_cnns(torch):
    T = torch.nn
    tm = T.Sequential(
        T.Conv2d(2, 4, 3, padding=1),
        T.ReLU(),
        T.MaxPool2d(2),
        T.Conv2d(4, 6, 3),
        T.ReLU(),
        T.MaxPool2d(2),
        T.Flatten(),
        T.Linear(6, 3),
    )
    gm = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(6, 3),
    )
    return gm, tm


def test_small_cnn_matches_torch(rng, torch):
    gm, tm = _small_cnns(torch)
    _copy_from_torch(gm, tm)
    x = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    t = np.array([0, 2, 1])
    gl = nn.CrossEntropyLoss()(gm(gc.tensor(x)), gc.tensor(t))
    tl = torch.nn.CrossEntropyLoss()(tm(torch.tensor(x)), torch.tensor(t))
    gl.backward()
    tl.backward()
    assert gl.shape == () and gl.dtype == np.float32
    assert_allclose(gl.item(), tl.item(), rtol=1e-5)
    _grads_match(gm, tm, rtol=1e-4, atol=1e-5)


def test_small_cnn_gradcheck(rng):
    gc.manual_seed(0)
    gm = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2)
    ).double()
    x = gc.tensor(rng.standard_normal((2, 1, 4, 4)), requires_grad=True)
    assert gradcheck(lambda a, *ps: gm(a), (x, *gm.parameters()))


@pytest.mark.parametrize("stride,inp,planes", [(1, 4, 4), (2, 4, 6)])
def test_basic_block_matches_torchvision_layout(stride, inp, planes, rng, torch):
    T = torch.nn

    class TorchBlock(T.Module):  # torchvision's BasicBlock
        def __init__(self):
            super().__init__()
            self.conv1 = T.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = T.BatchNorm2d(planes)
            self.relu = T.ReLU(inplace=True)
            self.conv2 = T.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = T.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inp != planes:
                self.downsample = T.Sequential(
                    T.Conv2d(inp, planes, 1, stride, bias=False), T.BatchNorm2d(planes)
                )

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + idt)

    tb = TorchBlock().double()
    for m in tb.modules():  # non-trivial affine params and running stats
        if isinstance(m, T.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    gb = nn.BasicBlock(inp, planes, stride).double()
    assert list(gb.state_dict()) == list(tb.state_dict())
    _copy_from_torch(gb, tb)
    for mode in ("train", "eval"):
        getattr(gb, mode)()
        getattr(tb, mode)()
        gb.zero_grad()
        tb.zero_grad()
        x = rng.standard_normal((3, inp, 6, 6))
        xs, tx = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = gb(xs), tb(tx)
        go = rng.standard_normal(ty.shape)
        y.backward(gc.tensor(go))
        ty.backward(torch.tensor(go))
        assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-9, what=mode)
        assert_allclose(xs.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-9, what=mode)
        _grads_match(gb, tb, rtol=1e-8, atol=1e-9)
        for k, v in tb.state_dict().items():  # running stats updated identically
            assert_allclose(gb.state_dict()[k].numpy(), v.numpy(), rtol=1e-9, atol=1e-12, what=k)


def test_basic_block_gradcheck(rng):
    gc.manual_seed(1)
    b = nn.BasicBlock(2, 3, stride=2).double()
    x = gc.tensor(rng.standard_normal((2, 2, 4, 4)), requires_grad=True)
    assert gradcheck(lambda a, *ps: b(a), (x, *b.parameters()))
    b.eval()
    assert gradcheck(lambda a, *ps: b(a), (x, *b.parameters()))


def test_batchnorm_modules(rng, torch):
    for g, t, shape in [
        (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), (5, 3)),
        (nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None), (4, 3, 2)),
        (nn.BatchNorm2d(3, affine=False), torch.nn.BatchNorm2d(3, affine=False), (2, 3, 2, 2)),
        (
            nn.BatchNorm2d(3, track_running_stats=False),
            torch.nn.BatchNorm2d(3, track_running_stats=False),
            (2, 3, 2, 2),
        ),
    ]:
        for _ in range(2):
            x = rng.standard_normal(shape).astype(np.float32)
            assert_allclose(
                g(gc.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5
            )
        for k, v in t.state_dict().items():
            assert_allclose(g.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, what=k)
        g.eval()
        t.eval()
        x = rng.standard_normal(shape).astype(np.float32)
        assert_allclose(
            g(gc.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5
        )
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(gc.ones(2, 3))
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm1d(3)(gc.ones(2, 4))


def test_simple_modules_match_functional(rng, torch):
    x = rng.standard_normal((2, 3, 4, 4))
    pairs = [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.GELU(), torch.nn.GELU()),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.Identity(), torch.nn.Identity()),
    ]
    for g, t in pairs:
        assert_allclose(g(gc.tensor(x)).numpy(), t(torch.tensor(x)).numpy(), what=repr(g))
    d = nn.Dropout(0.5)
    d.eval()
    assert d(gc.tensor(x)).numpy() is not None and np.array_equal(d(gc.tensor(x)).numpy(), x)
    lp, tgt = rng.standard_normal((4, 3)), np.array([0, 1, 2, 1])
    assert_allclose(
        nn.NLLLoss()(gc.tensor(lp), gc.tensor(tgt)).item(),
        torch.nn.NLLLoss()(torch.tensor(lp), torch.tensor(tgt)).item(),
    )
    y = rng.standard_normal((4, 3))
    for g, t in [
        (nn.MSELoss(), torch.nn.MSELoss()),
        (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum")),
    ]:
        assert_allclose(
            g(gc.tensor(lp), gc.tensor(y)).item(), t(torch.tensor(lp), torch.tensor(y)).item()
        )
    p = (y > 0).astype(np.float64)
    pw = np.array([1.0, 2.0, 0.5])
    assert_allclose(
        nn.BCEWithLogitsLoss(pos_weight=gc.tensor(pw))(gc.tensor(lp), gc.tensor(p)).item(),
        torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw))(
            torch.tensor(lp), torch.tensor(p)
        ).item(),
    )
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


@pytest.mark.parametrize(
    "pool",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=1, padding=1),  # overlapping windows, padding
        dict(kernel_size=3, stride=2, ceil_mode=True),
        dict(kernel_size=2, dilation=2),
    ],
)
def test_sequential_runs_max_pool_before_relu_with_the_same_values_and_gradients(rng, pool):
    """nn.Sequential runs ReLU -> MaxPool2d as MaxPool2d -> ReLU (containers.py), as one
    kernel for 2x2/2 windows: the output and the input gradient are bitwise those of relu then
    pool, on inputs with negative windows, zeros, ties and NaN."""
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    x[0, 0, :4, :4] = -np.abs(x[0, 0, :4, :4])  # windows with no positive value
    x[0, 1, :, :3] = 0.0
    x[1, 0, 2:4, 2:4] = 0.5  # ties
    x[1, 2, 5, 5] = np.nan
    g = rng.standard_normal(nn.MaxPool2d(**pool)(gc.tensor(x)).shape).astype(np.float32)
    seq = nn.Sequential(nn.ReLU(), nn.MaxPool2d(**pool))
    a = gc.tensor(x, requires_grad=True)
    y = seq(a)
    y.backward(gc.tensor(g))
    # the pool ran first; 2x2/2 windows run both in one kernel (ops/pool.py MaxPool2dReLU)
    fused = pool == dict(kernel_size=2)
    assert type(y.grad_fn).__name__ == ("MaxPool2dReLU" if fused else "ReLU")
    b = gc.tensor(x, requires_grad=True)
    want = F.max_pool2d(F.relu(b), **pool)
    want.backward(gc.tensor(g))
    np.testing.assert_array_equal(y.numpy(), want.numpy())
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_sequential_keeps_the_order_where_it_could_differ(rng):
    """With return_indices the indices of relu(x) differ (ties at 0), and a subclass may
    change forward: both run as written."""

    class Negated(nn.ReLU):  # not monotone: pooling first would change the values
        def forward(self, x):
            return F.relu(x) * -1.0

    a = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    a[0, 0, :2, :2] = [[-1.0, -2.0], [-0.5, -3.0]]  # relu gives four tied zeros
    x = gc.tensor(a)
    y, idx = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True))(x)
    _, want = F.max_pool2d(F.relu(x), 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), want.numpy())
    y = nn.Sequential(Negated(), nn.MaxPool2d(2))(x)
    np.testing.assert_array_equal(y.numpy(), F.max_pool2d(F.relu(x) * -1.0, 2).numpy())


def test_sequential_fuses_relu_and_pool_only_for_float32_2x2_batches(rng):
    """ReLU -> MaxPool2d(2) runs as one MaxPool2dReLU node on a float32 (N, C, H, W) batch at
    least 2x2; float64, an unbatched input and other windows keep the pool-first pair (the
    same values either way)."""
    cases = [
        ((2, 3, 6, 5), np.float32, dict(kernel_size=2), "MaxPool2dReLU"),
        ((2, 3, 6, 5), np.float32, dict(kernel_size=(2, 2), stride=2, padding=0), "MaxPool2dReLU"),
        ((2, 3, 6, 5), np.float64, dict(kernel_size=2), "ReLU"),
        ((3, 6, 5), np.float32, dict(kernel_size=2), "ReLU"),
        ((2, 3, 6, 5), np.float32, dict(kernel_size=2, ceil_mode=True), "ReLU"),
    ]
    for shape, dtype, pool, node in cases:
        x = gc.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
        y = nn.Sequential(nn.ReLU(), nn.MaxPool2d(**pool))(x)
        assert type(y.grad_fn).__name__ == node, (shape, dtype, pool)
        np.testing.assert_array_equal(y.numpy(), F.max_pool2d(F.relu(x), **pool).numpy())


def test_container_indexing_counts_from_the_end_and_names_the_container():
    seq, lst = nn.Sequential(nn.ReLU(), nn.Tanh()), nn.ModuleList([nn.ReLU(), nn.Tanh()])
    for c, kind in ((seq, "Sequential"), (lst, "ModuleList")):
        assert isinstance(c[-1], nn.Tanh) and isinstance(c[0], nn.ReLU)
        for bad in (2, -3):
            with pytest.raises(
                IndexError, match=f"index {bad} is out of range for {kind} of length 2"
            ):
                c[bad]
