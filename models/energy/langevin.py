"""Langevin dynamics on an energy E(x) and the replay buffer of Du & Mordatch (2019).

Unadjusted Langevin (stochastic gradient Langevin dynamics with the exact gradient) samples p(x) ~ exp(-E(x)):

    x_{t+1} = x_t - step_size * grad_x E(x_t) + noise * eps_t,       eps_t ~ N(0, I),

which targets exp(-E) when noise = sqrt(2 step_size) (up to the O(step_size) discretisation error), and
exp(-E / T) with T = noise^2 / (2 step_size) otherwise. Du & Mordatch decouple the two (a large step, a small
noise: a low-temperature sampler that sharpens samples) and clip the gradient elementwise to
[-grad_clip, grad_clip] so that no step jumps far; `bounds` clamps x to the data's box after every step.

The replay buffer keeps past chain end-points: each batch of negative samples starts from buffer entries,
except a share `reinit` that restarts from the uniform noise of the data's box, and the chains' ends replace
the entries they came from.
"""
from __future__ import annotations

import minigen as mg
from minigen import backend


def energy_grad(energy, x):
    """grad_x sum_i E(x_i) on raw arrays x (B, ...), through the engine; no parameter gradients accumulate."""
    t = mg.tensor(x, requires_grad=True)
    with mg.enable_grad():
        (g,) = mg.grad(energy(t).sum(), [t])
    return g.data


def langevin(energy, x, steps: int, step_size: float, noise: float, grad_clip: float | None = None,
             bounds: tuple | None = None, rng=None, every: int | None = None):
    """`steps` Langevin steps from raw x (module docstring); returns the end-points, or with `every` the
    list of snapshots every `every` steps (the start first) for a picture of the chain."""
    xp = backend.array_module(x)
    rng = rng if rng is not None else backend.rng(backend.device_of(x))
    frames = [x.copy()] if every else None
    # in x's dtype: a NumPy float64 step or noise (np.sqrt(2 * step)) would turn float32 chains into float64
    step_size, noise = x.dtype.type(step_size), x.dtype.type(noise)
    for t in range(steps):
        g = energy_grad(energy, x)
        if grad_clip is not None:
            g = xp.clip(g, -grad_clip, grad_clip)
        x = x - step_size * g + noise * rng.standard_normal(x.shape).astype(x.dtype)
        if bounds is not None:
            x = xp.clip(x, bounds[0], bounds[1])
        if every and (t + 1) % every == 0:
            frames.append(x.copy())
    return frames if every else x


class ReplayBuffer:
    """Past negative samples (a raw array `data`, kept by its owner as a buffer so checkpoints hold it)."""

    def __init__(self, data, low: float, high: float, reinit: float = 0.05):
        if not 0.0 <= reinit <= 1.0:
            raise ValueError(f"ReplayBuffer: reinit must be a share in [0, 1], got {reinit}")
        self.data, self.low, self.high, self.reinit = data, low, high, reinit

    def noise(self, n: int, rng=None):
        """n uniform draws from the data's box [low, high]^d."""
        rng = rng if rng is not None else backend.rng(backend.device_of(self.data))
        u = rng.random((n,) + tuple(self.data.shape[1:]))
        return (self.low + (self.high - self.low) * u).astype(self.data.dtype)

    def draw(self, n: int, rng=None):
        """(indices, starts): n buffer entries, a share `reinit` of them replaced by fresh noise."""
        rng = rng if rng is not None else backend.rng(backend.device_of(self.data))
        idx = rng.integers(0, len(self.data), n)
        starts = self.data[idx].copy()
        fresh = rng.random(n) < self.reinit
        if fresh.any():
            starts[fresh] = self.noise(int(fresh.sum()), rng)
        return idx, starts

    def push(self, idx, x) -> None:
        """The chains that started at buffer entries `idx` end at x: store them there."""
        self.data[idx] = x
