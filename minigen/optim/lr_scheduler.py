"""Learning-rate schedules with PyTorch's `optim.lr_scheduler` semantics, in closed form.

A scheduler records each group's starting rate as "initial_lr", applies the rate for step 0 when it is
built, and `step()` moves to the next step and writes the new rate into every group. Each rate is a
function of the step count alone (`last_epoch`), so `state_dict()` is a handful of numbers and a
resumed run continues exactly.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses give `_rate(base_lr, t)`, the learning rate at step t."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for k, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                               f"'initial_lr' in param group {k}")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def _rate(self, base_lr: float, t: int, k: int) -> float:
        """The learning rate of group k (starting rate base_lr) at step t."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The rates at the current step, one per group."""
        return [self._rate(base, self.last_epoch, k) for k, base in enumerate(self.base_lrs)]

    def step(self) -> None:
        """Advance one step and write the new rates into the optimizer's groups."""
        self.last_epoch += 1
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def get_last_lr(self) -> list[float]:
        """The rates most recently written into the groups."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (and any functions): numbers and lists of numbers."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)
                and not (isinstance(v, list) and any(callable(f) for f in v))}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the step count and rates saved by `state_dict()`."""
        self.__dict__.update(state_dict)


class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2 (SGDR without restarts, Loshchilov
    & Hutter, 2017), torch's closed form: after T_max steps the cosine continues (the rate rises again)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def _rate(self, base_lr: float, t: int, k: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class StepLR(LRScheduler):
    """lr_t = lr_0 * gamma ** floor(t / step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, last_epoch)

    def _rate(self, base_lr: float, t: int, k: int) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr_t = lr_0 * gamma ** t."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def _rate(self, base_lr: float, t: int, k: int) -> float:
        return base_lr * self.gamma ** t


class LambdaLR(LRScheduler):
    """lr_t = lr_0 * lr_lambda(t), with one function for all groups or one per group."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable],
                 last_epoch: int = -1):
        n = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(fns) != n:
            raise ValueError(f"LambdaLR: got {len(fns)} lr_lambdas for {n} parameter groups")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def _rate(self, base_lr: float, t: int, k: int) -> float:
        return base_lr * self.lr_lambdas[k](t)


class LinearLR(LRScheduler):
    """lr_t = lr_0 * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not (0 < start_factor <= 1 and 0 <= end_factor <= 1) or total_iters < 1:
            raise ValueError(f"LinearLR: need 0 < start_factor <= 1, 0 <= end_factor <= 1 and total_iters "
                             f">= 1, got {start_factor}, {end_factor}, {total_iters}")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def _rate(self, base_lr: float, t: int, k: int) -> float:
        frac = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class ExponentialDecayWithMomentumRamp(LRScheduler):
    """The conditional-GAN schedule (Mirza & Osindero, 2014): lr_t = max(lr_0 / decay ** t, min_lr) and
    momentum_t = m_start + (m_end - m_start) * min(t, ramp_steps) / ramp_steps.

    The paper starts at lr 0.1 with decay 1.00004 per update down to 1e-6, and momentum from 0.5 to 0.7.
    Momentum is written to each group's "momentum" (SGD, RMSprop) or to beta1 of its "betas" (Adam).
    """

    def __init__(self, optimizer: Optimizer, decay: float = 1.00004, min_lr: float = 1e-6,
                 momentum_start: float = 0.5, momentum_end: float = 0.7, ramp_steps: int = 250,
                 last_epoch: int = -1):
        if decay < 1 or ramp_steps < 1:
            raise ValueError(f"ExponentialDecayWithMomentumRamp: need decay >= 1 and ramp_steps >= 1, "
                             f"got decay={decay}, ramp_steps={ramp_steps}")
        for k, group in enumerate(optimizer.param_groups):
            if "momentum" not in group and "betas" not in group:
                raise TypeError(f"ExponentialDecayWithMomentumRamp: parameter group {k} of "
                                f"{type(optimizer).__name__} has no 'momentum' or 'betas' to ramp")
        self.decay, self.min_lr = float(decay), float(min_lr)
        self.momentum_start, self.momentum_end = float(momentum_start), float(momentum_end)
        self.ramp_steps = int(ramp_steps)
        super().__init__(optimizer, last_epoch)

    def _rate(self, base_lr: float, t: int, k: int) -> float:
        """max(lr_0 / decay ** t, min_lr): a division by the power, as written (not lr_0 * decay ** -t)."""
        return max(base_lr / self.decay ** t, self.min_lr)

    def momentum_at(self, t: int) -> float:
        """m_start + (m_end - m_start) * min(t, ramp_steps) / ramp_steps, evaluated left to right as written
        (the product before the division), so that it is bit for bit the paper's formula as the cGAN writes
        it: (m_end - m_start) * (min(t, ramp_steps) / ramp_steps) rounds differently at some steps (11 of the
        first 250 for 0.5 -> 0.7 over 250 steps, e.g. t = 65)."""
        return self.momentum_start + (self.momentum_end - self.momentum_start) * min(t, self.ramp_steps) \
            / self.ramp_steps

    def step(self) -> None:
        """Advance one step: new rates and momenta in every group."""
        super().step()
        m = self.momentum_at(self.last_epoch)
        for group in self.optimizer.param_groups:
            if "momentum" in group:
                group["momentum"] = m
            else:
                group["betas"] = (m, group["betas"][1])
        self._last_momentum = [m] * len(self.optimizer.param_groups)

    def get_last_momentum(self) -> list[float]:
        """The momenta most recently written into the groups."""
        return list(self._last_momentum)
