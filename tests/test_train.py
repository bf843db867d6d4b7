"""fit / evaluate on a small generated dataset: accuracy, callbacks, checkpoints (atomic),
bit-exact resume, NaN stop, schedulers in the loop, grid search."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

import gradcore
from gradcore import nn, optim
from gradcore.data import DataLoader, TensorDataset
from gradcore.optim import lr_scheduler
from gradcore.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    NonFiniteLossError,
    ProgressBar,
    evaluate,
    fit,
    grid_search,
    load_checkpoint,
)

CLASSES = 4


def make_data(n, seed):
    """4 classes of 8x8 images: a class-specific bright quadrant plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = 0.3 * rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, 0, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 1.0
    return x, y.astype(np.int64)


@pytest.fixture(scope="module")
def datasets():
    return TensorDataset(*make_data(512, 1)), TensorDataset(*make_data(256, 2))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, CLASSES))


def convnet():
    """Conv + batch norm (running stats) + dropout (draws from the global RNG)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(64, CLASSES),
    )


def test_fit_and_evaluate_reach_accuracy(datasets, tmp_path, capsys):
    train, val = datasets
    gradcore.manual_seed(0)
    model = mlp()
    tl = DataLoader(train, batch_size=32, shuffle=True, seed=0)
    vl = DataLoader(val, batch_size=64)
    loss_fn = nn.CrossEntropyLoss()
    h = fit(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=1e-2),
        tl,
        epochs=4,
        val_loader=vl,
        callbacks=[ProgressBar(use_tqdm=False), CSVLogger(tmp_path / "log.csv")],
    )
    assert isinstance(h, History) and len(h) == 4
    assert h["epoch"] == [1, 2, 3, 4]
    assert h["val_acc"][-1] >= 0.95, h.rows
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert all(r["images_per_s"] > 0 and r["time"] > 0 and r["lr"] == 1e-2 for r in h.rows)
    ev = evaluate(model, vl, loss_fn)
    assert ev["n"] == 256
    assert ev["accuracy"] == pytest.approx(h["val_acc"][-1])
    assert ev["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-6)
    assert model.training  # evaluate restores the mode
    out = capsys.readouterr().out
    assert "epoch 1/4" in out and "val_acc" in out and "img/s" in out
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and float(rows[-1]["val_acc"]) == pytest.approx(h["val_acc"][-1])
    h.to_csv(tmp_path / "h.csv")
    with open(tmp_path / "h.csv") as f:
        assert next(csv.reader(f))[:3] == ["epoch", "train_loss", "train_acc"]


def test_history_plot(tmp_path):
    h = History(
        [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4}]
    )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install matplotlib"):
            h.plot(tmp_path / "h.png")
    else:
        h.plot(tmp_path / "h.png")
        assert (tmp_path / "h.png").stat().st_size > 0


def _run(datasets, epochs, ckpt=None, resume_from=None, seed_noise=None):
    train, val = datasets
    if seed_noise is not None:  # a "new process": different global RNG and initial weights
        gradcore.manual_seed(seed_noise)
    else:
        gradcore.manual_seed(0)
    model = convnet()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    tl = DataLoader(train, batch_size=32, shuffle=True, seed=None if resume_from else 5)
    cbs = [ModelCheckpoint(ckpt, monitor="train_loss")] if ckpt else []
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        tl,
        epochs=epochs,
        val_loader=DataLoader(val, batch_size=128),
        scheduler=sched,
        callbacks=cbs,
        resume_from=resume_from,
    )
    return model, opt, h


def test_resume_is_bit_exact(datasets, tmp_path):
    straight, _, h_straight = _run(datasets, 2)
    path = tmp_path / "ckpt.npz"
    _run(datasets, 1, ckpt=path)
    ck = load_checkpoint(path)
    assert ck["epoch"] == 1 and ck["loader"]["epoch"] >= 1
    resumed, opt, h_resumed = _run(datasets, 2, ckpt=path, resume_from=path, seed_noise=123)
    for (k, a), (k2, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert k == k2
        assert np.array_equal(a.numpy(), b.numpy()), k
    assert h_resumed["epoch"] == [1, 2]
    assert h_resumed["train_loss"] == h_straight["train_loss"]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 0.7**2)
    assert load_checkpoint(path)["epoch"] == 2


class _Poison(Callback):
    """Turns a weight into NaN at the end of epoch `at` (after the checkpoint was written)."""

    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.at:
            next(iter(trainer.model.parameters())).numpy()[...] = np.nan


def test_nonfinite_loss_stops_and_keeps_last_checkpoint(datasets, tmp_path):
    train, _ = datasets
    gradcore.manual_seed(0)
    model = mlp()
    path = tmp_path / "ckpt.npz"
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 1"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters()),
            DataLoader(train, batch_size=64, seed=0),
            epochs=3,
            callbacks=[ModelCheckpoint(path, monitor="train_loss"), _Poison(at=0)],
        )
    ck = load_checkpoint(path)
    assert ck["epoch"] == 1
    assert all(np.all(np.isfinite(np.asarray(v))) for v in ck["model"].values())


def test_checkpoint_write_interrupted_keeps_previous(datasets, tmp_path, monkeypatch):
    from gradcore import serialization

    train, _ = datasets
    real = serialization._write_archive
    calls = {"n": 0}

    def flaky(f, arrays):
        calls["n"] += 1
        if calls["n"] == 2:
            f.write(b"PK\x03\x04 half an archive")
            raise OSError("No space left on device (simulated)")
        real(f, arrays)

    monkeypatch.setattr(serialization, "_write_archive", flaky)
    gradcore.manual_seed(0)
    model = mlp()
    path = tmp_path / "ck" / "ckpt.npz"
    with pytest.raises(OSError, match="No space left"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters()),
            DataLoader(train, batch_size=64, seed=0),
            epochs=3,
            callbacks=[ModelCheckpoint(path, monitor="train_loss")],
        )
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(path.parent) == ["ckpt.npz"]


def test_save_best_only_and_directory_path(datasets, tmp_path):
    train, val = datasets
    gradcore.manual_seed(0)
    model = mlp()
    cb = ModelCheckpoint(str(tmp_path) + os.sep, monitor="val_acc", save_best_only=True)
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-2),
        DataLoader(train, batch_size=64, seed=0),
        epochs=3,
        val_loader=DataLoader(val, batch_size=128),
        callbacks=[cb],
    )
    ck = load_checkpoint(tmp_path / "checkpoint.npz")
    best_epoch = int(np.argmax(h["val_acc"])) + 1
    assert ck["epoch"] == best_epoch


def test_early_stopping_restores_best_weights(datasets):
    train, val = datasets
    gradcore.manual_seed(0)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True, verbose=False)
    scripted = [1.0, 0.5, 0.6, 0.55, 0.4, 0.3]
    snapshots = []

    class Script(Callback):  # replaces the measured val_loss by a scripted sequence
        def on_epoch_end(self, trainer, epoch, logs):
            logs["val_loss"] = scripted[epoch]
            snapshots.append({k: v.numpy().copy() for k, v in model.state_dict().items()})

    h = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        DataLoader(train, batch_size=64, seed=0),
        epochs=6,
        val_loader=DataLoader(val, batch_size=128),
        callbacks=[Script(), es],
    )
    assert len(h) == 4 and es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.5
    assert not np.array_equal(snapshots[1]["1.weight"], snapshots[3]["1.weight"])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), snapshots[1][k])


def test_per_batch_and_plateau_schedulers(datasets):
    train, val = datasets
    gradcore.manual_seed(0)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    tl = DataLoader(train, batch_size=64, seed=0)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=len(tl))
    fit(model, nn.CrossEntropyLoss(), opt, tl, epochs=2, scheduler=sched)
    assert sched.last_epoch == 2 * len(tl)
    opt2 = optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(opt2, patience=0, factor=0.5, mode="min")
    plateau.best = -1.0  # a loss never beats this: every epoch is bad -> lr halves each epoch
    h = fit(
        model,
        nn.CrossEntropyLoss(),
        opt2,
        tl,
        epochs=2,
        val_loader=DataLoader(val, 128),
        scheduler=plateau,
    )
    assert h["lr"] == [0.1, 0.05]  # the lr used during each epoch
    assert opt2.param_groups[0]["lr"] == 0.025 and plateau.last_epoch == 2


def test_fit_argument_errors(datasets):
    train, _ = datasets
    model = mlp()
    opt = optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="epochs"):
        fit(model, nn.CrossEntropyLoss(), opt, DataLoader(train, 64), epochs=-1)
    with pytest.raises(ValueError, match="metrics"):
        fit(model, nn.CrossEntropyLoss(), opt, DataLoader(train, 64), epochs=1, metrics=("f1",))
    with pytest.raises(KeyError, match="val_loss"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            opt,
            DataLoader(train, 64),
            epochs=1,
            callbacks=[EarlyStopping()],
        )


def test_grid_search(datasets, capsys):
    train, _ = datasets
    rows = grid_search(
        lambda hidden=32: nn.Sequential(
            nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, CLASSES)
        ),
        {"lr": [1e-2, 1e-5], "batch_size": [32], "hidden": [16]},
        train,
        val_fraction=0.25,
        epochs=2,
    )
    assert len(rows) == 2
    assert rows[0]["lr"] == 1e-2 and rows[0]["val_acc"] > rows[1]["val_acc"]
    assert rows[0]["val_acc"] > 0.8
    assert {"lr", "batch_size", "hidden", "val_acc", "val_loss", "time"} <= set(rows[0])
    out = capsys.readouterr().out
    assert "val_acc" in out and "1e-05" in out


@pytest.mark.parametrize("name", ["mlp", "cnn-small", "cnn-bn", "resnet-small", "resnet18"])
def test_build_model(name):
    from gradcore.models import build_model

    gradcore.manual_seed(0)
    model = build_model(name)
    x = gradcore.tensor(np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))
    out = model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    keys = list(model.state_dict())
    expected = {
        "mlp": ["1.weight", "5.bias"],
        "cnn-small": ["0.weight", "3.weight", "7.weight", "9.bias"],
        "cnn-bn": ["1.running_mean", "5.running_var", "12.weight"],
        "resnet-small": [
            "conv1.weight",
            "layer1.0.bn1.running_mean",
            "layer2.0.downsample.0.weight",
            "layer3.0.conv2.weight",
            "fc.bias",
        ],
        "resnet18": [
            "conv1.weight",
            "layer1.1.bn2.running_var",
            "layer2.0.downsample.1.weight",
            "layer4.1.conv2.weight",
            "fc.weight",
        ],
    }[name]
    assert set(expected) <= set(keys), keys
    gradcore.manual_seed(0)
    again = build_model(name)
    for a, b in zip(model.parameters(), again.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # seeded: same init
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        build_model("vgg")


def test_resnet18_is_the_cifar_resnet18():
    """3 channels, 10 classes: the 11,173,962 parameters of the usual CIFAR-10 ResNet-18
    (BasicBlocks 2-2-2-2 of 64-128-256-512, 3x3 stem, no max pool); 32x32 in, 4x4 before the
    average pool."""
    from gradcore.models import ResNet, resnet18

    model = resnet18(num_classes=10, in_channels=3)
    assert sum(p.numpy().size for p in model.parameters()) == 11_173_962
    assert [len(s) for s in model.stages()] == [2, 2, 2, 2]
    x = gradcore.tensor(np.zeros((1, 3, 32, 32), np.float32))
    h = model.relu(model.bn1(model.conv1(x)))
    for stage in model.stages():
        h = stage(h)
    assert h.shape == (1, 512, 4, 4)
    with pytest.raises(ValueError, match="one positive entry per stage"):
        ResNet((2, 2), (64,))


def test_profile_steps_into_a_missing_directory_fails_before_training(datasets, tmp_path):
    """The trace path is checked when training begins, not after the warm-up and profiled
    steps (the CLI's --profile used to fail only after ~30 steps)."""
    from gradcore.train import ProfileSteps

    class CountSteps(Callback):
        steps = 0

        def on_batch_end(self, trainer, step, logs):
            CountSteps.steps += 1

    train, _ = datasets
    model = convnet()
    opt = optim.SGD(model.parameters(), lr=0.05)
    for path, error in [
        (tmp_path / "missing" / "trace.json", FileNotFoundError),
        (tmp_path, IsADirectoryError),
    ]:
        with pytest.raises(error, match="ProfileSteps"):
            fit(
                model,
                nn.CrossEntropyLoss(),
                opt,
                DataLoader(train, batch_size=64),
                epochs=1,
                callbacks=[CountSteps(), ProfileSteps(path, warmup=1, steps=1)],
            )
    assert CountSteps.steps == 0
