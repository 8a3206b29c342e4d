"""Tensor, Function and the reverse-mode engine, under the one name users import them by.

Read them in this order: minigen/function.py (Function, how `apply` records a node, no_grad and anomaly
mode), minigen/tensor.py (Tensor and its methods), minigen/engine.py (the reverse sweep: `backward`,
`grad`). `minigen.autograd.functional` is torch.autograd.functional's jacobian and hessian.
"""
import sys

from .function import (Function, _check_finite, enable_grad, is_grad_enabled, no_grad,  # noqa: F401
                       set_anomaly_mode, set_grad_enabled)
from .tensor import Tensor, _HookHandle, as_tensor, tensor  # noqa: F401
from .engine import backward, grad  # noqa: F401
from . import autograd_functional as functional  # noqa: E402

# `import minigen.autograd.functional` finds this module under that name, as `import os.path` does
sys.modules[__name__ + ".functional"] = functional
