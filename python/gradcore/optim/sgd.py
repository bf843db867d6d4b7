"""SGD with momentum, dampening, Nesterov, weight decay and maximize (PyTorch's formulas)."""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable

from gradcore.devices import KERNELS, zeros_like
from gradcore.optim.optimizer import Optimizer, _array, _grad_array


class SGD(Optimizer):
    """Stochastic gradient descent, one fused native update (`_C.sgd_step_`) per parameter.

    g = grad (+ weight_decay * p); with momentum: buf = g on the first step, else
    buf = momentum * buf + (1 - dampening) * g; g = g + momentum * buf (nesterov) or buf;
    p -= lr * g (+= with maximize).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: Dict[str, Any]) -> None:
        # torch.optim.SGD's checks and messages (NaN rejected too: the kernel refuses it),
        # plus the native kernel's limits: momentum <= 1 and a finite dampening
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["momentum"] > 1.0:
            raise ValueError(
                f"Invalid momentum value: {group['momentum']} (gradcore's SGD supports 0 <= "
                "momentum <= 1)"
            )
        if not math.isfinite(group["dampening"]):
            raise ValueError(f"Invalid dampening value: {group['dampening']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _step_group(self, group: Dict[str, Any]) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        wd = float(group["weight_decay"])
        nesterov = bool(group["nesterov"])
        maximize = bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            arr = _array(p)
            grad = _grad_array(p, arr)
            buf = None
            first = False
            if momentum != 0.0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = zeros_like(arr)
                    state["momentum_buffer"] = buf
                    first = True
            KERNELS[arr.__class__].sgd_step_(
                arr, grad, buf, lr, momentum, dampening, wd, nesterov, maximize, first
            )
