"""Weight averaging with PyTorch's `optim.swa_utils` semantics: stochastic weight averaging (SWA, Izmailov et
al. 2018) and the exponential moving average of the weights (Polyak averaging, as PixelCNN++ evaluates).

    averaged = AveragedModel(model)                                   # SWA: the running mean of the weights
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))   # EMA
    ...after each optimizer step: averaged.update_parameters(model)
    averaged.module                                                   # a copy of the model with the averages

`update_parameters` copies the model's parameters on its first call (n_averaged = 0) and afterwards applies
the averaging function, given the number of updates already averaged:

    SWA (default)  a <- a + (p - a) / (n + 1)          the mean of every set of weights seen
    EMA            a <- decay a + (1 - decay) p        theta_bar_t = decay theta_bar_{t-1} + (1 - decay) theta_t

With use_buffers=False (the default) buffers are not averaged: the copy's buffers follow the model's at each
update, as in PyTorch. The trainer keeps a model's averages when its `configure_averaging()` returns one
(docs/design.md, "The model protocol").
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np

import minigen as mg
from minigen import nn


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """avg_fn(averaged, current, num_averaged) = decay averaged + (1 - decay) current (raw arrays)."""
    _check_decay(decay)

    def ema_update(averaged, current, num_averaged):
        return decay * averaged + (1.0 - decay) * current

    return ema_update


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """multi_avg_fn(averaged_list, current_list, num_averaged): the EMA update of every array in place."""
    _check_decay(decay)

    def ema_update(averaged_list, current_list, num_averaged):
        for a, p in zip(averaged_list, current_list):
            a *= decay
            a += (1.0 - decay) * p

    return ema_update


def _check_decay(decay: float) -> None:
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"EMA decay must be in [0, 1), got {decay}")


def _swa_update(averaged, current, num_averaged):
    """The running mean: averaged + (current - averaged) / (num_averaged + 1)."""
    return averaged + (current - averaged) / (num_averaged + 1)


class AveragedModel(nn.Module):
    """A copy of `model` (`self.module`) whose parameters (and buffers when use_buffers=True) hold an average
    of the model's over the calls of `update_parameters`. Give at most one of avg_fn (one array at a time,
    returns the new average) and multi_avg_fn (all arrays at once, in place); neither: SWA's equal average."""

    def __init__(self, model: nn.Module, device: str | None = None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module.to(device)
        for p in self.module.parameters():
            p.requires_grad = False  # the averages are never trained
        self.register_buffer("n_averaged", mg.tensor(np.array(0, dtype=np.int64), device=self.module_device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    @property
    def module_device(self) -> str:
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            return t.device
        return "cpu"

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, module: nn.Module) -> list:
        tensors = list(module.parameters())
        return tensors + list(module.buffers()) if self.use_buffers else tensors

    def update_parameters(self, model: nn.Module) -> None:
        """Fold the model's current weights into the averages (the first call copies them)."""
        mine, theirs = self._averaged_tensors(self.module), self._averaged_tensors(model)
        if len(mine) != len(theirs) or any(a.shape != p.shape for a, p in zip(mine, theirs)):
            raise ValueError(f"AveragedModel.update_parameters: the model's {len(theirs)} tensors do not match "
                             f"the {len(mine)} averaged ones (another model?)")
        device = self.module_device
        current = [mg.tensor(p.data, device=device).data if p.device != device else p.data for p in theirs]
        n = int(self.n_averaged.item())
        if n == 0:
            for a, p in zip(mine, current):
                a.data = p.copy()
        elif self.multi_avg_fn is not None:
            self.multi_avg_fn([a.data for a in mine], current, n)
        else:
            fn = self.avg_fn or _swa_update
            for a, p in zip(mine, current):
                a.data = fn(a.data, p, n).astype(a.data.dtype, copy=False)
        if not self.use_buffers:  # buffers are not averaged: they follow the model's
            for b, b_model in zip(self.module.buffers(), model.buffers()):
                b.data = mg.tensor(b_model.data, device=device).data.copy()
        self.n_averaged.data = self.n_averaged.data + 1
