"""Module and Parameter, with PyTorch's semantics (the containers are in containers.py):
parameters/buffers/children registered by attribute assignment, train/eval, state_dict keys
like PyTorch's ("0.weight", "layer1.0.bn1.running_mean") so weights move through numpy."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

import numpy as np

from gradcore import _C, devices
from gradcore import profiler as _profiler
from gradcore.tensor import Tensor, check_device
from gradcore.versions import bump

__all__ = ["Parameter", "Module"]


def param_dtype(dtype) -> np.dtype:
    """The dtype of a layer's parameters: `dtype`, float32 when None."""
    return np.dtype(np.float32 if dtype is None else dtype)


class Parameter(Tensor):
    """A Tensor that is a module parameter (requires_grad=True by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        arr = data._data if isinstance(data, Tensor) else np.asarray(data)
        if arr.dtype.kind not in "f" and requires_grad:
            raise TypeError(
                f"Parameter: only floating point data can require grad, got {arr.dtype}"
            )
        self._data = arr
        self.grad = None
        self.grad_fn = None
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models. Subclasses set attributes in __init__ (Parameters,
    Modules, Tensors via register_buffer) and define forward()."""

    training: bool

    def __init__(self, *args, **kwargs):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        prof = _profiler._active
        if prof is None:
            return self.forward(*args, **kwargs)
        start = _C.profiler_now_ns()  # a span "nn.Conv2d" around the module's ops
        try:
            return self.forward(*args, **kwargs)
        finally:
            prof._add_python_span(f"nn.{type(self).__name__}", start, _C.profiler_now_ns())

    # --------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if params is None:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(
                    f"cannot assign '{name}' before Module.__init__() call "
                    f"(call super().__init__() first in {type(self).__name__}.__init__)"
                )
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Parameter):
            self._discard(name)
            params[name] = value
        elif isinstance(value, Module):
            self._discard(name)
            d["_modules"][name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(gradcore.nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}'")
            d["_modules"][name] = None
        elif name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(gradcore.Tensor or None expected)"
                )
            d["_buffers"][name] = value
        d[name] = value  # plain attribute lookup finds it without __getattr__

    def _discard(self, name: str) -> None:
        d = self.__dict__
        for k in ("_parameters", "_modules", "_buffers"):
            d[k].pop(name, None)
        d["_non_persistent"].discard(name)

    def __delattr__(self, name: str) -> None:
        if (
            name in self.__dict__.get("_parameters", ())
            or name in self.__dict__.get("_modules", ())
            or name in self.__dict__.get("_buffers", ())
        ):
            self._discard(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        if "." in name or name == "":
            raise KeyError(f"parameter name can't contain '.' or be empty: {name!r}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}'")
        self._discard(name)
        self._parameters[name] = param
        self.__dict__[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        if "." in name or name == "":
            raise KeyError(f"buffer name can't contain '.' or be empty: {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}'")
        self._discard(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        self.__dict__[name] = tensor

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if "." in name or name == "":
            raise KeyError(f"module name can't contain '.' or be empty: {name!r}")
        self._discard(name)
        self._modules[name] = module
        self.__dict__[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule `{item}`")
            mod = mod._modules[item]
        return mod

    # -------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, attr: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for k, v in getattr(m, attr).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mp + ("." if mp else "") + k, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], None]) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._data[...] = 0

    # ------------------------------------------------------- device / dtype
    def to(self, *args, **kwargs) -> Module:
        """`to(device)`, `to(dtype)`, `to(device, dtype)`: parameters and buffers (and their
        gradients) are moved and floating ones converted in place (the Parameter objects stay
        the same, so an optimizer built before keeps them)."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        for a in args:
            if isinstance(a, (str, devices.device)):
                device = a
            else:
                dtype = a
        if device is not None:
            check_device(device)
            for t in list(self.parameters()) + list(self.buffers()):
                t._data = devices.move(t._data, device)
                if t.grad is not None:
                    t.grad._data = devices.move(t.grad._data, device)
        if dtype is not None:
            dt = np.dtype(dtype)
            if dt.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dt}")
            for t in list(self.parameters()) + list(self.buffers()):
                if t._data.dtype.kind == "f" and t._data.dtype != dt:
                    t._data = t._data.astype(dt)
                    if t.grad is not None:
                        t.grad._data = t.grad._data.astype(dt)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Move parameters and buffers to the current CUDA device (or cuda:`device`)."""
        return self.to("cuda" if device is None else devices.device("cuda", device))

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ------------------------------------------------------------ state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """OrderedDict name -> Tensor (sharing storage) of parameters and persistent buffers,
        with PyTorch's keys."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values (Tensors or numpy arrays) into parameters and buffers, in place.

        Shape mismatches always raise; with strict=True missing and unexpected keys raise too.
        The RuntimeError lists every problem. Returns (missing_keys, unexpected_keys)."""
        if not hasattr(state_dict, "items"):
            raise TypeError(
                f"Expected state_dict to be dict-like, got {type(state_dict).__name__}."
            )
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        pending = []
        for k, dst in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v._data if isinstance(v, Tensor) else _to_numpy(v)
            if arr is None or arr.dtype.kind not in "fiub":
                errors.append(
                    f'While copying the parameter named "{k}", expected a numeric array or '
                    f"Tensor, got {type(v).__name__}"
                    + (f" of dtype {arr.dtype}" if arr is not None else "")
                    + "."
                )
                continue
            if arr.shape != dst._data.shape:
                errors.append(
                    f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} from "
                    f"checkpoint, the shape in current model is {tuple(dst._data.shape)}."
                )
                continue
            if dst._data.dtype.kind in "iu" and arr.dtype.kind == "f":
                errors.append(
                    f'While copying the parameter named "{k}": cannot copy floating point values '
                    f"(dtype {arr.dtype}) into an integer buffer (dtype {dst._data.dtype})."
                )
                continue
            pending.append((dst, arr))
        if strict:
            if unexpected:
                errors.insert(
                    0,
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ".",
                )
            if missing:
                errors.insert(
                    0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
                )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        for dst, arr in pending:
            np.copyto(dst._data, arr, casting="unsafe")
            bump(dst._data)
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            r = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {r}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        return sorted(set(super().__dir__()))


def _to_numpy(v):
    try:
        return np.asarray(v)
    except Exception:  # noqa: BLE001
        return None
