"""minigen.nn: Module, Parameter, layers (one file per family) and init, with PyTorch's names."""
from . import init
from .activation import (ELU, GELU, Flatten, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax,
                         Softplus, Tanh, Unflatten)
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d, MaskedConv2d
from .dropout import Dropout, Dropout2d
from .embedding import Embedding
from .linear import Linear
from .maxout import Maxout
from .module import Module, Parameter
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from .rnn import GRU, LSTM, GRUCell, LSTMCell
from .spectral_norm import SpectralNorm, remove_spectral_norm, spectral_norm
from . import functional, utils  # noqa: E402  (minigen.functional and torch.nn.utils's names)

__all__ = ["init", "functional", "utils", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
           "Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "MaskedConv2d", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "InstanceNorm2d", "GroupNorm", "Dropout", "Dropout2d", "Embedding", "LSTM", "LSTMCell",
           "GRU", "GRUCell", "Maxout",
           "SpectralNorm", "spectral_norm", "remove_spectral_norm", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU",
           "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "Identity", "Flatten", "Unflatten"]
