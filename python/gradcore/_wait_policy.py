"""How gradcore's OpenMP threads wait between parallel regions (README: "Sharing a machine").

libgomp's default is to spin for about 300,000 iterations (a few milliseconds) before a thread
that has nothing to do goes to sleep. Alone on its cores that costs nothing, but next to
another busy process (a second training job, MPI ranks, DataLoader workers) the spinning
threads take the cores the other process needs, and both slow down many times over. gradcore
therefore sets a short spin, GOMP_SPINCOUNT=DEFAULT_SPINCOUNT (about 0.05 ms), before its
OpenMP runtime starts: back-to-back kernels still find their threads awake, and an idle
thread yields its core soon after.

The user's own choice always wins: when OMP_WAIT_POLICY or GOMP_SPINCOUNT is set in the
environment, gradcore sets nothing. Importing this module applies the default (gradcore's
__init__ imports it before anything that loads gradcore._C). The setting takes effect only
if gradcore is the first to load libgomp (the runtime reads its environment once, when it
is loaded).
"""

from __future__ import annotations

import os
from typing import MutableMapping

# Spin iterations before an idle OpenMP thread sleeps (libgomp's default: 300000).
DEFAULT_SPINCOUNT = "3000"
# Variables through which a user chooses the policy; if any is set, gradcore sets nothing.
USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def apply_default_wait_policy(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set gradcore's default wait policy in `environ` unless the user has chosen one.

    Returns the variables it set ({} when OMP_WAIT_POLICY or GOMP_SPINCOUNT was already set).
    Must run before gradcore._C (and with it libgomp) is loaded.
    """
    if any(name in environ for name in USER_VARIABLES):
        return {}
    environ["GOMP_SPINCOUNT"] = DEFAULT_SPINCOUNT
    return {"GOMP_SPINCOUNT": DEFAULT_SPINCOUNT}


def describe_wait_policy(
    applied: dict[str, str], environ: MutableMapping[str, str] = os.environ
) -> str:
    """The wait policy in force, for gradcore.info(): the variables and who set them."""
    values = [f"{name}={environ[name]}" for name in USER_VARIABLES if name in environ]
    if not values:
        return "libgomp default"
    return " ".join(values) + (" (gradcore default)" if applied else " (user)")


# What gradcore set when it was imported ({} when the user had chosen).
APPLIED: dict[str, str] = apply_default_wait_policy()
