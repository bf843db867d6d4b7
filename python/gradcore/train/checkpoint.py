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
    """Read a checkpoint written by `save_checkpoint` / ModelCheckpoint (validated)."""
    from gradcore.serialization import load

    ckpt = load(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise ValueError(
            f"{os.fspath(path)} is a gradcore file but not a training checkpoint (use "
            "gradcore.load for plain state dicts)"
        )
    return ckpt


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
    """
    import gradcore

    ckpt = load_checkpoint(path)
    model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            raise ValueError(f"resume: {os.fspath(path)} holds no optimizer state")
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        if ckpt.get("scheduler") is None:
            raise ValueError(f"resume: {os.fspath(path)} holds no scheduler state")
        scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt.get("rng") is not None:
        gradcore.set_rng_state(ckpt["rng"])
    if loader is not None and ckpt.get("loader") is not None and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(ckpt["loader"])
    cb_states = (ckpt.get("extra") or {}).get("callbacks") or {}
    for i, cb in enumerate(callbacks):
        key = f"{i}:{type(cb).__name__}"
        if key in cb_states and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(cb_states[key])
    return {"epoch": int(ckpt["epoch"]), "history": History(ckpt.get("history") or [])}
