"""Build information, thread control and the command line's `info`."""

import json
import os
import subprocess
import sys

import pytest
from subprocess_helpers import child_env, run_python

import gradcore


def test_info_reports_build_and_runtime():
    d = gradcore.info()
    for key in ("version", "compiler", "openmp", "num_threads", "cpu_capability", "cuda_compiled"):
        assert key in d
    assert d["version"] == gradcore.__version__
    assert d["cpu_capability"] in ("generic", "avx2_fma", "avx512")
    assert d["cpu_capability"] in d["cpu_capabilities"]
    assert d["cpu_detected_capability"] in ("generic", "avx2_fma", "avx512")
    assert d["cpu_default_capability"] == d["cpu_capabilities"][-1]  # the best path
    assert d["num_threads"] >= 1
    assert d["cuda_compiled"] == gradcore.cuda.is_built()
    assert d["cuda_available"] == gradcore.cuda.is_available()
    assert ("cuda_device" in d) == d["cuda_available"]
    min_channels = gradcore._C.cpu_path_tuning()["winograd_min_channels"]
    assert d["conv_winograd"] == (f"from {min_channels} channels" if min_channels else "off")
    with gradcore.backends.cpu.flags(winograd=False):
        assert gradcore.info()["conv_winograd"] == ("disabled" if min_channels else "off")


def test_set_num_threads_round_trip():
    before = gradcore.get_num_threads()
    try:
        gradcore.set_num_threads(1)
        assert gradcore.get_num_threads() == 1
        gradcore.set_num_threads(2)
        assert gradcore.get_num_threads() == (2 if gradcore.info()["openmp"] else 1)
    finally:
        gradcore.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -3])
def test_set_num_threads_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="set_num_threads"):
        gradcore.set_num_threads(bad)


def test_set_num_threads_rejects_non_int():
    with pytest.raises(TypeError, match="set_num_threads"):
        gradcore.set_num_threads(2.5)


def test_omp_num_threads_is_respected():
    code = "import gradcore; print(gradcore.get_num_threads())"
    # the child imports the same gradcore as this process (installed, or a PYTHONPATH tree)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(gradcore.__file__)))
    env = {"OMP_NUM_THREADS": "1", "PATH": "", "PYTHONPATH": package_parent}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_cli_info_prints_versions():
    out = subprocess.run(
        [sys.executable, "-m", "gradcore", "info"], capture_output=True, text=True, check=True
    )
    assert "version" in out.stdout and "cpu_capability" in out.stdout and "openmp" in out.stdout


_FAULTS_SCRIPT = """
import resource, numpy as np, gradcore
def step():  # a training step's worth of large arrays, allocated, touched and freed
    arrays = [np.ones(2 << 20, np.float32) for _ in range(12)]  # 12 x 8 MiB
    del arrays
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(gradcore.info()["malloc_tuned"], faults)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_malloc_tuning_reuses_freed_blocks():
    """With the tuning (default), repeated steps reuse the freed blocks instead of faulting
    in fresh pages; GRADCORE_MALLOC_TUNING=0 restores glibc's behaviour."""
    import os

    def run(env_value):
        env = dict(os.environ)
        env.pop("GRADCORE_MALLOC_TUNING", None)
        if env_value is not None:
            env["GRADCORE_MALLOC_TUNING"] = env_value
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS_SCRIPT], capture_output=True, text=True, env=env
        )
        assert out.returncode == 0, out.stderr
        tuned, faults = out.stdout.split()
        return tuned == "True", int(faults)

    tuned, faults = run(None)
    assert tuned and faults < 2000  # 4 steps x 96 MiB would be ~100k faults of 4 KiB pages
    untuned, faults_off = run("0")
    assert not untuned and faults_off > 20 * max(faults, 100)


# ---- OpenMP wait policy (issue 16 item 7; README: "Sharing a machine") --------------------

WAIT_ENV = (
    "import json, os, gradcore; from gradcore import _wait_policy as w; "
    "print(json.dumps([{v: os.environ.get(v) for v in w.USER_VARIABLES}, "
    "gradcore.info()['omp_wait_policy'], w.DEFAULT_SPINCOUNT]))"
)


def _wait_env(**env):
    p = run_python(
        WAIT_ENV, env=child_env(**{"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None, **env})
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_wait_policy_default_is_set_before_openmp_starts():
    env, described, default = _wait_env()
    assert env == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": default}
    assert described == f"GOMP_SPINCOUNT={default} (gradcore default)"


@pytest.mark.parametrize(
    "user",
    [{"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "123"}, {"OMP_WAIT_POLICY": "passive"}],
)
def test_wait_policy_of_the_user_is_respected(user):
    env, described, _ = _wait_env(**user)
    assert env == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None, **user}
    assert described.endswith("(user)") and all(v in described for v in user.values())


def test_apply_default_wait_policy_only_without_a_user_choice():
    from gradcore import _wait_policy as w

    env = {}
    assert w.apply_default_wait_policy(env) == {"GOMP_SPINCOUNT": w.DEFAULT_SPINCOUNT}
    assert env == {"GOMP_SPINCOUNT": w.DEFAULT_SPINCOUNT}
    for user in ({"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "0"}):
        env = dict(user)
        assert w.apply_default_wait_policy(env) == {} and env == user


# CPU time the process burns while idle between parallel regions, as a fraction of the idle
# time: OpenMP workers that spin instead of sleeping take cores other jobs need.
IDLE_SPIN = r"""
import resource, time
import numpy as np
import gradcore
gradcore.set_num_threads(2)
a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
gradcore.matmul(a, a)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
idle = 0.0
for _ in range(20):
    gradcore.matmul(a, a)
    c0 = cpu()
    time.sleep(0.01)
    idle += cpu() - c0
print(idle / 0.2)
"""


def _idle_spin_fraction(**env) -> float:
    unset = {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None}
    p = run_python(IDLE_SPIN, env=child_env(OMP_NUM_THREADS="2", **{**unset, **env}))
    assert p.returncode == 0, p.stderr
    return float(p.stdout)


def test_idle_threads_sleep_by_default():
    """With libgomp's own default the workers spun ~4 ms after every region (~40% of a 10 ms
    pause on an idle machine); gradcore's default lets them sleep after tens of microseconds
    (~3%). Compared with libgomp's default in the same test, so that load from other
    processes (which stretches both) does not decide the outcome. A user's
    OMP_WAIT_POLICY=active still spins (the runtime reads what the user set)."""
    default = _idle_spin_fraction()
    libgomp_default = _idle_spin_fraction(GOMP_SPINCOUNT="300000")
    assert default < libgomp_default / 2, (
        f"idle OpenMP threads burn {default:.0%} of the idle time "
        f"(libgomp's default: {libgomp_default:.0%})"
    )
    active = _idle_spin_fraction(OMP_WAIT_POLICY="active")
    assert active > default, (active, default)
