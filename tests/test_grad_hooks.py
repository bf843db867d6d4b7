"""Tensor.register_post_accumulate_grad_hook: when it fires, with what, and removal."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import gradcore


def test_hook_runs_after_accumulation_with_the_leaf():
    w = gradcore.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append((t is w, t.grad.numpy().copy())))
    (w * 3).sum().backward()
    assert len(seen) == 1 and seen[0][0]
    np.testing.assert_array_equal(seen[0][1], [3.0, 3.0])
    (w * 2).sum().backward()  # second backward: the hook sees the accumulated sum
    np.testing.assert_array_equal(seen[1][1], [5.0, 5.0])


def test_hook_fires_once_per_accumulation_and_in_order():
    w = gradcore.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append("a"))
    w.register_post_accumulate_grad_hook(lambda t: calls.append("b"))
    (w * 2 + w * 3).sum().backward()  # two paths: two accumulations
    assert calls == ["a", "b", "a", "b"]
    np.testing.assert_array_equal(w.grad.numpy(), np.full(3, 5.0))


def test_hook_on_a_leaf_that_is_the_root():
    w = gradcore.tensor(np.float32(2.0), requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(float(t.grad.item())))
    w.backward()
    assert calls == [1.0]


def test_remove_stops_the_hook_and_is_idempotent():
    w = gradcore.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    calls = []
    h = w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    h.remove()
    h.remove()
    w.sum().backward()
    assert calls == []
    assert w._post_acc_hooks == []


def test_a_hook_that_refers_to_its_leaf_is_collected_with_it():
    w = gradcore.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t, keep=w: keep)  # w -> hook -> w: a cycle
    ref = weakref.ref(w)
    del w
    gc.collect()
    assert ref() is None


def test_no_hook_means_no_attribute_on_the_leaf():
    w = gradcore.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    w.sum().backward()
    assert getattr(w, "_post_acc_hooks", None) is None


def test_non_leaf_and_no_grad_tensors_are_refused():
    w = gradcore.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="not a leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="without requires_grad"):
        gradcore.tensor(np.ones(2)).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)
