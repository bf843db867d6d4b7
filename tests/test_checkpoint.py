"""Activation checkpointing: same gradients as without, RNG replay, memory saved."""

import numpy as np
from conftest import assert_allclose

import gradcore as gc
from gradcore import nn
from gradcore.utils import checkpoint, checkpoint_sequential


def test_checkpoint_same_grads_as_plain(rng):
    gc.manual_seed(0)
    m1 = nn.Linear(4, 6)
    m2 = nn.Linear(6, 3)

    def seg(x):
        h = m1(x)
        return (h * h) @ m2.weight.T

    x = gc.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    seg(x).sum().backward()
    ref = [x.grad.numpy().copy(), m1.weight.grad.numpy().copy(), m2.weight.grad.numpy().copy()]
    x.grad = None
    m1.zero_grad()
    m2.zero_grad()
    y = checkpoint(seg, x)
    assert y.grad_fn is not None
    y.sum().backward()
    got = [x.grad.numpy(), m1.weight.grad.numpy(), m2.weight.grad.numpy()]
    for a, b in zip(got, ref):
        assert_allclose(a, b, rtol=1e-6)
    # an input without grad still gives the segment's parameters their gradients
    m1.zero_grad()
    checkpoint(seg, x.detach()).sum().backward()
    assert_allclose(m1.weight.grad.numpy(), ref[1], rtol=1e-6)
    with gc.no_grad():
        assert not checkpoint(seg, x).requires_grad


def test_checkpoint_replays_dropout_mask(rng):
    gc.manual_seed(3)
    m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    x = gc.tensor(rng.standard_normal((4, 8)).astype(np.float32))
    gc.manual_seed(11)
    m(x).sum().backward()
    ref = [p.grad.numpy().copy() for p in m.parameters()]
    m.zero_grad()
    gc.manual_seed(11)
    checkpoint_sequential(m, 2, x).sum().backward()
    for p, r in zip(m.parameters(), ref):
        assert_allclose(p.grad.numpy(), r, rtol=1e-6)


def test_checkpoint_saves_memory(rng):
    import tracemalloc

    gc.manual_seed(0)
    net = nn.Sequential(
        *[
            m
            for _ in range(12)
            for m in (nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        ]
    )
    x = gc.tensor(rng.standard_normal((2, 8, 16, 16)).astype(np.float32))

    def peak(use_ckpt):
        tracemalloc.start()
        h = checkpoint_sequential(net, 4, x) if use_ckpt else net(x)
        h.sum().backward()
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    plain, ckpt = peak(False), peak(True)
    assert ckpt < 0.6 * plain, (plain, ckpt)
