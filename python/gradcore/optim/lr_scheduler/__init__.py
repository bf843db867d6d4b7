"""Learning-rate schedulers with PyTorch's formulas, step semantics and state dicts.

Call ``scheduler.step()`` after ``optimizer.step()``: once per epoch for the epoch-based
schedulers (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, SequentialLR),
once per batch for OneCycleLR, and with the monitored value for ReduceLROnPlateau.
Each computes its lr recursively from the group's current lr exactly as PyTorch does (so the
sequences agree to the last bit); ``_get_closed_form_lr`` gives the closed form.

The schedulers live in one module per family (base, step, linear, cosine, sequential, plateau,
one_cycle); this package re-exports them, so ``gradcore.optim.lr_scheduler.StepLR`` works.
"""

from gradcore.optim.lr_scheduler.base import LRScheduler
from gradcore.optim.lr_scheduler.cosine import CosineAnnealingLR
from gradcore.optim.lr_scheduler.linear import ConstantLR, LinearLR
from gradcore.optim.lr_scheduler.one_cycle import OneCycleLR
from gradcore.optim.lr_scheduler.plateau import ReduceLROnPlateau
from gradcore.optim.lr_scheduler.sequential import SequentialLR, warmup_cosine
from gradcore.optim.lr_scheduler.step import ExponentialLR, LambdaLR, MultiStepLR, StepLR

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "ConstantLR",
    "LambdaLR",
    "SequentialLR",
    "ReduceLROnPlateau",
    "OneCycleLR",
    "warmup_cosine",
]
