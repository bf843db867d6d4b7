"""Optimizer base class: parameter groups, per-parameter state, state_dict (PyTorch's layout).

Each concrete optimizer implements `_step_group(group)`, which calls one fused native kernel
(`gradcore._C.<name>_step_`) per parameter that has a gradient; the kernels update the parameter
and its state arrays in place.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Iterable, Iterator, List, MutableMapping, Optional, Tuple

import numpy as np

from gradcore.profiler import record_function
from gradcore.versions import bump


class _RequiredParameter:
    """Marks a default that has no value and must be given (like torch.optim.optimizer.required)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

# options added after the first state dicts were written: a loaded group without one gets the
# optimizer's default (as torch's __setstate__ does); every other option must be present
_LATER_OPTIONS = ("maximize", "decoupled_weight_decay")


def _array(t: Any) -> np.ndarray:
    """The storage of a Tensor (shared; a numpy array or device storage) or an ndarray
    itself."""
    return t if isinstance(t, np.ndarray) else t._data


def _grad_array(p: Any, param_arr: np.ndarray) -> np.ndarray:
    """The gradient of `p`: C-contiguous, of the parameter's dtype (copied only if needed)."""
    g = _array(p.grad)
    if g.dtype != param_arr.dtype or not g.flags.c_contiguous:
        g = np.ascontiguousarray(g, dtype=param_arr.dtype)
    if g.shape != param_arr.shape:
        raise ValueError(
            f"optimizer step: gradient shape {g.shape} does not match parameter shape "
            f"{param_arr.shape}"
        )
    return g


class ParamState(MutableMapping):
    """``state[param] -> dict``, keyed by parameter identity (Tensors need not be hashable).

    A missing parameter reads as a new empty dict (like ``defaultdict(dict)``).
    """

    def __init__(self) -> None:
        self._d: Dict[int, Tuple[Any, Dict[str, Any]]] = {}

    def __getitem__(self, p: Any) -> Dict[str, Any]:
        entry = self._d.get(id(p))
        if entry is None:
            entry = (p, {})
            self._d[id(p)] = entry
        return entry[1]

    def __setitem__(self, p: Any, value: Dict[str, Any]) -> None:
        self._d[id(p)] = (p, value)

    def __delitem__(self, p: Any) -> None:
        del self._d[id(p)]

    def __contains__(self, p: object) -> bool:
        return id(p) in self._d

    def __iter__(self) -> Iterator[Any]:
        return (p for p, _ in list(self._d.values()))

    def __len__(self) -> int:
        return len(self._d)

    def items(self):  # type: ignore[override]
        return [(p, s) for p, s in self._d.values()]

    def values(self):  # type: ignore[override]
        return [s for _, s in self._d.values()]

    def __repr__(self) -> str:
        return f"ParamState({len(self)} parameters)"


class Optimizer:
    """Base class of all optimizers (PyTorch's semantics).

    params: an iterable of parameters (Tensors with requires_grad) or of dicts, each a parameter
    group: ``{"params": [...], "lr": ..., ...}``; options missing from a group come from
    `defaults`. State per parameter is in ``self.state[param]`` (a dict of numpy arrays and
    numbers).
    """

    def __init__(self, params: Iterable[Any], defaults: Dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state = ParamState()
        self.param_groups: List[Dict[str, Any]] = []
        if isinstance(params, np.ndarray) or hasattr(params, "numpy"):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones from `defaults`)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, np.ndarray) or hasattr(params, "numpy"):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections")
        else:
            params = list(params)
        for p in params:
            if not hasattr(p, "numpy") or not hasattr(p, "grad"):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not getattr(p, "requires_grad", True):
                raise ValueError("optimizer can only optimize Tensors that require grad")
        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer parameter group contains a parameter twice")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self._validate_group(group)
        self.param_groups.append(group)

    def _validate_group(self, group: Dict[str, Any]) -> None:
        """Check a group's options (subclasses raise ValueError for bad values)."""

    # ------------------------------------------------------------------ steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    _array(p.grad)[...] = 0

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient; returns closure() when one is given."""
        loss = None
        if closure is not None:
            from gradcore.autograd import enable_grad

            with enable_grad():
                loss = closure()
        with record_function(f"{type(self).__name__}.step"):
            # options may have been edited since (schedulers, user code): check every group
            # before touching any parameter, so a bad value leaves the state as it was
            for group in self.param_groups:
                self._validate_group(group)
            for group in self.param_groups:
                self._step_group(group)
                # the fused kernels wrote the parameters in place: a new version, as in
                # PyTorch, so a graph that saved a parameter before the step cannot use it
                for p in group["params"]:
                    if p.grad is not None:
                        bump(p._data)
        return loss

    def _step_group(self, group: Dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------- state dict
    def state_dict(self) -> Dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered in the order they appear over the groups, as in PyTorch; the
        state arrays are copies.
        """
        index: Dict[int, int] = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(group["params"])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and len(self.state[p]) > 0:
                    state[index[id(p)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore options and state saved by `state_dict` (checks group and parameter counts)."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError(
                "load_state_dict: expected a dict with 'state' and 'param_groups' "
                f"(an optimizer's state_dict()), got {type(state_dict).__name__}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"load_state_dict: loaded state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(sg, dict) or "params" not in sg:
                raise ValueError(
                    f"load_state_dict: parameter group {i} of the loaded state dict is not a "
                    "dict with 'params'"
                )
            missing = [k for k in self.defaults if k not in sg and k not in _LATER_OPTIONS]
            if missing:
                raise ValueError(
                    f"load_state_dict: parameter group {i} of the loaded state dict has no "
                    f"{', '.join(repr(k) for k in missing)} (saved by another optimizer than "
                    f"{type(self).__name__}?)"
                )
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(
                    f"load_state_dict: parameter group {i} has {len(g['params'])} parameters "
                    f"but the loaded one has {len(sg['params'])}"
                )
        id_map = {}
        for g, sg in zip(self.param_groups, saved_groups):
            for p, idx in zip(g["params"], sg["params"]):
                id_map[int(idx)] = p
        new_state = ParamState()
        for key, value in state_dict.get("state", {}).items():
            idx = int(key)
            if idx not in id_map:
                raise ValueError(f"load_state_dict: state for unknown parameter index {idx}")
            p = id_map[idx]
            parr = _array(p)
            entry = {}
            for k, v in value.items():
                if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
                    v = v.numpy()
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    if v.shape != parr.shape:
                        raise ValueError(
                            f"load_state_dict: state '{k}' of parameter {idx} has shape "
                            f"{v.shape}, the parameter has {parr.shape}"
                        )
                    v = np.array(v, dtype=parr.dtype, order="C", copy=True)
                elif isinstance(v, np.ndarray):
                    v = v.item()
                entry[k] = v
            new_state[p] = entry
        new_groups = []
        for g, sg in zip(self.param_groups, saved_groups):
            ng = {k: copy.deepcopy(v) for k, v in sg.items() if k != "params"}
            for k in _LATER_OPTIONS:  # state dicts from before an option existed: its default
                if k in self.defaults and k not in ng:
                    ng[k] = copy.deepcopy(self.defaults[k])
            if "betas" in ng and isinstance(ng["betas"], list):
                ng["betas"] = tuple(ng["betas"])
            ng["params"] = g["params"]
            self._validate_group(ng)
            new_groups.append(ng)
        self.param_groups = new_groups
        self.state = new_state
