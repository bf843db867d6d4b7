"""Dynamic loss scaling: `gradcore.amp.GradScaler`, torch.amp.GradScaler's API and semantics.

    scaler = gradcore.amp.GradScaler()
    for x, y in data:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()   # gradients of loss * scale
        scaler.step(opt)                # unscale, skip the step if any gradient is inf/NaN
        scaler.update()                 # backoff after a skip, grow after growth_interval

The state is PyTorch's, held on the host: the scale is a float32 value (kept as a Python float
rounded to float32, so that get_scale() and state_dict() give torch's numbers bit for bit) and
the growth tracker an int; update() runs torch's _amp_update_scale_ formulas (the products
computed in double and rounded to float32; growth that would reach float32's inf is dropped).

Gradients are checked and unscaled in place where they live, with the kernel table of their
storage (gradcore.devices.KERNELS), never copied to the host: per gradient g, in torch's order
(check the scaled values, then multiply by inv_scale = float32(1 / scale)):

* `s = sum_of_squares(g)`: finite means every element is finite (a NaN makes s NaN, an inf
  makes it +inf; squares are non-negative, so nothing cancels). NaN means a NaN element
  (overflow alone gives +inf, never NaN). +inf is either an inf element or an overflow of the
  sum: the CPU kernel sums in double, which float32 gradients cannot overflow, but float64
  ones can (|g| > ~1e154), and the CUDA kernel sums in float (|g| > ~1.8e19). Only then,
  `max(abs(g))` (the storage's own unary/reduce kernels) decides: inf iff it is inf.
  So the common cases cost one reduction pass; the rare +inf case one more.
* once an optimizer's gradients have shown an inf/NaN the check is skipped for the rest;
* `scale_(g, inv_scale)`, skipped when inv_scale is 1 (as torch's kernel does).

A numpy gradient that is not C-contiguous (a user-assigned view) is checked and unscaled with
numpy in place. float16 gradients raise ValueError, as in torch (unscaling is for float32
master gradients).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import abc, defaultdict
from enum import Enum
from typing import Any, Dict

import numpy as np

from gradcore import autograd as ag
from gradcore import devices
from gradcore.devices import KERNELS

__all__ = ["GradScaler", "OptState"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state() -> Dict[str, Any]:
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _f32(x: float) -> float:
    """`x` rounded to float32 (inf past float32's range), as a Python float."""
    with np.errstate(over="ignore"):
        return float(np.float32(x))


def _has_inf_or_nan(g) -> bool:
    """Whether storage `g` holds an inf or NaN, computed on its device (module docstring)."""
    if g.size == 0:
        return False
    if isinstance(g, np.ndarray) and not g.flags.c_contiguous:
        return not bool(np.isfinite(g).all())
    s = float(KERNELS[g.__class__].sum_of_squares(g))
    if math.isfinite(s):
        return False
    if math.isnan(s):
        return True
    m = abs(g).max()  # +inf: an inf element, or only the sum overflowed
    return math.isinf(float(m.item()))


def _unscale_(g, inv_scale: float) -> None:
    if inv_scale == 1.0 or g.size == 0:
        return
    if isinstance(g, np.ndarray) and not g.flags.c_contiguous:
        with np.errstate(over="ignore", invalid="ignore"):
            np.multiply(g, g.dtype.type(inv_scale), out=g)
        return
    KERNELS[g.__class__].scale_(g, inv_scale)


class GradScaler:
    """Dynamic loss scaling (torch.amp.GradScaler). `scale(loss)` multiplies by the scale;
    `step(optimizer)` unscales the optimizer's gradients in place (unless `unscale_` already
    did) and skips `optimizer.step()` when one of them holds an inf/NaN; `update()` multiplies
    the scale by `backoff_factor` after a skipped step, by `growth_factor` after
    `growth_interval` consecutive good steps. `enabled=False` makes every method a no-op
    (`scale` returns its argument, `step` just calls `optimizer.step`).

    device: the device type the scaled values live on ("cpu" by default; torch's default is
    "cuda"); for "cuda" without a usable GPU the scaler warns and disables itself, as torch's.
    """

    def __init__(
        self,
        device: str = "cpu",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        dev = devices.device(device)  # ValueError for an unknown device type
        _check_real("init_scale", init_scale)
        if not init_scale > 0 or not math.isfinite(init_scale):
            raise ValueError(f"GradScaler: init_scale must be finite and > 0, got {init_scale}")
        _check_real("growth_factor", growth_factor)
        if not growth_factor > 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1.0, got {growth_factor}")
        _check_real("backoff_factor", backoff_factor)
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval, numbers.Integral):
            raise ValueError(f"GradScaler: growth_interval must be an int, got {growth_interval!r}")
        if growth_interval < 1:
            raise ValueError(f"GradScaler: growth_interval must be >= 1, got {growth_interval}")
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and dev.type == "cuda":
            from gradcore import cuda

            if not cuda.is_available():
                warnings.warn(
                    "gradcore.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                    stacklevel=2,
                )
                self._enabled = False
        self._init_scale = float(init_scale)
        self._scale: float | None = None  # float32 value; set by the first scale()
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._growth_tracker: int | None = None
        self._per_optimizer_states: Dict[int, Dict[str, Any]] = defaultdict(
            _refresh_per_optimizer_state
        )

    def _check_scale_growth_tracker(self, funcname: str) -> None:
        if self._scale is None:
            raise AssertionError(
                f"Attempted {funcname} but _scale is None.  This may indicate your script "
                "did not use scaler.scale(loss or outputs) earlier in the iteration."
            )

    def _lazy_init(self) -> float:
        if self._scale is None:
            self._scale = _f32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
        return self._scale

    def scale(self, outputs: Any) -> Any:
        """`outputs` (a Tensor, or a list/tuple/iterable of them, nested) times the scale;
        a list or tuple gives the same type, another iterable a lazy `map`. Returned as
        given when disabled."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, ag.Tensor):
            return outputs * self._lazy_init()

        def apply_scale(val):
            if isinstance(val, ag.Tensor):
                return val * self._lazy_init()
            if isinstance(val, abc.Iterable) and not isinstance(val, (str, bytes)):
                iterable = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(iterable)
                return iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer: Any, inv_scale: float) -> Dict[Any, bool]:
        """Check and unscale every gradient of `optimizer`; {device: found inf/NaN} over the
        devices that hold a gradient (empty when none has one)."""
        found: Dict[Any, bool] = {}
        for group in optimizer.param_groups:
            for param in group["params"]:
                grad = getattr(param, "grad", None)
                if grad is None:
                    continue
                g = getattr(grad, "_data", grad)  # a Tensor's storage, or a bare array
                if g.dtype == np.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                dev = devices.device_of(g)
                bad = found.get(dev, False)
                if not bad:
                    bad = _has_inf_or_nan(g)
                found[dev] = bad
                _unscale_(g, inv_scale)
        return found

    def unscale_(self, optimizer: Any) -> None:
        """Divide the gradients of `optimizer`'s parameters by the scale, in place, and note
        whether any holds an inf/NaN. Optional (`step` does it); call it once per optimizer
        per iteration, before `step`, to work on unscaled gradients (clipping): a second call
        before `update()` raises RuntimeError."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = _f32(1.0 / self._scale)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """`unscale_(optimizer)` unless done, then `optimizer.step(*args, **kwargs)` unless a
        gradient held an inf/NaN; returns what that step returned, or None when skipped. A
        `closure=` keyword raises RuntimeError (as in torch)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = None
        if not any(state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale: Any = None) -> None:
        """End of iteration: with `new_scale` (a number, or a 1-element Tensor) set the scale
        to it (float32-rounded; the growth tracker is kept). Otherwise, if any optimizer found
        an inf/NaN since the last update, scale *= backoff_factor and the tracker is reset;
        else the tracker counts one more good step and, on reaching growth_interval, is reset
        and scale *= growth_factor (unless that is inf in float32)."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, ag.Tensor):
                if new_scale.numel() != 1 or new_scale.requires_grad:
                    raise ValueError(
                        "update: new_scale should be a float or a 1-element Tensor with "
                        "requires_grad=False"
                    )
                new_scale = new_scale.item()
            elif isinstance(new_scale, bool) or not isinstance(new_scale, numbers.Real):
                raise TypeError(
                    f"update: new_scale should be a float or a 1-element Tensor, got "
                    f"{type(new_scale).__name__}"
                )
            self._scale = _f32(float(new_scale))
        else:
            found = [
                bad
                for state in self._per_optimizer_states.values()
                for bad in state["found_inf_per_device"].values()
            ]
            if len(found) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(found):  # torch's _amp_update_scale_
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    grown = _f32(self._scale * self._growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def get_scale(self) -> float:
        """The current scale (init_scale before the first `scale()`), or 1.0 when disabled."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> Dict[str, Any]:
        """{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}
        (torch's keys and values); {} when disabled. Take it after `update()`."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._get_growth_tracker(),
        }

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore a `state_dict()` (a no-op when disabled; an empty dict raises)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved "
                "from a disabled instance of GradScaler."
            )
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = _f32(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError(
                    "A GradScaler instance may only be pickled at the beginning "
                    "of an iteration, or at the end after scaler.update()."
                )
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)


def _check_real(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"GradScaler: {name} must be a real number, got {value!r}")
