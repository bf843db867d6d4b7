"""State dicts as safetensors files (Hugging Face's format), for weights that move by name
between gradcore, PyTorch and the Hugging Face hub.

    gradcore.save_safetensors(model.state_dict(), "model.safetensors")
    model.load_state_dict(gradcore.load_safetensors("model.safetensors"))

The PyTorch way: ``torch.save`` stays its own (pickle) format and safetensors files go through
the `safetensors` package's functions (``safetensors.torch.save_file`` / ``load_file``); here
`gradcore.save` / `gradcore.load` stay the npz format (which also holds whole checkpoints) and
these two functions wrap ``safetensors.numpy``. A file written here loads in PyTorch with
``safetensors.torch.load_file(path)`` into ``torch_model.load_state_dict``, and a file written
by PyTorch (or downloaded from the hub) loads here, as long as the names and shapes match
the gradcore model's (gradcore's modules use PyTorch's parameter names).

A safetensors file is one flat mapping name -> array (header JSON + raw little-endian data,
no code), so only flat state dicts of arrays can be stored: nested dicts, optimizer states and
non-array values raise TypeError naming the key (use `gradcore.save` for checkpoints).
Needs the `safetensors` package: ``pip install gradcore[safetensors]``.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

__all__ = ["load_safetensors", "save_safetensors"]

PathLike = Union[str, "os.PathLike[str]"]


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy as stn
    except ImportError:
        raise ImportError(
            "safetensors files need the safetensors package, which is not installed: "
            "pip install safetensors (or pip install gradcore[safetensors])"
        ) from None
    return stn


def _as_array(key: str, value: Any) -> np.ndarray:
    from gradcore.tensor import Tensor

    if isinstance(value, Tensor):
        value = value.numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"save_safetensors: entry {key!r} is a {type(value).__name__}, not a Tensor or "
            "array; safetensors holds a flat name -> array mapping (use gradcore.save for "
            "checkpoints and nested objects)"
        )
    return np.require(value, requirements="C")  # (ascontiguousarray would make 0-d 1-d)


def save_safetensors(
    state_dict: Mapping[str, Any], path: PathLike, metadata: Optional[Mapping[str, str]] = None
) -> None:
    """Write a flat state dict (name -> Tensor or numpy array) to a safetensors file.

    `metadata` (str -> str) goes into the header's ``__metadata__``. The write is atomic (a
    temporary file in the same directory, then os.replace), like gradcore.save.
    """
    stn = _safetensors_numpy()
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"save_safetensors: expected a state dict (a mapping), got {type(state_dict).__name__}"
        )
    arrays: Dict[str, np.ndarray] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"save_safetensors: keys must be str, got {key!r}")
        arrays[key] = _as_array(key, value)
    if metadata is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError("save_safetensors: metadata must map str to str")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    os.close(fd)
    try:
        stn.save_file(arrays, tmp, metadata=dict(metadata) if metadata is not None else None)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_safetensors(path: PathLike, *, as_tensors: bool = True) -> Dict[str, Any]:
    """Read a safetensors file into a dict name -> Tensor (or numpy array with
    ``as_tensors=False``), in the file's order. A missing file raises FileNotFoundError; a
    file that is not safetensors raises gradcore.serialization.FileFormatError naming it."""
    from gradcore.serialization import FileFormatError

    stn = _safetensors_numpy()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_safetensors: no such file: {path}")
    try:
        arrays = stn.load_file(path)
    except Exception as e:  # safetensors raises its own SafetensorError for bad files
        raise FileFormatError(f"{path}: not a readable safetensors file ({e})") from None
    if not as_tensors:
        return dict(arrays)
    from gradcore.tensor import Tensor

    return {k: Tensor(np.array(v)) for k, v in arrays.items()}
