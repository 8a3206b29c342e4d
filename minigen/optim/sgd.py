"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay (PyTorch's rule).

    g <- grad + weight_decay * p
    b <- g                                   (first step)
    b <- momentum * b + (1 - dampening) * g  (later steps)
    g <- g + momentum * b  (nesterov)   or   g <- b
    p <- p - lr * g
"""
from __future__ import annotations

from typing import Iterable

from .optimizer import Optimizer


class SGD(Optimizer):
    """p <- p - lr * (momentum buffer, or Nesterov's look-ahead), with L2 weight decay added to the gradient."""

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum requires momentum > 0 and dampening = 0 "
                             f"(got momentum={momentum}, dampening={dampening})")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def _check_hyper(self, group: dict) -> None:
        super()._check_hyper(group)
        if not group["momentum"] >= 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']} (must be >= 0)")

    def _update(self, p, g, group: dict, state: dict) -> None:
        momentum, wd = group["momentum"], group["weight_decay"]
        if wd:
            g = g + wd * p
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p -= group["lr"] * g
