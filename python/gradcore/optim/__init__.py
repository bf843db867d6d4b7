"""Optimizers (native fused updates), learning-rate schedulers and their state dicts."""

from gradcore.optim import lr_scheduler
from gradcore.optim.adagrad import Adagrad
from gradcore.optim.adam import Adam, AdamW
from gradcore.optim.optimizer import Optimizer, ParamState
from gradcore.optim.rmsprop import RMSprop
from gradcore.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "ParamState", "RMSprop", "lr_scheduler"]
