"""minigen: a small, readable reverse-mode autodiff engine on NumPy (and CuPy), with generative models."""
import numpy as _np

from . import backend
from .autograd import (Function, Tensor, as_tensor, enable_grad, grad, is_grad_enabled, no_grad,
                       set_anomaly_mode, set_grad_enabled, tensor)
from .backend import cuda, manual_seed
from .creation import (arange, full, ones, ones_like, rand, rand_like, randint, randn, randn_like, zeros,
                       zeros_like)
from .ops.elementwise import (abs, clip, exp, log, maximum, minimum, relu, sigmoid, softplus, sqrt,
                              tanh)
from .ops.linalg import matmul
from .ops.reduction import cumsum, logsumexp, max, mean, min, softmax, log_softmax, sum, var
from .ops.shape import (broadcast_to, cat, expand, flatten, pad, reshape, squeeze, stack, transpose,
                        unsqueeze, where)
from .profiler import profile
from . import distributions  # noqa: E402
from . import nn  # noqa: E402  (after the engine, which nn builds on)
from . import data, optim  # noqa: E402
from .serialization import load, save  # noqa: E402

float32 = _np.float32
float64 = _np.float64

__version__ = "0.1.0"
