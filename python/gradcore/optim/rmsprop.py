"""RMSprop, plain, centered and with momentum (PyTorch's formulas)."""

from __future__ import annotations

from typing import Any, Dict, Iterable

from gradcore.devices import KERNELS, zeros_like
from gradcore.optim.optimizer import Optimizer, _array, _grad_array


class RMSprop(Optimizer):
    """RMSprop, one fused native update (`_C.rmsprop_step_`) per parameter.

    g = grad (+ weight_decay * p); v = alpha*v + (1-alpha)*g^2; centered: ga = alpha*ga +
    (1-alpha)*g, avg = sqrt(v - ga^2) + eps, else avg = sqrt(v) + eps; with momentum:
    buf = momentum*buf + g/avg, p -= lr*buf; else p -= lr*g/avg.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: Dict[str, Any]) -> None:
        # torch.optim.RMSprop's checks and messages (NaN fails every one of them), plus the
        # native kernel's limits: momentum <= 1 and alpha <= 1
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["momentum"] > 1.0:
            raise ValueError(
                f"Invalid momentum value: {group['momentum']} (gradcore's RMSprop supports 0 <= "
                "momentum <= 1)"
            )
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if not 0.0 <= group["alpha"]:
            raise ValueError(f"Invalid alpha value: {group['alpha']}")
        if group["alpha"] > 1.0:
            raise ValueError(
                f"Invalid alpha value: {group['alpha']} (gradcore's RMSprop supports 0 <= "
                "alpha <= 1)"
            )

    def _step_group(self, group: Dict[str, Any]) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        momentum = float(group["momentum"])
        centered = bool(group["centered"])
        maximize = bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            arr = _array(p)
            grad = _grad_array(p, arr)
            state = self.state[p]
            if len(state) == 0:
                state["step"] = 0
                state["square_avg"] = zeros_like(arr)
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_like(arr)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = zeros_like(arr)
            KERNELS[arr.__class__].rmsprop_step_(
                arr,
                grad,
                state["square_avg"],
                state["grad_avg"] if centered else None,
                state["momentum_buffer"] if momentum > 0 else None,
                lr,
                alpha,
                eps,
                wd,
                momentum,
                centered,
                maximize,
            )
            state["step"] += 1  # counted only once the update succeeded
