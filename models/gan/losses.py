"""The GAN losses and the discriminator's constraints, shared by every GAN here.

Discriminator outputs are logits (the sigmoid is folded into the loss, which is the same function as a
sigmoid unit followed by log, computed stably) or, for the Wasserstein and hinge losses, unbounded scores.

    D minimax / non-saturating:  softplus(-D(x)) + softplus(D(G(z)))      = -log s(D(x)) - log(1 - s(D(G(z))))
    G minimax:                   -softplus(D(G(z)))                        =  log(1 - s(D(G(z))))
    G non-saturating:            softplus(-D(G(z)))                        = -log s(D(G(z)))
    D Wasserstein:               D(G(z)) - D(x);             G: -D(G(z))
    D hinge:                     relu(1 - D(x)) + relu(1 + D(G(z)));   G: -D(G(z))
    D least squares (LSGAN):     (D(x) - 1)^2 / 2 + D(G(z))^2 / 2;     G: (D(G(z)) - 1)^2 / 2   (CycleGAN)

`reconstruction_loss` is the distance of an image to its reconstruction that pix2pix (L1 to the target),
CycleGAN (cycle and identity terms) and StarGAN (reconstruction) add: mean |x - r| (L1) or mean (x - r)^2 (L2).
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn

LOSSES = ("minimax", "non-saturating", "wasserstein", "hinge", "least-squares")
NORMS = ("l1", "l2")


def check_kind(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; expected one of {', '.join(LOSSES)}")


def discriminator_loss(kind: str, real: mg.Tensor, fake: mg.Tensor) -> mg.Tensor:
    """The discriminator's loss on its outputs for a real and a generated batch (see the module docstring)."""
    check_kind(kind)
    if kind in ("minimax", "non-saturating"):
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "wasserstein":
        return fake.mean() - real.mean()
    if kind == "least-squares":
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def generator_loss(kind: str, fake: mg.Tensor) -> mg.Tensor:
    """The generator's loss on the discriminator's outputs for generated samples."""
    check_kind(kind)
    if kind == "minimax":
        return -F.softplus(fake).mean()
    if kind == "non-saturating":
        return F.softplus(-fake).mean()
    if kind == "least-squares":
        return 0.5 * ((fake - 1) ** 2).mean()
    return -fake.mean()


def reconstruction_loss(x: mg.Tensor, reconstruction: mg.Tensor, norm: str = "l1") -> mg.Tensor:
    """mean |x - r| ("l1") or mean (x - r)^2 ("l2") over every element: 0 exactly when r = x."""
    if norm not in NORMS:
        raise ValueError(f"reconstruction_loss: unknown norm {norm!r}; expected one of {', '.join(NORMS)}")
    if tuple(x.shape) != tuple(reconstruction.shape):
        raise ValueError(f"reconstruction_loss: x {x.shape} and its reconstruction {reconstruction.shape} differ "
                         f"in shape on {x.device}")
    diff = x - reconstruction
    return diff.abs().mean() if norm == "l1" else (diff * diff).mean()


def gradient_penalty(critic, real: mg.Tensor, fake: mg.Tensor, weight: float = 10.0,
                     alpha: mg.Tensor | None = None) -> mg.Tensor:
    """weight * E[(||grad_x critic(x_hat)||_2 - 1)^2], x_hat = a x + (1 - a) G(z), one a ~ U[0,1] per example.

    The norm runs over every non-batch axis; the gradient is taken with create_graph=True, so the penalty's
    own gradient flows back into the critic's parameters (double backward).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {real.shape} and fake {fake.shape} batches differ in shape "
                         f"on {real.device}")
    n = real.shape[0]
    if alpha is None:
        alpha = mg.rand(n, dtype=real.dtype, device=real.device)
    alpha = alpha.reshape((n,) + (1,) * (real.ndim - 1))
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).detach().requires_grad_()
    (g,) = mg.grad(critic(x_hat).sum(), [x_hat], create_graph=True)
    norm = ((g * g).flatten(1).sum(axis=1) + 1e-12).sqrt()
    return weight * ((norm - 1) ** 2).mean()


def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN's Lipschitz constraint: clip every parameter of `module` to [-c, c] in place."""
    for p in module.parameters():
        xp = backend.array_module(p.data)
        p.data = xp.clip(p.data, -c, c)


def grad_norm(params) -> float:
    """The global L2 norm of the accumulated gradients ||(g_1, ..., g_k)||_2."""
    total = 0.0
    for p in params:
        if p.grad is not None:
            total += float((p.grad.data.astype(np.float64) ** 2).sum())
    return total ** 0.5
