"""Adagrad (PyTorch's formulas, with lr_decay and initial_accumulator_value)."""

from __future__ import annotations

from typing import Any, Dict, Iterable

from gradcore.devices import KERNELS, full_like
from gradcore.optim.optimizer import Optimizer, _array, _grad_array


class Adagrad(Optimizer):
    """Adagrad, one fused native update (`_C.adagrad_step_`) per parameter.

    t += 1; g = grad (+ weight_decay * p); clr = lr / (1 + (t-1)*lr_decay);
    sum += g^2; p -= clr * g / (sqrt(sum) + eps).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        # Like PyTorch, the state exists from construction on.
        for group in self.param_groups:
            self._init_state(group)

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        super().add_param_group(param_group)
        if hasattr(self, "state") and len(self.param_groups) > 0:
            self._init_state(self.param_groups[-1])

    def _init_state(self, group: Dict[str, Any]) -> None:
        for p in group["params"]:
            state = self.state[p]
            if len(state) == 0:
                arr = _array(p)
                state["step"] = 0
                state["sum"] = full_like(arr, group["initial_accumulator_value"])

    def _validate_group(self, group: Dict[str, Any]) -> None:
        # torch.optim.Adagrad's checks and messages (NaN fails every one of them)
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["lr_decay"]:
            raise ValueError(f"Invalid lr_decay value: {group['lr_decay']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if not 0.0 <= group["initial_accumulator_value"]:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {group['initial_accumulator_value']}"
            )
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")

    def _step_group(self, group: Dict[str, Any]) -> None:
        lr = float(group["lr"])
        lr_decay = float(group["lr_decay"])
        wd = float(group["weight_decay"])
        eps = float(group["eps"])
        maximize = bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            arr = _array(p)
            grad = _grad_array(p, arr)
            state = self.state[p]
            if len(state) == 0:
                state["step"] = 0
                state["sum"] = full_like(arr, group["initial_accumulator_value"])
            step = state["step"] + 1  # stored only once the update succeeded
            KERNELS[arr.__class__].adagrad_step_(
                arr, grad, state["sum"], int(step), lr, lr_decay, wd, eps, maximize
            )
            state["step"] = step
