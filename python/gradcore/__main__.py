# long-file: every subcommand's parser and handler in one place; splitting it into a cli/ package is left until the concurrent --distributed branch (which edits the same train command) has merged
"""The `gradcore` command: gradcore info | train | evaluate | bench | plot.

    gradcore train --model cnn-small --epochs 5 --out runs/fmnist
    gradcore evaluate --weights runs/fmnist/weights.npz --model cnn-small
    gradcore plot runs/fmnist            # runs/fmnist/history.png from history.csv

Exit codes: 0 success, 1 training failure (non-finite loss), 2 bad arguments (including a
--weights or --resume file that is unreadable, corrupt, or does not fit --model/--optimizer,
and an --out or --profile path that cannot be written), 3 dataset not found or unreadable.
Every error is reported as a message on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, Optional, Sequence

from gradcore.models import MODELS
from gradcore.train.factories import OPTIMIZERS, SCHEDULERS

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NO_DATA = 3

# per-dataset per-channel (mean, std) of the [0, 1] pixels of the training split (its keys are
# the --dataset choices; imagefolder: 0.5 for every channel, mapping [0, 1] to [-1, 1]);
# --model, --optimizer and --scheduler take gradcore.models.MODELS and
# gradcore.train.factories.OPTIMIZERS / SCHEDULERS
NORMALIZE = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "imagefolder": ((0.5,), (0.5,)),
}
# random-crop padding of --augment per dataset (images keep their size), and which get flips
CROP_PADDING = {"fashion-mnist": 2, "mnist": 2, "cifar10": 4, "imagefolder": 4}
FLIPPED = ("fashion-mnist", "cifar10", "imagefolder")


# validation items held out of the training set by default (see _val_size)
DEFAULT_VAL_SIZE = 5000


class CLIError(Exception):
    """An error reported as one message and an exit code, without a traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def _cmd_info(args: argparse.Namespace) -> int:
    from gradcore._runtime import format_info

    print(format_info())
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from gradcore._bench import run

    _set_threads(args.threads)
    if args.roofline is not None:
        _check_output_file("--roofline", args.roofline)
    try:
        print(run(repeats=args.repeats, roofline_png=args.roofline))
    except ImportError as e:  # --roofline without matplotlib
        raise CLIError(str(e), EXIT_FAILURE) from None
    if args.roofline is not None:
        print(f"wrote {args.roofline}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from gradcore.plots import plot_history

    csv_path = os.path.join(args.run_dir, "history.csv")
    if not os.path.isfile(csv_path):
        raise CLIError(
            f"{args.run_dir}: no history.csv (written by gradcore train --out)", EXIT_USAGE
        )
    out = args.out if args.out is not None else os.path.join(args.run_dir, "history.png")
    _check_output_file("--out", out)
    try:
        plot_history(
            csv_path, out, size=(args.width / args.dpi, args.height / args.dpi), dpi=args.dpi
        )
    except ImportError as e:
        raise CLIError(str(e), EXIT_FAILURE) from None
    except ValueError as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    print(f"wrote {out}")
    return 0


# ------------------------------------------------------------------------------ helpers
def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _nonneg_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {v}")
    return v


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {s!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {s}")
    return v


def _nonneg_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {s!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {s}")
    return v


def _probability(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {s!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {s}")
    return v


def _one_line(e: BaseException) -> str:
    """An exception's message on one line (load_state_dict lists its problems on lines)."""
    return " ".join(str(e).split())


def _check_output_file(option: str, path: str) -> None:
    """Refuse a path that `option` could only fail to write later (a directory, or a file in
    a missing directory)."""
    if os.path.isdir(path):
        raise CLIError(f"{option}: {path} is a directory; give a file name", EXIT_USAGE)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CLIError(f"{option}: directory {directory} does not exist", EXIT_USAGE)


def _open_dataset(args: argparse.Namespace, train: bool) -> Any:
    from gradcore.data import CIFAR10, MNIST, FashionMNIST, ImageFolder

    if args.dataset == "imagefolder":
        if args.data_root is None:
            raise CLIError(
                "--dataset imagefolder needs --data-dir DIR holding train/<class>/<image> "
                "and test/<class>/<image>",
                EXIT_USAGE,
            )
        split = os.path.join(args.data_root, "train" if train else "test")
        size = None if args.image_size is None else (args.image_size, args.image_size)
        return ImageFolder(split, channels=args.channels, size=size)
    cls = {"fashion-mnist": FashionMNIST, "mnist": MNIST, "cifar10": CIFAR10}[args.dataset]
    return cls(root=args.data_root, train=train, download=args.download)


def _load_dataset(args: argparse.Namespace, train: bool, limit: Optional[int]) -> Any:
    """The split, limited to its first `limit` items; the full dataset's shape and classes
    are kept in ``args.data_spec`` (channels, image size, classes) for the model."""
    from gradcore.data import DatasetNotFoundError, Subset
    from gradcore.serialization import FileFormatError

    try:
        ds = _open_dataset(args, train)
        c, h, w = ds[0][0].shape
    except DatasetNotFoundError as e:
        raise CLIError(f"{e}\n(or pass --download, or --data-dir DIR)", EXIT_NO_DATA) from None
    except (OSError, FileFormatError, ImportError) as e:
        raise CLIError(f"could not load {args.dataset}: {e}", EXIT_NO_DATA) from None
    if h != w:
        raise CLIError(
            f"{args.dataset}: the models take square images, got {h}x{w} "
            "(pass --image-size N to resize)",
            EXIT_USAGE,
        )
    spec = (int(c), int(h), tuple(ds.classes))
    previous = getattr(args, "data_spec", None)
    if previous is not None and previous != spec:
        raise CLIError(
            f"{args.dataset}: the train and test splits differ (channels, size, classes): "
            f"{previous} vs {spec}",
            EXIT_NO_DATA,
        )
    args.data_spec = spec
    if limit is not None and limit < len(ds):
        ds = Subset(ds, list(range(limit)))
    return ds


def _build_model(args: argparse.Namespace) -> Any:
    """--model for the loaded dataset's channels, image size and number of classes."""
    from gradcore.models import build_model

    channels, size, classes = args.data_spec
    return build_model(args.model, num_classes=len(classes), in_channels=channels, image_size=size)


def _batch_transform(args: argparse.Namespace, augment: bool) -> Any:
    from gradcore.data import transforms as T

    dataset = args.dataset
    mean, std = NORMALIZE[dataset]
    steps = []
    if augment:
        steps.append(T.RandomCrop(args.data_spec[1], padding=CROP_PADDING[dataset]))
        if dataset in FLIPPED:
            steps.append(T.RandomHorizontalFlip())
    steps.append(T.Normalize(list(mean), list(std)))
    if augment and args.random_erasing > 0:  # after Normalize: erased pixels become the mean
        steps.append(T.RandomErasing(p=args.random_erasing))
    return T.Compose(steps) if len(steps) > 1 else steps[0]


def _val_size(requested: Optional[float], n_train: int) -> int:
    """Validation items to hold out of `n_train`: --val-size N (0 = none) or a fraction in
    (0, 1); by default DEFAULT_VAL_SIZE when the training set has at least ten times that
    many items (Fashion-MNIST: 5,000 of 60,000), else a tenth of it (small or limited sets)."""
    if requested is None:
        if n_train >= 10 * DEFAULT_VAL_SIZE:
            return DEFAULT_VAL_SIZE
        return max(1, n_train // 10) if n_train > 1 else 0
    v = int(round(requested * n_train)) if 0 < requested < 1 else int(requested)
    if requested != 0 and not 0 < v < n_train:
        raise CLIError(
            f"--val-size {requested:g} leaves no training or no validation items "
            f"(the training set has {n_train})",
            EXIT_USAGE,
        )
    return v


def _set_threads(n: Optional[int]) -> None:
    if n is not None:
        import gradcore

        gradcore.set_num_threads(n)


# ---------------------------------------------------------------------------------- train
def _cmd_train(args: argparse.Namespace) -> int:
    import gradcore
    from gradcore import nn
    from gradcore.data import DataLoader, train_val_split
    from gradcore.serialization import FileFormatError
    from gradcore.train import (
        CheckpointMismatchError,
        CSVLogger,
        EarlyStopping,
        ModelCheckpoint,
        NonFiniteLossError,
        ProfileSteps,
        ProgressBar,
        build_optimizer,
        build_scheduler,
        fit,
    )
    from gradcore.train.data_parallel import start_data_parallel

    if args.random_erasing > 0 and not args.augment:
        raise CLIError("--random-erasing is an augmentation: it needs --augment", EXIT_USAGE)

    if args.warmup_epochs >= args.epochs and args.scheduler not in ("none", "onecycle"):
        raise CLIError(
            f"--warmup-epochs ({args.warmup_epochs}) must be smaller than --epochs ({args.epochs})",
            EXIT_USAGE,
        )
    if args.resume is not None and not os.path.isfile(args.resume):
        raise CLIError(f"--resume: no such checkpoint file: {args.resume}", EXIT_USAGE)
    amp_dtype = _amp_dtype(args.amp)
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CLIError(f"--out: {args.out} exists and is not a directory", EXIT_USAGE)
    if args.profile is not None:
        if os.environ.get("GRADCORE_PROFILE"):
            raise CLIError(
                "--profile and GRADCORE_PROFILE both ask for a profile; use one", EXIT_USAGE
            )
        _check_output_file("--profile", args.profile)
    try:
        world, rank, args.threads = start_data_parallel(
            args.batch_size, args.threads, args.distributed
        )
    except (ImportError, ValueError) as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    _set_threads(args.threads)
    gradcore.manual_seed(args.seed)
    train_full = _load_dataset(args, True, args.limit_train)
    test_ds = _load_dataset(args, False, args.limit_test)
    val_size = _val_size(args.val_size, len(train_full))
    if val_size:  # the same split on every rank (seeded)
        train_ds, val_ds = train_val_split(train_full, val_size, seed=args.split_seed)
    else:
        train_ds, val_ds = train_full, None
    train_sampler = test_sampler = val_sampler = None
    if world > 1:  # each rank reads its shard; the global batch is split over the ranks
        from gradcore.data import DistributedSampler

        train_sampler = DistributedSampler(train_ds, world, rank, shuffle=True, seed=args.seed)
        test_sampler = DistributedSampler(test_ds, world, rank, shuffle=False, pad=False)
        if val_ds is not None:
            val_sampler = DistributedSampler(val_ds, world, rank, shuffle=False, pad=False)
    train_loader = DataLoader(
        train_ds,
        batch_size=args.batch_size // world,
        shuffle=train_sampler is None,
        seed=args.seed,
        transform=_batch_transform(args, args.augment),
        sampler=train_sampler,
    )
    test_loader = DataLoader(
        test_ds,
        batch_size=max(256, args.batch_size),
        transform=_batch_transform(args, False),
        sampler=test_sampler,
    )
    val_loader = None
    if val_ds is not None:
        val_loader = DataLoader(
            val_ds,
            batch_size=max(256, args.batch_size),
            transform=_batch_transform(args, False),
            sampler=val_sampler,
        )
    model = _build_model(args)
    if world > 1:
        from gradcore.nn.parallel import DistributedDataParallel

        same = ("model", "dataset", "optimizer", "lr", "momentum", "weight_decay", "scheduler")
        same += ("epochs", "batch_size", "seed", "augment", "limit_train", "clip_grad_norm")
        same += ("val_size", "split_seed", "early_stopping", "random_erasing", "label_smoothing")
        model = DistributedDataParallel(model, config={k: getattr(args, k) for k in same})
    try:
        optimizer = build_optimizer(
            args.optimizer,
            model.parameters(),
            lr=args.lr,
            weight_decay=args.weight_decay,
            momentum=args.momentum,
        )
        scheduler = build_scheduler(
            args.scheduler,
            optimizer,
            epochs=args.epochs,
            steps_per_epoch=len(train_loader),
            warmup_epochs=args.warmup_epochs,
        )
    except ValueError as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    n_params = sum(int(p.numpy().size) for p in model.parameters())
    print(
        f"gradcore train: {args.model} ({n_params:,} parameters) on {args.dataset} "
        f"({len(train_ds)} train / {len(val_ds) if val_ds is not None else 0} validation "
        f"(split seed {args.split_seed}) / {len(test_ds)} test images), {args.optimizer} lr {args.lr}, "
        f"batch {args.batch_size}, {args.epochs} epochs, {gradcore.get_num_threads()} threads"
        + (f" x {world} ranks" if world > 1 else ""),
        flush=True,
    )
    tty = sys.stderr.isatty()
    callbacks: list = []
    if rank == 0:
        callbacks.append(ProgressBar(use_tqdm=None if tty else False, every=0 if tty else 100))
    best = None
    if val_loader is not None:
        # model selection on the validation split (every rank sees the same summed val_loss):
        # the best epoch's weights are put back after training; --early-stopping also stops
        # after PATIENCE epochs without a better val_loss
        patience = args.early_stopping if args.early_stopping else args.epochs + 1
        best = EarlyStopping(
            "val_loss", patience=patience, restore_best_weights=True, verbose=rank == 0
        )
        callbacks.append(best)
    if args.out is not None and rank == 0:  # rank 0 alone writes files
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            raise CLIError(f"--out: cannot create {args.out}: {e}", EXIT_USAGE) from None
        callbacks.append(ModelCheckpoint(os.path.join(args.out, "checkpoint.npz")))
        if val_loader is not None:
            callbacks.append(
                ModelCheckpoint(
                    os.path.join(args.out, "best.npz"), monitor="val_loss", save_best_only=True
                )
            )
        callbacks.append(
            CSVLogger(os.path.join(args.out, "history.csv"), append=args.resume is not None)
        )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    if args.profile is not None and rank == 0:
        callbacks.append(ProfileSteps(args.profile, args.profile_warmup, args.profile_steps))
    try:
        history = fit(
            model,
            loss_fn,
            optimizer,
            train_loader,
            epochs=args.epochs,
            val_loader=val_loader,
            test_loader=test_loader,
            scheduler=scheduler,
            callbacks=callbacks,
            clip_grad_norm=args.clip_grad_norm,
            resume_from=args.resume,
            autocast_dtype=amp_dtype,
        )
    except NonFiniteLossError as e:
        raise CLIError(str(e), EXIT_FAILURE) from None
    except (FileFormatError, CheckpointMismatchError) as e:
        if args.resume is None:  # only resuming reads such a file
            raise
        raise CLIError(f"--resume: {_one_line(e)}", EXIT_USAGE) from None
    result = history.test
    best_epoch = None if best is None or best.best_epoch is None else best.best_epoch + 1
    chosen = f"weights of epoch {best_epoch}, best val_loss" if best_epoch else "final weights"
    print(
        f"test accuracy: {result['accuracy']:.4f}  "
        f"(loss {result['loss']:.4f}, {result['n']} images; the test set, evaluated once "
        f"after training, {chosen})"
    )
    if args.out is not None and rank == 0:
        gradcore.save(model.state_dict(), os.path.join(args.out, "weights.npz"))
        history.to_csv(os.path.join(args.out, "history.csv"))
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump(
                {
                    "model": args.model,
                    "dataset": args.dataset,
                    "epochs": args.epochs,
                    "test_accuracy": result["accuracy"],
                    "test_loss": result["loss"],
                    "best_epoch": best_epoch,
                    "best_val_loss": None if best_epoch is None else best.best,
                    "val_size": len(val_ds) if val_ds is not None else 0,
                    "args": {k: v for k, v in vars(args).items() if k != "func"},
                },
                f,
                indent=2,
            )
        try:
            history.plot(os.path.join(args.out, "history.png"))
            plotted = ", history.png"
        except ImportError:
            plotted = " (no plot: matplotlib not installed)"
        files = "weights.npz, checkpoint.npz" + (", best.npz" if val_ds is not None else "")
        print(f"wrote {args.out}: {files}, history.csv, summary.json{plotted}")
    return 0


# ------------------------------------------------------------------------------- evaluate
def _amp_dtype(amp: str):
    """--amp: the autocast dtype (None for "none"); a missing ml_dtypes is a usage error."""
    if amp == "none":
        return None
    from gradcore.bf16 import bfloat16_dtype

    try:
        return bfloat16_dtype()
    except ImportError as e:
        raise CLIError(f"--amp {amp}: {_one_line(e)}", EXIT_USAGE) from None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import gradcore
    from gradcore import nn
    from gradcore.data import DataLoader
    from gradcore.train import CHECKPOINT_KIND

    if not os.path.isfile(args.weights):
        raise CLIError(f"--weights: no such file: {args.weights}", EXIT_USAGE)
    _set_threads(args.threads)
    try:
        obj = gradcore.load(args.weights)
    except (ValueError, OSError) as e:  # FileFormatError, or e.g. no permission
        raise CLIError(f"--weights: {_one_line(e)}", EXIT_USAGE) from None
    if isinstance(obj, dict) and obj.get("kind") == CHECKPOINT_KIND:
        obj = obj.get("model")
    if not isinstance(obj, dict):
        raise CLIError(
            f"--weights: {args.weights} holds a {type(obj).__name__}, not a model state dict",
            EXIT_USAGE,
        )
    test_ds = _load_dataset(args, False, args.limit_test)
    model = _build_model(args)
    try:
        model.load_state_dict(obj)
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise CLIError(
            f"--weights: {args.weights} does not fit model {args.model}: {_one_line(e)}",
            EXIT_USAGE,
        ) from None
    loader = DataLoader(
        test_ds, batch_size=args.batch_size, transform=_batch_transform(args, False)
    )
    t0 = time.perf_counter()
    from gradcore.train import evaluate

    result = evaluate(model, loader, nn.CrossEntropyLoss(), progress=None)
    dt = time.perf_counter() - t0
    print(
        f"test accuracy: {result['accuracy']:.4f}  (loss {result['loss']:.4f}, "
        f"{result['n']} images, {result['n'] / dt:.0f} images/s)"
    )
    return 0


# --------------------------------------------------------------------------------- parser
def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=tuple(MODELS), default="cnn-small", help="(cnn-small)")
    p.add_argument(
        "--dataset", choices=tuple(NORMALIZE), default="fashion-mnist", help="(fashion-mnist)"
    )
    p.add_argument(
        "--data-dir",
        "--data-root",
        dest="data_root",
        default=None,
        metavar="DIR",
        help="the dataset's directory (IDX files, cifar-10-batches-py, or for imagefolder "
        "train/<class>/<image> and test/<class>/<image>)",
    )
    p.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=3,
        help="imagefolder: 3 (RGB) or 1 (greyscale) (3)",
    )
    p.add_argument(
        "--image-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="imagefolder: resize images to NxN (default: keep; all must be square and alike)",
    )
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument(
        "--limit-test",
        type=_positive_int,
        default=None,
        metavar="N",
        help="use only the first N test images",
    )
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="native threads (default: OMP_NUM_THREADS or all cores)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_info = sub.add_parser("info", help="show version, compiler, threads, SIMD path, CUDA")
    p_info.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "bench", help="run the main kernels under the profiler; print a roofline summary"
    )
    p.add_argument("--repeats", type=_positive_int, default=5, help="calls per kernel (5)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N")
    p.add_argument(
        "--roofline", default=None, metavar="PNG", help="also draw the roofline to PNG (matplotlib)"
    )
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser(
        "plot",
        help="draw a run's loss and accuracy curves (history.csv) to a PNG",
        description="Read RUN_DIR/history.csv (gradcore train --out RUN_DIR) and write the loss "
        "and accuracy curves, train and validation, to RUN_DIR/history.png (needs matplotlib).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", default=None, metavar="PNG", help="(RUN_DIR/history.png)")
    p.add_argument("--width", type=_positive_int, default=1000, help="pixels (1000)")
    p.add_argument("--height", type=_positive_int, default=400, help="pixels (400)")
    p.add_argument("--dpi", type=_positive_int, default=100, help="(100)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser(
        "train",
        help="train a model on Fashion-MNIST, MNIST, CIFAR-10 or your own images",
        description="Train a model; prints per-epoch progress and the final test accuracy.",
    )
    _add_data_args(p)
    p.add_argument("--epochs", type=_positive_int, default=5, help="(5)")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="(64)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(adam)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate (1e-3)")
    p.add_argument(
        "--weight-decay",
        type=_nonneg_float,
        default=None,
        help="(the optimizer's default: 0, 1e-2 for adamw)",
    )
    p.add_argument("--momentum", type=_nonneg_float, default=None, help="sgd/rmsprop momentum")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="none", help="(none)")
    p.add_argument(
        "--warmup-epochs",
        type=_nonneg_int,
        default=0,
        help="linear warm-up epochs before the scheduler",
    )
    p.add_argument(
        "--clip-grad-norm",
        type=_positive_float,
        default=None,
        metavar="MAX",
        help="clip the gradients' total L2 norm",
    )
    p.add_argument(
        "--amp",
        choices=("none", "bf16"),
        default="none",
        help="mixed precision: bf16 runs conv/linear/matmul under gradcore.amp.autocast "
        "(bfloat16 numerics; needs ml_dtypes; no speed-up yet) (none)",
    )
    p.add_argument(
        "--augment",
        action="store_true",
        help="random crops (+ flips on fashion-mnist, cifar10, imagefolder)",
    )
    p.add_argument(
        "--random-erasing",
        type=_probability,
        default=0.0,
        metavar="P",
        help="with --augment, erase a random rectangle of each training image with "
        "probability P (0)",
    )
    p.add_argument(
        "--label-smoothing",
        type=_probability,
        default=0.0,
        metavar="EPS",
        help="cross-entropy against (1 - EPS) one-hot + EPS/classes (0)",
    )
    p.add_argument("--seed", type=_nonneg_int, default=0, help="(0)")
    p.add_argument(
        "--val-size",
        type=_nonneg_float,
        default=None,
        metavar="N",
        help="validation items held out of the training set for model selection: a count, a "
        "fraction in (0, 1), or 0 for none (default 5000, or a tenth of a training set "
        "under 50000)",
    )
    p.add_argument(
        "--split-seed", type=_nonneg_int, default=0, help="seed of the validation split (0)"
    )
    p.add_argument(
        "--early-stopping",
        type=_positive_int,
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a better val_loss (the best epoch's weights "
        "are used for the test either way)",
    )
    p.add_argument(
        "--limit-train",
        type=_positive_int,
        default=None,
        metavar="N",
        help="use only the first N training images",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write checkpoint.npz, history.csv, history.png, weights.npz here",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue from a checkpoint written by --out",
    )
    p.add_argument(
        "--profile",
        default=None,
        metavar="PATH",
        help="profile --profile-steps training steps after --profile-warmup steps; print "
        "the table and write a Chrome trace to PATH",
    )
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI ranks (automatic under mpiexec); --batch-size is global",
    )
    p.add_argument("--profile-steps", type=_positive_int, default=20, help="(20)")
    p.add_argument("--profile-warmup", type=_nonneg_int, default=10, help="(10)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="test accuracy of saved weights",
        description="Load weights (weights.npz or a checkpoint) and print the test accuracy.",
    )
    p.add_argument("--weights", required=True, metavar="FILE")
    _add_data_args(p)
    p.add_argument("--batch-size", type=_positive_int, default=256, help="(256)")
    p.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return func(args)
    except CLIError as e:
        print(f"gradcore {args.command}: error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print(f"gradcore {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
