"""Training checkpoints: save_checkpoint / load_checkpoint / resume.

A checkpoint is one gradcore file (see gradcore.serialization) holding the model, optimizer and
scheduler state dicts, the number of epochs done, the global RNG state, the train loader's state
and the history so far; `resume` restores all of it, so an interrupted run continues bit-exactly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from gradcore.train.history import History

if TYPE_CHECKING:
    from gradcore.train.callbacks import Callback

CHECKPOINT_KIND = "gradcore-checkpoint"


class CheckpointMismatchError(ValueError):
    """A readable checkpoint that does not fit what it is resumed into (another model,
    optimizer or scheduler than the one that wrote it). The message names the file and part."""


def copy_state(sd: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """A deep copy of a state dict as numpy arrays (Tensors read through `.numpy()`)."""
    return {k: np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True) for k, v in sd.items()}


def _loader_state(loader: Any) -> Optional[Dict[str, Any]]:
    if loader is not None and hasattr(loader, "state_dict"):
        return dict(loader.state_dict())
    return None


def save_checkpoint(
    path: Union[str, os.PathLike],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    loader: Any = None,
    history: Optional[History] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write a full training checkpoint atomically (`epoch` = number of epochs completed)."""
    import gradcore
    from gradcore.serialization import save

    ckpt: Dict[str, Any] = {
        "kind": CHECKPOINT_KIND,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": gradcore.get_rng_state(),
        "loader": _loader_state(loader),
        "history": history.rows if history is not None else [],
    }
    if extra:
        ckpt["extra"] = dict(extra)
    save(ckpt, path)


def load_checkpoint(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` / ModelCheckpoint (validated).

    Raises FileNotFoundError for a missing file and gradcore.serialization.FileFormatError
    (a ValueError) naming the file for anything that is not a well-formed training checkpoint.
    """
    from gradcore.serialization import FileFormatError, load

    ckpt = load(path)
    name = os.fspath(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise FileFormatError(
            f"{name} is a gradcore file but not a training checkpoint (use "
            "gradcore.load for plain state dicts)"
        )
    epoch = ckpt.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise FileFormatError(f"{name} is corrupt: its 'epoch' is {epoch!r}, not a count >= 0")
    if not isinstance(ckpt.get("model"), dict):
        raise FileFormatError(f"{name} is corrupt: it holds no model state dict")
    for part in ("optimizer", "scheduler", "loader", "extra"):
        if ckpt.get(part) is not None and not isinstance(ckpt[part], dict):
            raise FileFormatError(
                f"{name} is corrupt: its {part!r} entry is a {type(ckpt[part]).__name__}, "
                "not a state dict"
            )
    if not isinstance(ckpt.get("history") or [], list):
        raise FileFormatError(f"{name} is corrupt: its 'history' is not a list of rows")
    return ckpt


def _restore(path: Union[str, os.PathLike], part: str, target: Any, state: Any) -> None:
    """target.load_state_dict(state), its errors raised as CheckpointMismatchError."""
    try:
        target.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        detail = " ".join(str(e).split())  # one line: load_state_dict lists problems on lines
        raise CheckpointMismatchError(
            f"{os.fspath(path)} does not fit this {part} ({type(target).__name__}): {detail}"
        ) from None


def resume(
    path: Union[str, os.PathLike],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    loader: Any = None,
    callbacks: Sequence[Callback] = (),
) -> Dict[str, Any]:
    """Restore model, optimizer, scheduler, global RNG and loader state from a checkpoint.

    Returns ``{"epoch": epochs done (the start_epoch to continue from), "history": History}``.
    Raises FileFormatError for an unreadable or malformed checkpoint and CheckpointMismatchError
    (both ValueErrors naming the file) when it does not fit the model, optimizer or scheduler.
    """
    import gradcore

    ckpt = load_checkpoint(path)
    _restore(path, "model", model, ckpt["model"])
    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            raise CheckpointMismatchError(f"resume: {os.fspath(path)} holds no optimizer state")
        _restore(path, "optimizer", optimizer, ckpt["optimizer"])
    if scheduler is not None:
        if ckpt.get("scheduler") is None:
            raise CheckpointMismatchError(f"resume: {os.fspath(path)} holds no scheduler state")
        _restore(path, "scheduler", scheduler, ckpt["scheduler"])
    if ckpt.get("rng") is not None:
        try:
            gradcore.set_rng_state(ckpt["rng"])
        except (KeyError, TypeError, ValueError) as e:
            from gradcore.serialization import FileFormatError

            raise FileFormatError(
                f"{os.fspath(path)} is corrupt: its RNG state cannot be restored ({e})"
            ) from None
    if loader is not None and ckpt.get("loader") is not None and hasattr(loader, "load_state_dict"):
        _restore(path, "data loader", loader, ckpt["loader"])
    cb_states = (ckpt.get("extra") or {}).get("callbacks") or {}
    for i, cb in enumerate(callbacks):
        key = f"{i}:{type(cb).__name__}"
        if key in cb_states and hasattr(cb, "load_state_dict"):
            _restore(path, "callback", cb, cb_states[key])
    return {"epoch": int(ckpt["epoch"]), "history": History(ckpt.get("history") or [])}
