"""Plots: `gradcore plot RUN_DIR` (loss/accuracy curves from history.csv) and the profiler's
roofline PNG; checked as valid PNGs of the expected pixel size. Without matplotlib they are
skipped (the reason says so) and the errors are checked instead."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from gradcore.__main__ import main
from gradcore.train import History


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


needs_mpl = pytest.mark.skipif(not _has_matplotlib(), reason="needs matplotlib (the plot extra)")


def png_size(path):
    """(width, height) from a PNG's IHDR, after checking the signature and chunk layout."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert data.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82"), "no IEND chunk at the end"
    return struct.unpack(">II", data[16:24])


def _write_run(run_dir, epochs=3):
    rows = [
        {
            "epoch": e + 1,
            "train_loss": 1.0 / (e + 1),
            "train_acc": 0.5 + 0.1 * e,
            "val_loss": 1.1 / (e + 1),
            "val_acc": 0.45 + 0.1 * e,
            "lr": 1e-3,
        }
        for e in range(epochs)
    ]
    run_dir.mkdir()
    History(rows).to_csv(run_dir / "history.csv")
    return rows


def test_history_csv_round_trip(tmp_path):
    rows = _write_run(tmp_path / "run")
    back = History.from_csv(tmp_path / "run" / "history.csv")
    assert back.rows == rows and isinstance(back.rows[0]["epoch"], int)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no 'epoch' column"):
        History.from_csv(tmp_path / "bad.csv")


@needs_mpl
def test_gradcore_plot_writes_a_png_of_the_expected_size(tmp_path, capsys):
    _write_run(tmp_path / "run")
    assert main(["plot", str(tmp_path / "run")]) == 0
    assert png_size(tmp_path / "run" / "history.png") == (1000, 400)
    out = tmp_path / "small.png"
    assert main(["plot", str(tmp_path / "run"), "--out", str(out), "--width", "600",
                 "--height", "300", "--dpi", "50"]) == 0  # fmt: skip
    assert png_size(out) == (600, 300)
    assert f"wrote {out}" in capsys.readouterr().out


def test_gradcore_plot_errors(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "no history.csv" in capsys.readouterr().err


@pytest.mark.skipif(_has_matplotlib(), reason="checks the message shown without matplotlib")
def test_gradcore_plot_without_matplotlib_says_how_to_install(tmp_path, capsys):
    _write_run(tmp_path / "run")
    assert main(["plot", str(tmp_path / "run")]) == 1
    assert "pip install matplotlib" in capsys.readouterr().err


@needs_mpl
def test_roofline_png_places_the_profiled_kernels(tmp_path):
    import gradcore
    from gradcore.plots import plot_roofline
    from gradcore.profiler import profile

    a = gradcore.tensor(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    with profile() as prof:
        (a @ a).relu()
    path = tmp_path / "roof.png"
    plot_roofline(prof, path, peak_gflops=100.0, bandwidth_gbs=20.0)
    assert png_size(path) == (800, 600)
    with profile() as empty:
        pass
    with pytest.raises(ValueError, match="no native kernel"):
        plot_roofline(empty, tmp_path / "none.png", peak_gflops=1.0, bandwidth_gbs=1.0)


@needs_mpl
def test_bench_roofline_option(tmp_path, capsys):
    path = tmp_path / "bench.png"
    assert main(["bench", "--repeats", "1", "--roofline", str(path)]) == 0
    assert png_size(path) == (800, 600) and "wrote" in capsys.readouterr().out


def test_progress_bar_only_with_tqdm_and_when_enabled():
    from gradcore.utils.progress import progress_bar

    assert progress_bar([1, 2], enabled=False) is None
    try:
        import tqdm  # noqa: F401
    except ImportError:
        assert progress_bar([1, 2], enabled=True) is None
    else:
        import io

        buf = io.StringIO()
        bar = progress_bar([1, 2, 3], enabled=True, file=buf)
        assert list(bar) == [1, 2, 3]
        bar.close()
        assert "/3" in buf.getvalue()  # the bar was drawn (total 3)
