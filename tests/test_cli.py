"""The gradcore train / evaluate commands: smoke runs, saved weights, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gradcore.__main__ import main
from gradcore.data import write_idx

FMNIST_SYSTEM = "/usr/share/datasets/fashion-mnist"


def write_fake_mnist(root, n_train=512, n_test=256, seed=0):
    """IDX files of a learnable 10-class problem: a bright 7x7 block whose position is the
    class, on noise."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(y):
            r, q = divmod(int(c), 4)
            x[i, 7 * r : 7 * r + 7, 7 * q : 7 * q + 7] = 250
        write_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte"), x)
        write_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte"), y)
    return str(root)


@pytest.fixture
def data_args(tmp_path):
    if os.path.isdir(FMNIST_SYSTEM):
        return ["--dataset", "fashion-mnist"]
    return ["--data-root", write_fake_mnist(tmp_path / "data")]


@pytest.fixture
def no_user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADCORE_DATA", raising=False)


def test_train_smoke_then_evaluate(tmp_path, data_args, capsys):
    out = tmp_path / "run"
    argv = ["train", "--limit-train", "512", "--limit-test", "256", "--epochs", "1"]
    rc = main(argv + ["--threads", "2", "--out", str(out)] + data_args)
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "epoch 1/1" in text and "test accuracy:" in text
    acc = float(text.split("test accuracy:")[1].split()[0])
    assert acc > 0.35  # one epoch on 512 images (cnn-small): well above chance (0.1)
    for f in ("weights.npz", "checkpoint.npz", "history.csv", "summary.json"):
        assert (out / f).is_file(), f
    assert json.loads((out / "summary.json").read_text())["test_accuracy"] == pytest.approx(
        acc, abs=1e-4
    )

    rc = main(
        ["evaluate", "--weights", str(out / "weights.npz"), "--limit-test", "256"] + data_args
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert float(text.split("test accuracy:")[1].split()[0]) == pytest.approx(acc)
    # a checkpoint works as --weights too
    rc = main(
        ["evaluate", "--weights", str(out / "checkpoint.npz"), "--limit-test", "256"] + data_args
    )
    assert rc == 0 and f"{acc:.4f}" in capsys.readouterr().out


def test_train_resume_and_scheduler(tmp_path, capsys):
    root = write_fake_mnist(tmp_path / "data", n_train=256, n_test=128)
    out = tmp_path / "run"
    base = [
        "train",
        "--data-root",
        root,
        "--limit-train",
        "256",
        "--model",
        "mlp",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
        "--lr",
        "0.05",
        "--scheduler",
        "cosine",
        "--warmup-epochs",
        "1",
        "--out",
        str(out),
    ]
    assert main(base + ["--epochs", "2"]) == 0
    assert main(base + ["--epochs", "3", "--resume", str(out / "checkpoint.npz")]) == 0
    text = capsys.readouterr().out
    assert "epoch 3/3" in text
    assert (out / "history.csv").read_text().count("\n") == 4  # header + 3 epochs


def test_train_profile_covers_steps_after_warmup(tmp_path, capsys):
    root = write_fake_mnist(tmp_path / "data", n_train=256, n_test=64)
    trace = tmp_path / "trace.json"
    args = ["train", "--data-root", root, "--model", "mlp", "--epochs", "1", "--batch-size", "16"]
    args += ["--profile", str(trace), "--profile-warmup", "3", "--profile-steps", "5"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "profile of 5 steps written" in text and "ms per step" in text and "data wait" in text
    events = json.loads(trace.read_text())["traceEvents"]
    steps = [e for e in events if e.get("name") == "train.step"]
    # the profile starts at the end of step 3 and stops at the end of step 8: it sees steps
    # 4..8 whole (5 spans; step 3's span closes just before the profile starts)
    assert len(steps) == 5
    names = {e["name"] for e in events}
    assert {"gemm", "DataLoader.next", "autograd.backward", "Adam.step"} <= names


def test_train_profile_conflicts_with_env_profile(tmp_path, capsys, monkeypatch):
    root = write_fake_mnist(tmp_path / "data", n_train=64, n_test=32)
    monkeypatch.setenv("GRADCORE_PROFILE", str(tmp_path / "whole.json"))
    args = ["train", "--data-root", root, "--model", "mlp", "--epochs", "1"]
    assert main(args + ["--profile", str(tmp_path / "t.json")]) == 2
    assert "GRADCORE_PROFILE" in capsys.readouterr().err


def test_bench_prints_roofline_summary(capsys):
    assert main(["bench", "--repeats", "1"]) == 0
    text = capsys.readouterr().out
    assert "GFLOP/s" in text and "% roof" in text and "conv2d" in text and "gemm" in text


def run_cli(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gradcore", *args],
        capture_output=True,
        text=True,
        env=e,
        timeout=120,
    )


def test_argument_errors_exit_2_without_traceback(tmp_path):
    for args, msg in [
        (["train", "--epochs", "0"], "positive integer"),
        (["train", "--model", "vgg"], "invalid choice"),
        (["train", "--lr", "abc"], "positive number"),
        (["train", "--batch-size", "-3"], "positive integer"),
        (["evaluate"], "--weights"),
        (["train", "--resume", str(tmp_path / "nope.npz")], "no such checkpoint"),
        (["train", "--epochs", "2", "--warmup-epochs", "2", "--scheduler", "cosine"], "warmup"),
    ]:
        p = run_cli(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert msg in p.stderr, (args, p.stderr)
        assert "Traceback" not in p.stderr


def test_random_erasing_and_label_smoothing(tmp_path, data_args, capsys, monkeypatch):
    from gradcore.data import transforms as T
    from gradcore.nn import CrossEntropyLoss

    seen = {}
    real_erasing, real_loss = T.RandomErasing.__init__, CrossEntropyLoss.__init__

    def erasing_init(self, *a, **k):
        seen["erasing_p"] = k.get("p", a[0] if a else None)
        real_erasing(self, *a, **k)

    def loss_init(self, *a, **k):
        seen.setdefault("smoothing", k.get("label_smoothing", 0.0))
        real_loss(self, *a, **k)

    monkeypatch.setattr(T.RandomErasing, "__init__", erasing_init)
    monkeypatch.setattr(CrossEntropyLoss, "__init__", loss_init)
    argv = ["train", "--limit-train", "256", "--limit-test", "128", "--epochs", "1"]
    argv += ["--augment", "--random-erasing", "0.4", "--label-smoothing", "0.1"]
    rc = main(argv + ["--model", "resnet-wide", "--threads", "2"] + data_args)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "resnet-wide (308,074 parameters)" in out and "test accuracy:" in out
    assert seen == {"erasing_p": 0.4, "smoothing": 0.1}
    for args, msg in [
        (["--random-erasing", "0.5"], "needs --augment"),
        (["--augment", "--random-erasing", "1.5"], "[0, 1)"),
        (["--label-smoothing", "-0.1"], "[0, 1)"),
    ]:
        p = run_cli("train", *args)
        assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_missing_dataset_exit_3(tmp_path, no_user_data, capsys):
    rc = main(["train", "--dataset", "mnist", "--data-root", str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert rc == 3
    assert "not found" in err and "--download" in err


def test_bad_weights(tmp_path, data_args, capsys):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a file of weights")
    assert main(["evaluate", "--weights", str(junk)] + data_args) == 2
    assert "not a readable gradcore file" in capsys.readouterr().err
    from gradcore import save
    from gradcore.models import build_model

    save(build_model("mlp").state_dict(), tmp_path / "mlp.npz")
    rc = main(
        ["evaluate", "--weights", str(tmp_path / "mlp.npz"), "--model", "cnn-small"] + data_args
    )
    assert rc == 2  # a --weights file that does not fit --model is a usage error
    assert "does not fit model cnn-small" in capsys.readouterr().err
    assert main(["evaluate", "--weights", str(tmp_path / "missing.npz")]) == 2


def test_info_still_works(capsys):
    assert main(["info"]) == 0
    assert "version" in capsys.readouterr().out


def test_output_into_a_closed_pipe_is_not_an_error(monkeypatch):
    """`gradcore info | head -1`: the reader closes early; exit 0, no BrokenPipeError."""
    r, w = os.pipe()
    os.close(r)  # every write now fails with EPIPE
    out = os.fdopen(w, "w", buffering=1)
    monkeypatch.setattr(sys, "stdout", out)
    try:
        assert main(["info"]) == 0
        out.write("more\n")  # stdout now leads to /dev/null
        out.flush()
    finally:
        out.close()


def test_train_mistakes_are_one_line_exit_2(tmp_path):
    """Mistakes on the train command line: one message line on stderr, no traceback, exit 2,
    and nothing trained first."""
    root = write_fake_mnist(tmp_path / "data", n_train=64, n_test=32)
    base = ["train", "--data-root", root, "--model", "mlp", "--epochs", "1"]
    assert main(base + ["--out", str(tmp_path / "run")]) == 0
    ckpt = str(tmp_path / "run" / "checkpoint.npz")  # written by mlp with adam
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for args, msg in [
        (["--momentum", "5", "--optimizer", "sgd"], "Invalid momentum value: 5.0"),
        (["--seed", "-1"], "non-negative integer"),
        (["--out", str(a_file)], "exists and is not a directory"),
        (["--profile", str(tmp_path / "missing" / "t.json")], "does not exist"),
        (["--profile", str(tmp_path)], "is a directory"),
        (["--epochs", "2", "--resume", ckpt, "--model", "cnn-small"], "does not fit this model"),
        (["--epochs", "2", "--resume", ckpt, "--optimizer", "sgd"], "has no 'momentum'"),
        (["--epochs", "2", "--resume", str(a_file)], "not a readable gradcore file"),
    ]:
        p = run_cli(*(base + args))
        assert p.returncode == 2, (args, p.stderr)
        assert msg in p.stderr, (args, p.stderr)
        assert "Traceback" not in p.stderr and "epoch 1/" not in p.stdout, (args, p.stderr)
        errors = [line for line in p.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and errors[0].startswith("gradcore train: error:"), p.stderr


def test_evaluate_corrupt_weights_one_line_exit_2(tmp_path):
    root = write_fake_mnist(tmp_path / "data", n_train=32, n_test=32)
    deep = tmp_path / "deep.npz"  # a structure nested deeper than Python's recursion limit
    text = b'{"format": 1, "root": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with open(deep, "wb") as f:
        np.savez(
            f,
            __gradcore_format__=np.asarray(1, np.int64),
            __gradcore_structure__=np.frombuffer(text, np.uint8),
        )
    p = run_cli("evaluate", "--data-root", root, "--weights", str(deep))
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "deep.npz is corrupt" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
