"""Optional progress bars: tqdm when it is installed and stderr is a terminal, else nothing."""

from __future__ import annotations

import sys
from typing import Any, Iterable, Optional


def progress_bar(
    iterable: Optional[Iterable[Any]] = None,
    total: Optional[float] = None,
    desc: str = "",
    unit: str = "it",
    enabled: Optional[bool] = None,
    **kwargs: Any,
) -> Any:
    """A tqdm bar over `iterable` (or a manual one with ``update(n)``), or None when disabled.

    `enabled` None means: when tqdm is installed and stderr is a terminal; True without tqdm
    is no bar either (tqdm is an optional extra: ``pip install gradcore[progress]``).
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, **kwargs)
