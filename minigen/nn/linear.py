"""Linear: y = x W^T + b with PyTorch's layout and default initialisation."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor
from ..dtypes import resolve
from . import init
from .module import Module, Parameter, check_input_dtype


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features); W, b ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: str = "cpu",
                 dtype=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), resolve(dtype)))
        self.register_parameter("bias", Parameter(np.zeros(self.out_features, resolve(dtype))) if bias else None)
        self.reset_parameters()
        if device != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        init.default_weight_bias_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_input_dtype(self, x, self.weight)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
