"""LRScheduler, the base of every scheduler: initial_lr, last_epoch, base_lrs, step and
state_dict semantics as in PyTorch; helpers shared by the schedulers."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional

from gradcore.optim.optimizer import Optimizer


def group_lrs(optimizer: Optimizer) -> List[float]:
    """The current lr of each parameter group."""
    return [group["lr"] for group in optimizer.param_groups]


def format_param(name: str, optimizer: Optimizer, param: Any) -> List[Any]:
    """`param` per parameter group: a list of one value per group, or one value repeated."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups: {name} has "
                f"{len(param)} values, param_groups has {len(optimizer.param_groups)}"
            )
        return list(param)
    return [param] * len(optimizer.param_groups)


class LRScheduler:
    """Base class: sets ``initial_lr`` in each group, keeps ``last_epoch`` and ``base_lrs``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        "a scheduler with last_epoch >= 0 (load the optimizer's state first)"
                    )
        self.base_lrs: List[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._is_initial = False
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> List[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_last_lr(self) -> List[float]:
        """The learning rates of the groups after the last step()."""
        return self._last_lr

    def step(self, epoch: Optional[int] = None) -> None:
        """Advance one epoch (or batch, for per-batch schedulers) and set the groups' lr."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn(
                "passing an epoch to scheduler.step() is deprecated (as in PyTorch); it uses "
                "the closed form",
                UserWarning,
                stacklevel=2,
            )
        self._update_lr(epoch)

    def _update_lr(self, epoch: Optional[int] = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = group_lrs(self.optimizer)

    def state_dict(self) -> Dict[str, Any]:
        """Every attribute except the optimizer (as PyTorch)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
