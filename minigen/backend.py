"""Array modules per device: NumPy on "cpu", CuPy on "cuda"; device moves; seeding.

Everything device-specific in the engine goes through this file, so that the rest of minigen is written
once against "an array module" `xp`.
"""
from __future__ import annotations

import contextlib
import copy
import types

import numpy as np

_cupy = None
_cupy_checked = False


def _import_cupy():
    """CuPy, or None when it is not installed or no GPU can be used (never raises)."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy = cupy
        except Exception:
            _cupy = None
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _import_cupy() is not None


cuda = types.SimpleNamespace(is_available=cuda_is_available)


def device_of(a) -> str:
    """"cpu" for NumPy arrays, "cuda" for CuPy arrays."""
    return "cpu" if isinstance(a, (np.ndarray, np.generic)) else "cuda"


def array_module(a):
    """The array module (numpy or cupy) that owns array `a`."""
    if isinstance(a, (np.ndarray, np.generic)):
        return np
    return _import_cupy() or np


def as_array(a):
    """`a` itself when it is already an array (NumPy or CuPy, any device), else np.asarray(a).
    (np.asarray on a CuPy array raises: CuPy refuses implicit copies to the host.)"""
    return a if isinstance(a, np.ndarray) or (hasattr(a, "dtype") and hasattr(a, "shape")
                                              and not isinstance(a, np.generic)) else np.asarray(a)


def synchronize(device: str) -> None:
    """Wait for the device's queued work (a no-op on the CPU); for timings."""
    if device == "cuda":
        xp_for("cuda").cuda.get_current_stream().synchronize()


def xp_for(device: str):
    """The array module for a device name."""
    if device == "cpu":
        return np
    if device == "cuda":
        cp = _import_cupy()
        if cp is None:
            raise RuntimeError("device 'cuda' requested but CuPy or a GPU is not available "
                               "(mg.cuda.is_available() is False)")
        return cp
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")


def to_device(a, device: str):
    """Copy array `a` to `device` (no copy when it is already there)."""
    if device_of(a) == device:
        return a
    if device == "cpu":
        return a.get()
    return xp_for("cuda").asarray(a)


_seed = 0
_rngs: dict = {}
_rng_view = None  # set by minigen.distributed during a data-parallel step: wraps the generator rng() returns


def manual_seed(seed: int) -> None:
    """Seed every random op (randn, dropout, sampling) on every device."""
    global _seed
    _seed = int(seed)
    _rngs.clear()


@contextlib.contextmanager
def fork_rng():
    """Random ops inside the block may reseed and draw freely; on leaving it every device's generator and the
    seed are what they were (torch.random.fork_rng's contract). Inside the block each device draws from a copy
    of its generator (the same numbers it would have drawn), so the saved generators are never advanced; a
    generator that cannot be copied is set aside and its device starts from the seed inside the block."""
    global _seed
    saved_seed, saved = _seed, dict(_rngs)
    _rngs.clear()
    for device, generator in saved.items():
        try:
            _rngs[device] = copy.deepcopy(generator)
        except (TypeError, copy.Error):
            pass  # rng(device) reseeds it from _seed inside the block
    try:
        yield
    finally:
        _seed = saved_seed
        _rngs.clear()
        _rngs.update(saved)


def reseed(device: str, seed: int) -> None:
    """Restart one device's generator from `seed` (the others keep their streams)."""
    _rngs[device] = (np.random.default_rng(seed) if device == "cpu"
                     else xp_for("cuda").random.default_rng(seed))


def rng(device: str = "cpu"):
    """The random generator of a device (numpy.random.Generator or cupy.random.Generator)."""
    if device not in _rngs:
        reseed(device, _seed)
    return _rngs[device] if _rng_view is None else _rng_view(_rngs[device])
