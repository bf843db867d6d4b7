"""A training step of a small MLP (784-64-10, batch 8, SGD), where the per-op overhead of
the Python layer is most of the time, for bench_overhead_ab.py's `--cases`:

    python bench/bench_overhead_ab.py --base /tmp/base/python --candidate python \\
        --cases small_step_ab_cases --rounds 30 --number 200
"""

from __future__ import annotations

import numpy as np
from train_step_ab_cases import cycling_step


def ab_cases() -> dict:
    """{"mlp step": fn, "mlp inference": fn}: a step (forward, backward, SGD) and a no-grad
    forward on the next of 4 fixed batches; the layers' weights are nn.Parameters."""
    import gradcore
    from gradcore import nn, optim

    gradcore.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = [gradcore.tensor(rng.random((8, 784), dtype=np.float32)) for _ in range(4)]
    ys = [gradcore.tensor(rng.integers(0, 10, 8)) for _ in range(4)]
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    i = [0]

    def inference() -> None:
        k = i[0] % 4
        i[0] += 1
        with gradcore.no_grad():
            model(xs[k])

    return {"mlp step": cycling_step(model, opt, xs, ys), "mlp inference": inference}
