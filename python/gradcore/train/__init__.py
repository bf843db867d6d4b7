"""The training loop: fit / evaluate, History, callbacks, checkpoints and resume, grid search.

    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), train_loader,
                  epochs=5, val_loader=test_loader,
                  callbacks=[ProgressBar(), ModelCheckpoint("runs/ckpt.npz")])

A checkpoint (`save_checkpoint`) is one gradcore file (see gradcore.serialization) holding the
model, optimizer and scheduler state dicts, the number of epochs done, the global RNG state,
the train loader's state and the history so far; `resume` (or ``fit(..., resume_from=path)``)
restores all of it, so an interrupted run continues bit-exactly as if it had never stopped.

Modules: loop (fit, evaluate, Trainer), history (History), callbacks, checkpoint,
factories (optimizers and schedulers by name: OPTIMIZERS, SCHEDULERS), grid (grid search).
"""

from gradcore.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    ProfileSteps,
    ProgressBar,
    format_epoch,
    step_summary,
)
from gradcore.train.checkpoint import (
    CHECKPOINT_KIND,
    CheckpointMismatchError,
    load_checkpoint,
    resume,
    save_checkpoint,
)
from gradcore.train.factories import OPTIMIZERS, SCHEDULERS, build_optimizer, build_scheduler
from gradcore.train.grid import format_table, grid_search
from gradcore.train.history import History
from gradcore.train.loop import NonFiniteLossError, Trainer, evaluate, fit

__all__ = [
    "CHECKPOINT_KIND",
    "CSVLogger",
    "Callback",
    "CheckpointMismatchError",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "OPTIMIZERS",
    "ProfileSteps",
    "ProgressBar",
    "SCHEDULERS",
    "Trainer",
    "build_optimizer",
    "build_scheduler",
    "evaluate",
    "fit",
    "format_epoch",
    "format_table",
    "grid_search",
    "load_checkpoint",
    "resume",
    "save_checkpoint",
    "step_summary",
]
