"""RMSprop (Tieleman & Hinton, 2012), optionally centered (Graves, 2013) and with momentum (PyTorch's rule).

    g <- grad + weight_decay * p ;  s <- alpha * s + (1 - alpha) * g^2
    centered: a <- alpha * a + (1 - alpha) * g ;  d <- sqrt(s - a^2) + eps ;  else d <- sqrt(s) + eps
    momentum > 0: b <- momentum * b + g / d ;  p <- p - lr * b      else: p <- p - lr * g / d
"""
from __future__ import annotations

from typing import Iterable

from .. import backend
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """p <- p - lr * g / (sqrt(E[g^2] (- E[g]^2 when centered)) + eps), optionally through a momentum buffer."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check_hyper(self, group: dict) -> None:
        super()._check_hyper(group)
        if not 0 <= group["alpha"] <= 1:
            raise ValueError(f"RMSprop: invalid alpha {group['alpha']} (must lie in [0, 1])")
        if not group["momentum"] >= 0 or not group["eps"] >= 0:
            raise ValueError(f"RMSprop: invalid momentum {group['momentum']} or eps {group['eps']} "
                             "(both must be >= 0)")

    def _update(self, p, g, group: dict, state: dict) -> None:
        xp = backend.array_module(p)
        alpha, wd, momentum = group["alpha"], group["weight_decay"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
        state["step"] += 1
        if wd:
            g = g + wd * p
        s = state["square_avg"]
        s *= alpha
        s += (1 - alpha) * (g * g)
        if group["centered"]:
            a = state.setdefault("grad_avg", xp.zeros_like(p))
            a *= alpha
            a += (1 - alpha) * g
            denom = xp.sqrt(xp.maximum(s - a * a, 0))
        else:
            denom = xp.sqrt(s)
        denom += group["eps"]
        if momentum > 0:
            buf = state.setdefault("momentum_buffer", xp.zeros_like(p))
            buf *= momentum
            buf += g / denom
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * (g / denom)
