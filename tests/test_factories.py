"""train.factories: every name in OPTIMIZERS / SCHEDULERS builds, and the CLI offers exactly
these names (the choice lists have one home)."""

import argparse

import pytest

import gradcore as gc
from gradcore import nn, optim
from gradcore.__main__ import NORMALIZE, build_parser
from gradcore.models import MODELS
from gradcore.optim import lr_scheduler as L
from gradcore.train import OPTIMIZERS, SCHEDULERS, build_optimizer, build_scheduler

OPTIMIZER_CLASSES = {
    "sgd": optim.SGD,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "rmsprop": optim.RMSprop,
    "adagrad": optim.Adagrad,
}
SCHEDULER_CLASSES = {
    "none": type(None),
    "step": L.StepLR,
    "multistep": L.MultiStepLR,
    "exponential": L.ExponentialLR,
    "cosine": L.CosineAnnealingLR,
    "onecycle": L.OneCycleLR,
    "plateau": L.ReduceLROnPlateau,
}


def _params():
    gc.manual_seed(0)
    return nn.Linear(3, 2).parameters()


def test_tables_cover_the_names():
    assert sorted(OPTIMIZERS) == sorted(OPTIMIZER_CLASSES)
    assert sorted(SCHEDULERS) == sorted(SCHEDULER_CLASSES)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_name_builds(name):
    opt = build_optimizer(name, _params(), lr=0.01)
    assert type(opt) is OPTIMIZER_CLASSES[name]
    assert opt.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_name_builds(name):
    opt = build_optimizer("sgd", _params(), lr=0.1)
    sched = build_scheduler(name, opt, epochs=6, steps_per_epoch=4)
    assert type(sched) is SCHEDULER_CLASSES[name]


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'; choose one of sgd, adam"):
        build_optimizer("lamb", _params())
    opt = build_optimizer("sgd", _params())
    with pytest.raises(ValueError, match="unknown scheduler 'poly'; choose one of none, step"):
        build_scheduler("poly", opt, epochs=3)


def test_cli_choices_come_from_the_one_home():
    parser = build_parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    train = subcommands.choices["train"]
    choices = {a.dest: tuple(a.choices) for a in train._actions if a.choices is not None}
    assert choices["optimizer"] == OPTIMIZERS
    assert choices["scheduler"] == SCHEDULERS
    assert choices["model"] == tuple(MODELS)
    assert choices["dataset"] == tuple(NORMALIZE)
