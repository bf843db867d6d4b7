"""bench/common.py's timing helpers (the benchmarks' ratios depend on them)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from common import interleaved, interleaved_samples, paired_ratio  # noqa: E402


def test_paired_ratio_is_the_median_of_per_round_ratios():
    # Round 2 ran under a burst of load that slowed both libraries alike: the paired ratio
    # still says exactly 2x; the ratio of the two medians would not if the burst hit only one.
    samples = {"numpy": [2.0, 2.2, 20.0, 1.8, 2.0], "gradcore": [1.0, 1.1, 10.0, 0.9, 1.0]}
    assert paired_ratio(samples, "numpy", "gradcore") == pytest.approx(2.0)
    assert paired_ratio(samples, "gradcore", "numpy") == pytest.approx(0.5)


def test_interleaved_samples_alternates_the_order():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    samples = interleaved_samples(fns, repeat=4, min_time=0.0, settle=0.0)
    assert [len(s) for s in samples.values()] == [4, 4]
    assert all(t >= 0.0 for s in samples.values() for t in s)
    timed = calls[4:]  # after two calibration calls each
    assert timed == ["a", "b", "b", "a", "a", "b", "b", "a"]
    medians = interleaved(fns, repeat=3, min_time=0.0, settle=0.0)
    assert set(medians) == {"a", "b"}


def test_bench_ab_pairs_only_gradcore_times():
    from bench_ab import gradcore_times

    payload = {
        "machine": {"gradcore_s": 9.0},
        "results": [
            {"case": "add", "gradcore_us": 1.5, "torch_us": 2.0},
            {"shape": {"N": 2, "C": 3}, "threads": 1, "forward_s": {"gradcore": 0.1, "torch": 0.2}},
        ],
        "rows": [{"threads": 2, "gradcore_ms": 20.0, "gradcore_images_per_s": 3000.0}],
    }
    assert gradcore_times(payload) == {
        "results[case=add]/gradcore_us": 1.5,
        "results[shape=2x3,threads=1]/forward_s/gradcore": 0.1,
        "rows[threads=2]/gradcore_ms": 20.0,
    }


def test_bench_overhead_ab_times_each_build_in_its_own_worker(tmp_path):
    """Both builds (here the same installed package twice) run in worker processes of their
    own, each reporting the native module it loaded, and every case of bench_overhead gets a
    ratio; a directory without gradcore is refused by name; --cases times another module
    (here at 2 threads a worker)."""
    import json
    import subprocess

    import gradcore

    here = str(Path(gradcore.__file__).resolve().parents[1])
    script = Path(__file__).resolve().parents[1] / "bench" / "bench_overhead_ab.py"
    out = tmp_path / "ab.json"
    args = ["--rounds", "2", "--number", "5", "--json", str(out)]
    subprocess.run(
        [sys.executable, str(script), "--base", here, "--candidate", here, *args],
        check=True,
        capture_output=True,
    )
    payload = json.loads(out.read_text())
    rows = payload["results"]
    assert {r["case"] for r in rows} >= {"add_nograd", "conv2d_grad", "tiny_graph_fwd_bwd"}
    assert all(r["ratio_min"] > 0 and r["candidate_min_us"] > 0 for r in rows)
    assert payload["native"]["base"] == payload["native"]["candidate"] == gradcore._C.__file__
    bad = subprocess.run(
        [sys.executable, str(script), "--base", str(tmp_path), "--candidate", here, *args],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "holds no gradcore package" in bad.stderr
    cases = tmp_path / "my_cases.py"
    cases.write_text(
        "import numpy as np\nimport gradcore\n\n\ndef ab_cases():\n"
        "    x = gradcore.tensor(np.ones(3, np.float32))\n"
        "    return {'neg': lambda: -x}\n"
    )
    subprocess.run(
        [sys.executable, str(script), "--base", here, "--candidate", here, "--cases", str(cases)]
        + ["--threads", "2", *args],
        check=True,
        capture_output=True,
    )
    payload = json.loads(out.read_text())
    assert [r["case"] for r in payload["results"]] == ["neg"] and payload["threads"] == 2
    # a setting for one side only: the same build on two CPU paths; a malformed one is refused
    env = ["--candidate-env", "GRADCORE_CPU_CAPABILITY=generic"]
    subprocess.run(
        [sys.executable, str(script), "--base", here, "--candidate", here, *env, *args],
        check=True,
        capture_output=True,
    )
    payload = json.loads(out.read_text())
    assert payload["env"]["candidate"] == ["GRADCORE_CPU_CAPABILITY=generic"]
    assert payload["machine"]["cpu_capability"] == "generic"  # the candidate's worker reports
    bad = subprocess.run(
        [sys.executable, str(script), "--base", here, "--candidate", here]
        + ["--base-env", "NOVALUE", *args],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--base-env takes NAME=VALUE, got 'NOVALUE'" in bad.stderr


def test_bench_conv_passes_times_both_algorithms(tmp_path):
    """bench_conv_passes on an extra --shape: every pass gets gradcore's time and, for the
    forward and both gradients, the GEMM algorithm's (the Winograd switch off) beside it; a
    shape of the wrong length is refused."""
    import json
    import subprocess

    script = Path(__file__).resolve().parents[1] / "bench" / "bench_conv_passes.py"
    out = tmp_path / "passes.json"
    args = ["--threads", "1", "--repeat", "1", "--json", str(out)]
    subprocess.run(
        [sys.executable, str(script), "--shape", "2,16,8,8,16,3,1,1", *args],
        check=True,
        capture_output=True,
    )
    (row,) = json.loads(out.read_text())["results"]
    assert row["shape"] == [2, 16, 8, 8, 16, 3, 1, 1]
    for ps in ("fwd", "dx", "dw"):
        assert row[f"gradcore_{ps}_ms"] > 0 and row[f"gemm_{ps}_ms"] > 0
        assert row[f"{ps}_gemm_over_default"] > 0
    bad = subprocess.run(
        [sys.executable, str(script), "--shape", "2,16,8,8", *args], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "--shape takes 8 integers" in bad.stderr


@pytest.mark.parametrize(
    "module",
    sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "bench").glob("*_ab_cases.py")),
)
def test_ab_case_sets_run(module):
    """Each bench/*_ab_cases.py set that bench_overhead_ab.py's --cases takes builds its cases,
    and each case runs once."""
    import importlib

    cases = importlib.import_module(module).ab_cases()
    assert cases and all(callable(fn) for fn in cases.values())
    for fn in cases.values():
        fn()
