"""Validation held out of the training set: train_val_split, fit's single test evaluation,
and `gradcore train` selecting the best epoch on the validation split only."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli import write_fake_mnist

from gradcore import nn, optim
from gradcore.__main__ import main
from gradcore.data import DataLoader, TensorDataset, train_val_split
from gradcore.train import EarlyStopping, fit


def test_train_val_split_is_disjoint_seeded_and_complete():
    ds = TensorDataset(np.arange(100, dtype=np.float32)[:, None], np.arange(100))
    train, val = train_val_split(ds, 20, seed=3)
    assert (len(train), len(val)) == (80, 20)
    ti, vi = set(np.asarray(train.indices).tolist()), set(np.asarray(val.indices).tolist())
    assert not ti & vi and ti | vi == set(range(100))
    again = train_val_split(ds, 20, seed=3)[1]
    other = train_val_split(ds, 20, seed=4)[1]
    assert np.array_equal(np.asarray(val.indices), np.asarray(again.indices))
    assert not np.array_equal(np.asarray(val.indices), np.asarray(other.indices))
    assert len(train_val_split(ds, 0.25)[1]) == 25


@pytest.mark.parametrize("bad", [0, 100, 101, -1, 0.0, 1.0, 1.5])
def test_train_val_split_rejects_sizes_that_leave_a_side_empty(bad):
    ds = TensorDataset(np.zeros((100, 1), np.float32), np.zeros(100, np.int64))
    with pytest.raises(ValueError, match="val_size"):
        train_val_split(ds, bad)


def test_train_val_split_rejects_non_numbers():
    ds = TensorDataset(np.zeros((10, 1), np.float32), np.zeros(10, np.int64))
    with pytest.raises(TypeError, match="val_size"):
        train_val_split(ds, "5")


def _problem(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return TensorDataset(x, y)


def test_fit_evaluates_the_test_set_once_after_restoring_the_best_epoch():
    import gradcore

    gradcore.manual_seed(0)
    train, val = train_val_split(_problem(200, 0), 50, seed=0)
    test = _problem(64, 1)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    best = EarlyStopping("val_loss", patience=10, restore_best_weights=True, verbose=False)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        DataLoader(train, batch_size=32, shuffle=True, seed=0),
        epochs=4,
        val_loader=DataLoader(val, batch_size=64),
        test_loader=DataLoader(test, batch_size=64),
        callbacks=[best],
    )
    assert history.test is not None and history.test["n"] == 64
    assert all("test_loss" not in r and "test_acc" not in r for r in history.rows)
    # the reported test numbers are those of the restored (best) weights
    from gradcore.train import evaluate

    again = evaluate(model, DataLoader(test, batch_size=64), nn.CrossEntropyLoss())
    assert again["loss"] == history.test["loss"]
    assert history["val_loss"][best.best_epoch] == min(history["val_loss"])


def test_fit_without_test_loader_has_no_test_result():
    train = _problem(32, 0)
    model = nn.Linear(4, 2)
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        DataLoader(train, batch_size=16),
        epochs=1,
    )
    assert h.test is None


def test_cli_validation_comes_from_the_training_set(tmp_path, capsys):
    root = write_fake_mnist(tmp_path / "data", n_train=300, n_test=100)
    out = tmp_path / "run"
    argv = ["train", "--data-root", root, "--model", "mlp", "--epochs", "2", "--out", str(out)]
    assert main(argv + ["--val-size", "60", "--split-seed", "7"]) == 0
    text = capsys.readouterr().out
    assert "240 train / 60 validation (split seed 7) / 100 test images" in text
    assert "the test set, evaluated once after training" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["val_size"] == 60 and summary["best_epoch"] in (1, 2)
    assert (out / "best.npz").is_file()
    header = (out / "history.csv").read_text().splitlines()[0]
    assert "val_loss" in header and "test" not in header


def test_cli_default_val_size_and_none(tmp_path, capsys):
    root = write_fake_mnist(tmp_path / "data", n_train=200, n_test=50)
    argv = ["train", "--data-root", root, "--model", "mlp", "--epochs", "1"]
    assert main(argv) == 0
    assert "180 train / 20 validation" in capsys.readouterr().out  # a tenth of a small set
    assert main(argv + ["--val-size", "0"]) == 0
    text = capsys.readouterr().out
    assert "200 train / 0 validation" in text and "final weights" in text


def test_cli_rejects_a_validation_split_that_leaves_nothing(tmp_path, capsys):
    root = write_fake_mnist(tmp_path / "data", n_train=100, n_test=50)
    rc = main(["train", "--data-root", root, "--model", "mlp", "--val-size", "100"])
    assert rc == 2
    assert "--val-size 100 leaves no training or no validation items" in capsys.readouterr().err


def test_fit_val_size_holds_out_of_the_loaders_dataset():
    import gradcore

    def run(**kw):
        gradcore.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        loader = DataLoader(_problem(200, 0), batch_size=32, shuffle=True, seed=0)
        h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader,
                epochs=2, **kw)  # fmt: skip
        return h, model

    h, model = run(val_size=50, split_seed=3)
    # the same as splitting by hand with the same seed
    gradcore.manual_seed(0)
    model2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    train, val = train_val_split(_problem(200, 0), 50, seed=3)
    h2 = fit(model2, nn.CrossEntropyLoss(), optim.SGD(model2.parameters(), lr=0.1),
             DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=2,
             val_loader=DataLoader(val, batch_size=256))  # fmt: skip
    assert h["val_loss"] == h2["val_loss"] and h["train_loss"] == h2["train_loss"]
    with pytest.raises(ValueError, match="either val_loader or val_size"):
        run(val_size=10, val_loader=DataLoader(val, batch_size=8))
    model = nn.Linear(4, 2)
    with pytest.raises(TypeError, match="val_size needs a gradcore DataLoader"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), [], epochs=1,
            val_size=10)  # fmt: skip
