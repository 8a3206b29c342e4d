"""Optimizers (SGD, Adam, AdamW, RMSprop), gradient clipping, learning-rate schedules and weight averaging
(swa_utils: AveragedModel, EMA), with PyTorch's semantics."""
from . import lr_scheduler, swa_utils
from .adam import Adam, AdamW
from .clip import clip_grad_norm_
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "clip_grad_norm_", "lr_scheduler", "swa_utils"]
