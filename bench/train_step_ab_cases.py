"""The cnn-small training step (forward, backward, Adam; batch 64 of 1x28x28, float32) for
bench_overhead_ab.py's `--cases`, as bench_train.py times it.

    python bench/bench_overhead_ab.py --base /tmp/base/python --candidate python \\
        --cases train_step_ab_cases --threads 2 --rounds 15 --number 5
"""

from __future__ import annotations

import numpy as np


def ab_cases() -> dict:
    """{"cnn-small step": fn}: fn runs one training step on the next of 4 fixed batches."""
    import gradcore
    from gradcore import optim
    from gradcore.models import build_model

    gradcore.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = [gradcore.tensor(rng.random((64, 1, 28, 28), dtype=np.float32)) for _ in range(4)]
    ys = [gradcore.tensor(rng.integers(0, 10, 64)) for _ in range(4)]
    model = build_model("cnn-small")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    return {"cnn-small step": cycling_step(model, opt, xs, ys)}


def cycling_step(model, opt, xs: list, ys: list):
    """A function running one training step (zero_grad, cross-entropy forward, backward,
    opt.step) per call, on the batches (xs[k], ys[k]) in turn."""
    from gradcore import nn

    loss_fn = nn.CrossEntropyLoss()
    i = [0]

    def step() -> None:
        k = i[0] % len(xs)
        i[0] += 1
        opt.zero_grad()
        loss_fn(model(xs[k]), ys[k]).backward()
        opt.step()

    return step
