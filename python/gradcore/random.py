"""The global random generator: one numpy Generator used by randn/rand, nn.init and the
seeds drawn for dropout, so `gradcore.manual_seed(s)` makes a whole run reproducible."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

__all__ = ["manual_seed", "seed", "get_rng_state", "set_rng_state", "default_generator"]

_generator = np.random.default_rng(0)


def default_generator() -> np.random.Generator:
    """The global generator (a numpy Generator)."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (PCG64) and return it."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def seed() -> int:
    """Seed the global generator from OS entropy; returns the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def get_rng_state() -> Any:
    """A copy of the global generator's state (a dict; picklable, savable with gradcore.save)."""
    return copy.deepcopy(_generator.bit_generator.state)


def set_rng_state(state: Any) -> None:
    """Restore a state returned by get_rng_state()."""
    bg = _generator.bit_generator
    if not isinstance(state, dict) or state.get("bit_generator") != type(bg).__name__:
        raise ValueError(
            f"set_rng_state: expected a state dict of a {type(bg).__name__} generator "
            "(from gradcore.get_rng_state())"
        )
    bg.state = copy.deepcopy(state)


def draw_seed() -> int:
    """A 63-bit seed drawn from the global generator (for native counter-based RNGs)."""
    return int(_generator.integers(0, 2**63 - 1))
