"""minigen: a small, readable reverse-mode autodiff engine on NumPy (and CuPy), with generative models."""
from . import backend
from .autograd import (Function, Tensor, as_tensor, enable_grad, grad, is_grad_enabled, no_grad,
                       set_anomaly_mode, set_grad_enabled, tensor)
from .backend import cuda, manual_seed
from .creation import (arange, from_numpy, full, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       zeros, zeros_like)
from .dtypes import (bool, double, float, float16, float32, float64, get_default_dtype, half, int, int8,  # noqa: A004
                     int16, int32, int64, long, set_default_dtype, short, uint8)
from .ops.elementwise import (abs, clamp, clip, clone, exp, expm1, log, log1p, maximum, minimum, relu, sigmoid,
                              softplus, sqrt, tanh)
from .ops.linalg import einsum, matmul
from .ops.reduction import cumsum, logsumexp, max, mean, min, softmax, log_softmax, sum, var
from .ops.shape import (broadcast_to, cat, expand, flatten, pad, reshape, squeeze, stack, transpose,
                        unsqueeze, where)
from .profiler import profile
from . import distributions  # noqa: E402
from . import nn  # noqa: E402  (after the engine, which nn builds on)
from . import data, optim, utils  # noqa: E402
from .serialization import load, save  # noqa: E402
from .aliases import arg_indices as _arg_indices, torch_names as _torch_names  # noqa: E402

# PyTorch's dim=/keepdim= beside NumPy's axis=/keepdims= (minigen/aliases.py)
cumsum, flatten, log_softmax, logsumexp, mean, softmax, squeeze, sum, unsqueeze, var, cat, stack = (
    _torch_names(f) for f in (cumsum, flatten, log_softmax, logsumexp, mean, softmax, squeeze, sum, unsqueeze,
                              var, cat, stack))
max = _torch_names(max, indices=_arg_indices("argmax"))
min = _torch_names(min, indices=_arg_indices("argmin"))

__version__ = "0.1.0"
