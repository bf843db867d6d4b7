"""Winograd F(2x2, 3x3) convolution (csrc/cpu/conv_winograd.*): the forward pass and both
gradients of float32 3x3 stride-1 layers, on every CPU path (a kernel module: conftest runs each
test once per path). Checked against a float64 reference on odd sizes, for the bits it must
keep (thread counts, fused block), where it engages, and the gradcore.backends.cpu switch."""

from __future__ import annotations

import numpy as np
import pytest
import reference_conv as ref
from conftest import num_threads

import gradcore as gc
import gradcore.nn.functional as F
from gradcore import _C
from gradcore.backends import cpu as cpu_backend

# (N, C, H, W, K, padding): odd sizes, partial edge tiles, padding 0..2, a row of more than 16
# tiles (two vector chunks), several images per block and a last block with fewer.
SHAPES = [
    (2, 16, 7, 9, 17, 1),
    (3, 17, 8, 8, 16, 0),
    (2, 16, 6, 7, 16, 2),
    (1, 16, 5, 41, 16, 1),
    (7, 64, 9, 9, 64, 1),
    (2, 64, 12, 13, 70, 0),
    (1, 66, 14, 14, 64, 2),
]


def _min_channels() -> int:
    return int(_C.cpu_path_tuning()["winograd_min_channels"])


def _engages(c: int, k: int, oh: int, ow: int) -> bool:
    m = _min_channels()
    return (
        cpu_backend.winograd_enabled()
        and m > 0
        and c >= m
        and k >= m
        and oh * ow >= 36
        and _tile_row_bytes(c, k, ow) <= 8 << 20
    )


def _passes(x, w, b, dy, padding):
    """y, dx, dw of one layer (stride 1, dilation 1, one group)."""
    y = _C.conv2d_forward(x, w, b, 1, padding, 1, 1)
    dx = _C.conv2d_backward_input(dy, w, x.shape[2:], 1, padding, 1, 1)
    dw = _C.conv2d_backward_weight(dy, x, (3, 3), 1, padding, 1, 1)
    return y, dx, dw


def _case(rng, n, c, h, w_, k, padding):
    x = rng.standard_normal((n, c, h, w_)).astype(np.float32)
    w = rng.standard_normal((k, c, 3, 3)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    oh, ow = h + 2 * padding - 2, w_ + 2 * padding - 2
    dy = rng.standard_normal((n, k, oh, ow)).astype(np.float32)
    return x, w, b, dy


def _assert_close_to_reference(got, want, magnitude, what):
    """|got - want| within 2e-6 of the sum of |products| (float32 rounding of a sum of up to
    9*C products, with the transforms' extra adds; the direct sum's bound is about 6e-8*sqrt)."""
    worst = float(np.max(np.abs(got.astype(np.float64) - want) / (magnitude + 1e-30)))
    assert worst <= 2e-6, f"{what}: error {worst:.3g} of the magnitude"


def _assert_passes_match_reference(x, w, b, dy, padding, passes):
    """y, dx, dw (passes) of the layer against the float64 reference (_assert_close_to_reference)."""
    y, dx, dw = passes
    hw = x.shape[2:]
    x64, w64, dy64, b64 = (a.astype(np.float64) for a in (x, w, dy, b))
    ax, aw, ady = np.abs(x64), np.abs(w64), np.abs(dy64)
    want = ref.conv2d(x64, w64, b64, 1, padding)
    _assert_close_to_reference(y, want, ref.conv2d(ax, aw, np.abs(b64), 1, padding), "y")
    want = ref.conv2d_backward_input(dy64, w64, hw, 1, padding)
    mag = ref.conv2d_backward_input(ady, aw, hw, 1, padding)
    _assert_close_to_reference(dx, want, mag, "dx")
    want = ref.conv2d_backward_weight(dy64, x64, (3, 3), 1, padding)
    mag = ref.conv2d_backward_weight(ady, ax, (3, 3), 1, padding)
    _assert_close_to_reference(dw, want, mag, "dw")


def _passes_on_one_and_two_threads(x, w, b, dy, padding):
    """The layer's passes at 1 thread, checked bitwise equal to those at 2."""
    got = []
    for t in (1, 2):
        with num_threads(t):
            got.append(_passes(x, w, b, dy, padding))
    for a, b_ in zip(*got):
        np.testing.assert_array_equal(a, b_)
    return got[0]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_float64_reference(rng, shape):
    n, c, h, w_, k, padding = shape
    x, w, b, dy = _case(rng, n, c, h, w_, k, padding)
    _assert_passes_match_reference(x, w, b, dy, padding, _passes(x, w, b, dy, padding))


@pytest.mark.parametrize("shape", SHAPES[:1] + SHAPES[4:6], ids=lambda s: "x".join(map(str, s)))
def test_engaged_exactly_where_the_path_takes_it(rng, shape):
    """With the switch on, an eligible layer's three passes are not the GEMM algorithm's bits
    (the Winograd path ran); on a path without it they are."""
    n, c, h, w_, k, padding = shape
    x, w, b, dy = _case(rng, n, c, h, w_, k, padding)
    with cpu_backend.flags(winograd=False):
        gemm = _passes(x, w, b, dy, padding)
    with cpu_backend.flags(winograd=True):
        wino = _passes(x, w, b, dy, padding)
        forward_engages = _engages(c, k, *dy.shape[2:])
        input_grad_engages = forward_engages and h * w_ >= 36
    assert (not np.array_equal(wino[0], gemm[0])) == forward_engages
    assert (not np.array_equal(wino[1], gemm[1])) == input_grad_engages
    assert (not np.array_equal(wino[2], gemm[2])) == forward_engages


@pytest.mark.parametrize(
    "stride,dilation,groups,kernel,padding,dtype",
    [
        (2, 1, 1, 3, 1, np.float32),
        (1, 2, 1, 3, 2, np.float32),
        (1, 1, 2, 3, 1, np.float32),
        (1, 1, 1, 5, 2, np.float32),
        (1, 1, 1, 3, 3, np.float32),
        (1, 1, 1, 3, 1, np.float64),
    ],
)
def test_other_geometries_keep_the_gemm_bits(rng, stride, dilation, groups, kernel, padding, dtype):
    x = rng.standard_normal((2, 32, 12, 12)).astype(dtype)
    w = rng.standard_normal((32, 32 // groups, kernel, kernel)).astype(dtype)
    args = (stride, padding, dilation, groups)
    y0 = _C.conv2d_forward(x, w, None, *args)
    dy = rng.standard_normal(y0.shape).astype(dtype)
    out = {}
    for on in (False, True):
        with cpu_backend.flags(winograd=on):
            out[on] = (
                _C.conv2d_forward(x, w, None, *args),
                _C.conv2d_backward_input(dy, w, x.shape[2:], *args),
                _C.conv2d_backward_weight(dy, x, w.shape[2:], *args),
            )
    for a, b in zip(out[False], out[True]):
        np.testing.assert_array_equal(a, b)


def _tile_row_bytes(c: int, k: int, ow: int) -> int:
    return 16 * (c + k) * ((ow + 1) // 2) * 4


@pytest.mark.parametrize("n", [1, 3])
def test_large_images_run_in_bands(rng, n):
    """A 3x3 layer on 150x150 images would need 11.5 MB of transformed tiles per image (over
    the 2 MiB block): each image runs in bands of tile rows. All three passes still match the
    float64 reference, for 1 and 2 threads alike."""
    x, w, b, dy = _case(rng, n, 16, 150, 150, 16, 1)
    y, dx, dw = _passes_on_one_and_two_threads(x, w, b, dy, 1)
    _assert_passes_match_reference(x, w, b, dy, 1, (y, dx, dw))
    with cpu_backend.flags(winograd=False):
        gemm = _passes(x, w, b, dy, 1)
    assert (not np.array_equal(gemm[0], y)) == _engages(16, 16, 150, 150)


def test_rows_too_wide_for_a_block_keep_the_gemm_algorithm(rng):
    """One row of tiles of a 2100-wide image at 64 + 64 channels holds 8.6 MB of transformed
    tiles (over 8 MiB): the layer keeps the GEMM algorithm's bits."""
    assert _tile_row_bytes(64, 64, 2100) > 8 << 20
    x, w, b, dy = _case(rng, 1, 64, 4, 2100, 64, 1)
    with cpu_backend.flags(winograd=False):
        gemm = _passes(x, w, b, dy, 1)
    for a, b_ in zip(gemm, _passes(x, w, b, dy, 1)):
        np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("n", [1, 5, 16])
def test_one_and_two_threads_bitwise(rng, n):
    _passes_on_one_and_two_threads(*_case(rng, n, 32, 14, 14, 48, 1), 1)


def test_nan_and_inf_propagate(rng):
    x, w, b, dy = _case(rng, 2, 32, 10, 10, 32, 1)
    x[1, 3, 4, 5] = np.nan
    x[0, 0, 0, 0] = np.inf
    y, _, _ = _passes(x, w, b, dy, 1)
    assert np.isnan(y[1, :, 3:6, 4:7]).all()
    assert not np.isfinite(y[0, :, 0:2, 0:2]).any()
    assert np.isfinite(y[0, :, 5:, 5:]).all() and np.isfinite(y[1, :, 7:, :]).all()


@pytest.mark.parametrize(
    "shape", [(6, 32, 14, 14, 64), (2, 16, 76, 76, 16)], ids=["blocks", "bands"]
)
def test_fused_block_matches_the_unfused_chain(rng, shape):
    """The fused Conv2d -> ReLU -> MaxPool2d(2) block (nn.Sequential) and the unfused chain take
    the same Winograd passes: output and every gradient bit for bit (whole images per block, and
    images in bands of tile rows, each image handed to the pool once all its bands are done)."""
    n, c, h, w_, k = shape
    x_np = rng.standard_normal((n, c, h, w_)).astype(np.float32)
    conv = gc.nn.Conv2d(c, k, 3, padding=1)
    block = gc.nn.Sequential(conv, gc.nn.ReLU(), gc.nn.MaxPool2d(2))
    got = []
    for run in (block, lambda t: F.max_pool2d(F.relu(conv(t)), 2)):
        x = gc.tensor(x_np, requires_grad=True)
        conv.zero_grad()
        y = run(x)
        (y * y).sum().backward()
        got.append((y.numpy(), x.grad.numpy(), conv.weight.grad.numpy(), conv.bias.grad.numpy()))
    for a, b in zip(*got):
        np.testing.assert_array_equal(a, b)


def test_training_gradients_match_torch(torch, rng):
    """A conv layer's input and weight gradients through autograd against PyTorch in float64."""
    x = rng.standard_normal((4, 32, 11, 13)).astype(np.float32)
    w = rng.standard_normal((40, 32, 3, 3)).astype(np.float32)
    xt, wt = gc.tensor(x, requires_grad=True), gc.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, padding=1)
    (y * y).sum().backward()
    X = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    W = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    Y = torch.nn.functional.conv2d(X, W, padding=1)
    (Y * Y).sum().backward()
    for got, want in ((y.numpy(), Y), (xt.grad.numpy(), X.grad), (wt.grad.numpy(), W.grad)):
        want = want.detach().numpy()
        assert np.max(np.abs(got - want)) <= 2e-5 * np.max(np.abs(want))


def test_switch_and_flags():
    before = cpu_backend.winograd_enabled()
    assert before is True  # the default
    with cpu_backend.flags(winograd=False):
        assert cpu_backend.winograd_enabled() is False
        with cpu_backend.flags():
            assert cpu_backend.winograd_enabled() is False
    assert cpu_backend.winograd_enabled() is True
    with pytest.raises(RuntimeError, match="boom"), cpu_backend.flags(winograd=False):
        raise RuntimeError("boom")
    assert cpu_backend.winograd_enabled() is True
    with pytest.raises(TypeError, match="enabled must be a bool"):
        cpu_backend.set_winograd_enabled(1)
    with pytest.raises(TypeError, match="enabled must be a bool"), cpu_backend.flags(winograd="no"):
        pass
    assert cpu_backend.winograd_enabled() is True
    assert gc.backends.cpu is cpu_backend


@pytest.mark.across_cpu_capabilities
def test_paths_with_winograd_give_the_same_bits(rng):
    """The AVX2 and AVX-512 transforms do the portable body's additions in its order, and the
    GEMMs under them keep one FMA order per element: every path that takes a layer gives the
    same bits for all three passes."""
    from conftest import CPU_CAPABILITIES, cpu_capability_selected

    x, w, b, dy = _case(rng, 5, 64, 13, 11, 64, 1)
    got = {}
    for path in CPU_CAPABILITIES:
        with cpu_capability_selected(path):
            if _min_channels() == 0 or _min_channels() > 64:
                continue
            got[path] = _passes(x, w, b, dy, 1)
    if len(got) < 2:
        pytest.skip(f"fewer than two CPU paths here take Winograd at 64 channels: {sorted(got)}")
    first, *rest = sorted(got)
    for path in rest:
        for name, a, b_ in zip(("y", "dx", "dw"), got[first], got[path]):
            np.testing.assert_array_equal(a, b_, err_msg=f"{name}: {path} vs {first}")
