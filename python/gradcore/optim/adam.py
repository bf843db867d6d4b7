"""Adam and AdamW (PyTorch's formulas, incl. amsgrad and maximize)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Tuple

from gradcore.devices import KERNELS, zeros_like
from gradcore.optim.optimizer import Optimizer, _array, _grad_array


class Adam(Optimizer):
    """Adam, one fused native update (`_C.adam_step_`) per parameter.

    t += 1; g = grad (+ weight_decay * p, or p *= 1 - lr*weight_decay when decoupled);
    m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2 (amsgrad: vmax = max(vmax, v), used for v);
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    State per parameter: step (int), exp_avg, exp_avg_sq (and max_exp_avg_sq with amsgrad).
    """

    _decoupled_default = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay or self._decoupled_default,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: Dict[str, Any]) -> None:
        # torch.optim.Adam's checks and messages (NaN fails every one of them)
        b1, b2 = group["betas"]
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        if not 0.0 <= b1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {b1}")
        if not 0.0 <= b2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {b2}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")

    def _step_group(self, group: Dict[str, Any]) -> None:
        lr = float(group["lr"])
        b1, b2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        amsgrad = bool(group["amsgrad"])
        maximize = bool(group["maximize"])
        decoupled = bool(group.get("decoupled_weight_decay", self._decoupled_default))
        for p in group["params"]:
            if p.grad is None:
                continue
            arr = _array(p)
            grad = _grad_array(p, arr)
            state = self.state[p]
            if len(state) == 0:
                state["step"] = 0
                state["exp_avg"] = zeros_like(arr)
                state["exp_avg_sq"] = zeros_like(arr)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_like(arr)
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = zeros_like(arr)
            step = state["step"] + 1  # stored only once the update succeeded
            KERNELS[arr.__class__].adam_step_(
                arr,
                grad,
                state["exp_avg"],
                state["exp_avg_sq"],
                state["max_exp_avg_sq"] if amsgrad else None,
                int(step),
                lr,
                b1,
                b2,
                eps,
                wd,
                decoupled,
                amsgrad,
                maximize,
            )
            state["step"] = step


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam update."""

    _decoupled_default = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
