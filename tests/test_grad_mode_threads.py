"""Grad mode and anomaly mode are per thread (issue 16 item 1), as in PyTorch: no_grad in
one thread does not change another thread's mode, and backward does not change the mode of
the thread that calls it (nor of any other)."""

import threading

import numpy as np
import pytest

import gradcore as gc
from gradcore import nn


def _run(*targets):
    """Run each target in its own thread; re-raise the first exception a thread raised."""
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported to the test below
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "thread did not finish"
    if errors:
        raise errors[0]


def test_interleaved_no_grad_blocks_restore_each_threads_mode():
    # A enters, B enters, A exits, B exits: the global flag left grad mode off for good
    step = [threading.Event() for _ in range(4)]
    seen = {}

    def a():
        with gc.no_grad():
            step[0].set()
            step[1].wait(10)
            seen["a_inside"] = gc.is_grad_enabled()
        seen["a_after"] = gc.is_grad_enabled()
        x = gc.tensor([1.0], requires_grad=True)
        seen["a_records"] = (x * 2.0).requires_grad
        step[2].set()

    def b():
        step[0].wait(10)
        with gc.no_grad():
            step[1].set()
            step[2].wait(10)
            seen["b_inside"] = gc.is_grad_enabled()
        seen["b_after"] = gc.is_grad_enabled()

    _run(a, b)
    assert seen == {
        "a_inside": False,
        "a_after": True,
        "a_records": True,
        "b_inside": False,
        "b_after": True,
    }
    assert gc.is_grad_enabled()
    assert (gc.tensor([1.0], requires_grad=True) * 2.0).requires_grad


def test_no_grad_thread_next_to_a_training_thread():
    # the issue: 500 of 500 training steps recorded no graph next to an inference thread
    stop = threading.Event()
    recorded = []

    def inference():
        x = gc.tensor([1.0, 2.0], requires_grad=True)
        while not stop.is_set():
            with gc.no_grad():
                assert not (x * 2.0).requires_grad

    def training():
        try:
            w = gc.tensor([1.0, 2.0], requires_grad=True)
            for _ in range(300):
                y = (w * w).sum()
                recorded.append(y.requires_grad)
                y.backward()
        finally:
            stop.set()

    _run(inference, training)
    assert len(recorded) == 300 and all(recorded)


def test_set_grad_enabled_is_per_thread():
    seen = {}

    def off():
        gc.set_grad_enabled(False)
        seen["off"] = gc.is_grad_enabled()

    _run(off)
    assert seen["off"] is False
    assert gc.is_grad_enabled()
    seen_new = {}
    _run(lambda: seen_new.setdefault("fresh", gc.is_grad_enabled()))
    assert seen_new["fresh"] is True


def test_backward_does_not_change_any_threads_mode():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    inside = threading.Event()
    done = threading.Event()
    seen = {}

    def other():
        inside.wait(10)
        seen["during"] = gc.is_grad_enabled()
        done.set()

    class Wait(gc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            seen["in_backward"] = gc.is_grad_enabled()
            inside.set()
            done.wait(10)
            return g

    t = threading.Thread(target=other)
    t.start()
    Wait.apply(x).sum().backward()
    t.join(10)
    assert seen == {"in_backward": False, "during": True}
    assert gc.is_grad_enabled()
    with gc.no_grad():
        y = gc.tensor([1.0], requires_grad=True)
        with gc.enable_grad():
            z = (y * 3.0).sum()
        z.backward()
        assert not gc.is_grad_enabled()
    assert gc.is_grad_enabled()


def test_anomaly_mode_is_per_thread():
    seen = {}

    def check():
        seen["other"] = gc.autograd.is_anomaly_enabled()
        x = gc.tensor([1.0], requires_grad=True)
        seen["ok"] = (x * float("inf")).shape  # no anomaly error in this thread

    with gc.autograd.detect_anomaly():
        assert gc.autograd.is_anomaly_enabled()
        _run(check)
        with pytest.raises(RuntimeError, match="anomaly detected"):
            gc.tensor([1.0], requires_grad=True) * float("inf")
    assert seen == {"other": False, "ok": (1,)}
    assert not gc.autograd.is_anomaly_enabled()


def _train(seed: int, steps: int = 20) -> list:
    """Train a small conv net on fixed random data; the parameters' final values."""
    rng = np.random.default_rng(seed)  # not the global generator, which the threads share
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 3),
    )
    with gc.no_grad():
        for p in model.parameters():
            p.copy_(rng.standard_normal(p.shape).astype(np.float32) * 0.3)
    opt = gc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = gc.tensor(rng.standard_normal((8, 1, 6, 6)).astype(np.float32))
    t = gc.tensor(rng.integers(0, 3, 8))
    for _ in range(steps):
        opt.zero_grad()
        loss = gc.nn.functional.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_two_threads_training_give_the_sequential_weights_bitwise():
    ref = [_train(1), _train(2)]
    got = {}

    def job(seed):
        return lambda: got.__setitem__(seed, _train(seed))

    # one thread's no_grad evaluation runs next to both, too
    def evaluate():
        m = nn.Linear(3, 3)
        for _ in range(200):
            with gc.no_grad():
                m(gc.ones(2, 3))

    _run(job(1), job(2), evaluate)
    for seed, weights in zip((1, 2), ref):
        for a, b in zip(got[seed], weights):
            np.testing.assert_array_equal(a, b)
