"""Adam (Kingma & Ba, 2015) with bias correction, optional AMSGrad and L2 weight decay (PyTorch's rule).

    g <- grad + weight_decay * p
    m <- beta1 * m + (1 - beta1) * g ;  v <- beta2 * v + (1 - beta2) * g^2 ;  v_max <- max(v_max, v)
    p <- p - lr / (1 - beta1^t) * m / (sqrt(v (or v_max)) / sqrt(1 - beta2^t) + eps)

On CUDA (without AMSGrad) a whole parameter group is updated by one fused kernel launch
(minigen.kernels.adam's multi-tensor kernel), one launch per distinct (dtype, step count) in the group.
"""
from __future__ import annotations

import math
from typing import Iterable

from .. import backend, kernels
from .optimizer import Optimizer


class Adam(Optimizer):
    """p <- p - lr * m_hat / (sqrt(v_hat) + eps), with bias-corrected moment estimates m_hat, v_hat."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _check_hyper(self, group: dict) -> None:
        super()._check_hyper(group)
        b1, b2 = group["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"Adam: invalid betas {group['betas']} (each must lie in [0, 1))")
        if not group["eps"] >= 0:
            raise ValueError(f"Adam: invalid eps {group['eps']} (must be >= 0)")

    @staticmethod
    def _fused(p, group: dict) -> bool:
        """Whether p's update runs in the CUDA kernel (not for AMSGrad)."""
        return not group["amsgrad"] and kernels.active(p) and p.flags.c_contiguous

    def _update_group(self, items: list, group: dict) -> None:
        batches: dict = {}  # (dtype, step) -> [(p, g, m, v)]: one multi-tensor launch each
        for p, g, state in items:
            if not self._fused(p, group):
                self._update(p, g, group, state)
                continue
            self._next_step(p, group, state)
            key = (p.dtype, state["step"])
            batches.setdefault(key, []).append((p, g, state["exp_avg"], state["exp_avg_sq"]))
        for (_, t), batch in batches.items():
            kernels.adam.adam_step(*map(list, zip(*batch)), t, group["lr"], group["betas"], group["eps"],
                                   group["weight_decay"])

    @staticmethod
    def _next_step(p, group: dict, state: dict) -> None:
        """Create the moment estimates on the first step; count the step."""
        if not state:
            xp = backend.array_module(p)
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1

    def _update(self, p, g, group: dict, state: dict) -> None:
        xp = backend.array_module(p)
        (b1, b2), wd = group["betas"], group["weight_decay"]
        self._next_step(p, group, state)
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if wd:
            g = g + wd * p
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        if group["amsgrad"]:
            vmax = state.setdefault("max_exp_avg_sq", xp.zeros_like(p))
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        denom = xp.sqrt(v)
        denom /= math.sqrt(1 - b2 ** t)
        denom += group["eps"]
        p -= (group["lr"] / (1 - b1 ** t)) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), torch.optim.AdamW:

        p <- p (1 - lr * weight_decay), then Adam's update of p with g = grad (no L2 term in g)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def _update_group(self, items: list, group: dict) -> None:
        decay = 1 - group["lr"] * group["weight_decay"]
        if decay != 1:
            for p, _, _ in items:
                p *= p.dtype.type(decay)
        super()._update_group(items, {**group, "weight_decay": 0.0})
