"""Data-parallel setup of a training run over MPI (what `gradcore train` does under mpiexec)."""

from __future__ import annotations

import os
import sys
from typing import Optional

from gradcore import distributed as dist

__all__ = ["start_data_parallel"]


def start_data_parallel(
    global_batch: int, threads: Optional[int], force: bool = False
) -> tuple[int, int, Optional[int]]:
    """(world size, rank, threads per rank). Joins MPI when a launcher started this process
    (or `force`); else returns (1, 0, threads). `global_batch` must split evenly over the
    ranks (ValueError otherwise). Threads default to cores / ranks on this machine unless
    given or OMP_NUM_THREADS is set. Ranks other than 0 print nothing: their stdout goes to
    /dev/null for the rest of the process."""
    if not (force or dist.launched_by_mpi()):
        return 1, 0, threads
    dist.init(use_mpi=True)
    world, rank = dist.get_world_size(), dist.get_rank()
    if global_batch % world:
        raise ValueError(
            f"--batch-size {global_batch} (the global batch) must be a multiple of the number "
            f"of ranks ({world})"
        )
    if threads is None and not os.environ.get("OMP_NUM_THREADS"):
        threads = max(1, (os.cpu_count() or 1) // dist.get_local_world_size())
    if rank != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    return world, rank, threads
