"""Chaining schedulers: SequentialLR, and warmup_cosine (linear warm-up then cosine)."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Dict, Sequence

from gradcore.optim.lr_scheduler.base import LRScheduler
from gradcore.optim.lr_scheduler.cosine import CosineAnnealingLR
from gradcore.optim.lr_scheduler.linear import LinearLR
from gradcore.optim.lr_scheduler.plateau import ReduceLROnPlateau
from gradcore.optim.optimizer import Optimizer


class SequentialLR(LRScheduler):
    """Runs `schedulers` one after the other, switching at the epochs in `milestones`.

    The usual warm-up: ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=w),
    CosineAnnealingLR(opt, T_max=epochs - w)], milestones=[w])`` (or `warmup_cosine`).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR does not support ReduceLROnPlateau (scheduler {i}): it needs "
                    "the metric at each step"
                )
            if s.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR expects all schedulers to belong to the same optimizer, but "
                    f"scheduler {i} ({type(s).__name__}) has another one"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "SequentialLR expects one milestone fewer than schedulers, got "
                f"{len(schedulers)} schedulers and {len(milestones)} milestones"
            )
        self._schedulers = list(schedulers)
        self._milestones = [int(m) for m in milestones]
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in self._schedulers:
            s.last_epoch -= 1
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> Dict[str, Any]:
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        subs = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for s, sd in zip(self._schedulers, subs):
            s.load_state_dict(sd)


def warmup_cosine(
    optimizer: Optimizer,
    warmup_epochs: int,
    total_epochs: int,
    start_factor: float = 0.1,
    eta_min: float = 0.0,
) -> LRScheduler:
    """Linear warm-up over `warmup_epochs` then cosine annealing to `eta_min` at `total_epochs`."""
    if warmup_epochs <= 0:
        return CosineAnnealingLR(optimizer, T_max=max(1, total_epochs), eta_min=eta_min)
    warm = LinearLR(optimizer, start_factor=start_factor, total_iters=warmup_epochs)
    cos = CosineAnnealingLR(optimizer, T_max=max(1, total_epochs - warmup_epochs), eta_min=eta_min)
    return SequentialLR(optimizer, [warm, cos], milestones=[warmup_epochs])
