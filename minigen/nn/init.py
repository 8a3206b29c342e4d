"""In-place initialisers (PyTorch's torch.nn.init), drawn from `backend.rng` so mg.manual_seed fixes them.

Each replaces `tensor.data` with new values of the same shape, dtype and device, records nothing in the
graph, and returns the tensor.
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Tensor


def _fill(tensor: Tensor, values) -> Tensor:
    tensor.data = backend.xp_for(tensor.device).asarray(values, dtype=tensor.dtype).reshape(tensor.shape)
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended std gain of a nonlinearity: relu sqrt(2), tanh 5/3, leaky_relu sqrt(2/(1+a^2))."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (weights (out, in, ...))."""
    if tensor.ndim < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: needs at least 2 dimensions, got shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    u = backend.rng(tensor.device).random(tensor.shape)
    return _fill(tensor, a + (b - a) * u)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, mean + std * backend.rng(tensor.device).standard_normal(tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """Fill with N(mean, std^2) restricted to [a, b] (rejection: out-of-range draws are redrawn)."""
    xp = backend.xp_for(tensor.device)
    values = mean + std * backend.rng(tensor.device).standard_normal(tensor.shape)
    bad = (values < a) | (values > b)
    while bool(bad.any()):
        fresh = mean + std * backend.rng(tensor.device).standard_normal(tensor.shape)
        values = xp.where(bad, fresh, values)
        bad = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with a constant."""
    return _fill(tensor, backend.xp_for(tensor.device).full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (2-D tensors only)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: needs a 2-D tensor, got shape {tensor.shape}")
    return _fill(tensor, backend.xp_for(tensor.device).eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain sqrt(3 / fan) (He et al., 2015); gain from calculate_gain(nonlinearity, a)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al., 2013);
    the tensor is viewed as (shape[0], rest), and its rows (or columns, if fewer) are orthonormal."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    xp = backend.xp_for(tensor.device)
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = backend.rng(tensor.device).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q)


def default_weight_bias_(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's Linear/Conv default: kaiming_uniform_(a=sqrt(5)) on the weight, i.e. U(+-1/sqrt(fan_in)),
    and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
