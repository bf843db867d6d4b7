"""Optimizers and learning-rate schedulers by name: the one home of their choice lists.

`OPTIMIZERS` and `SCHEDULERS` are the names `build_optimizer` / `build_scheduler` accept; the
command line (`gradcore train --optimizer/--scheduler`) and `grid_search` use them too.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "onecycle", "plateau")


def build_optimizer(
    name: str,
    params: Iterable[Any],
    lr: float = 1e-3,
    weight_decay: Optional[float] = None,
    momentum: Optional[float] = None,
) -> Any:
    """An optimizer by name (one of OPTIMIZERS); None keeps its defaults."""
    from gradcore import optim

    kw: Dict[str, Any] = {"lr": lr}
    if weight_decay is not None:
        kw["weight_decay"] = weight_decay
    name = name.lower()
    if name == "sgd":
        return optim.SGD(params, momentum=momentum or 0.0, **kw)
    if name == "rmsprop":
        return optim.RMSprop(params, momentum=momentum or 0.0, **kw)
    if name in ("adam", "adamw", "adagrad"):
        if momentum:
            raise ValueError(f"--momentum does not apply to {name}")
        cls = {"adam": optim.Adam, "adamw": optim.AdamW, "adagrad": optim.Adagrad}[name]
        return cls(params, **kw)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def build_scheduler(
    name: str,
    optimizer: Any,
    epochs: int,
    steps_per_epoch: int = 1,
    warmup_epochs: int = 0,
    step_size: Optional[int] = None,
    gamma: Optional[float] = None,
) -> Any:
    """A scheduler by name (see SCHEDULERS), optionally after `warmup_epochs` of linear
    warm-up (epoch-based schedulers). Returns None for "none" without warm-up."""
    from gradcore.optim import lr_scheduler as L

    name = name.lower()
    main_epochs = max(1, epochs - warmup_epochs)
    if name == "onecycle":
        max_lr = optimizer.param_groups[0]["lr"]
        pct = 0.3 if not warmup_epochs else min(1.0, warmup_epochs / max(1, epochs))
        return L.OneCycleLR(
            optimizer,
            max_lr=max_lr,
            epochs=max(1, epochs),
            steps_per_epoch=steps_per_epoch,
            pct_start=float(pct),
        )
    if name == "none":
        main = None
    elif name == "step":
        main = L.StepLR(
            optimizer, step_size=step_size or max(1, main_epochs // 3), gamma=gamma or 0.1
        )
    elif name == "multistep":
        ms = [max(1, int(main_epochs * 0.5)), max(2, int(main_epochs * 0.75))]
        main = L.MultiStepLR(optimizer, milestones=ms, gamma=gamma or 0.1)
    elif name == "exponential":
        main = L.ExponentialLR(optimizer, gamma=gamma or 0.9)
    elif name == "cosine":
        main = L.CosineAnnealingLR(optimizer, T_max=main_epochs)
    elif name == "plateau":
        if warmup_epochs:
            raise ValueError("--warmup-epochs cannot be combined with the plateau scheduler")
        return L.ReduceLROnPlateau(optimizer, factor=gamma or 0.1, patience=step_size or 2)
    else:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    if not warmup_epochs:
        return main
    warm = L.LinearLR(optimizer, start_factor=0.1, total_iters=warmup_epochs)
    if main is None:
        return warm
    return L.SequentialLR(optimizer, [warm, main], milestones=[warmup_epochs])
