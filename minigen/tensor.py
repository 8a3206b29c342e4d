"""Tensor: an array with an optional gradient and the Function that created it; `tensor` and `as_tensor`.

Tensor's operators and methods are thin calls into the ops (minigen/ops/) and the engine, looked up at call
time: those modules import Tensor from here, so they are imported at the end of this file.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import backend, dtypes as _dtypes
from .aliases import arg_indices, torch_names
from .function import _SCALARS, Function, _new

# ---------------------------------------------------------------------------------------------- Tensor



class Tensor:
    """An array with an optional gradient and the Function that created it."""

    # Every Tensor sets the three slots; the rarely set attributes live in a lazily created __dict__ and
    # default to the class attributes below, so that making a Tensor (the engine's hottest path) is cheap.
    __slots__ = ("data", "_requires_grad", "creator", "__dict__", "__weakref__")
    __array_priority__ = 1000  # make ndarray <op> Tensor defer to Tensor's reflected operators
    grad = None  # the accumulated gradient of a leaf (or of a non-leaf that retains it)
    index = 0  # which output of its creator this is
    hooks = None  # list of gradient hooks (register_hook)
    retains_grad = False  # keep .grad on a non-leaf (retain_grad)
    name = None  # shown by minigen.viz.graph
    _version = 0  # bumped by every in-place op (minigen/inplace.py)

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        elif isinstance(data, _SCALARS) or not hasattr(data, "shape"):
            data = np.asarray(data, dtype=_dtypes.get_default_dtype())
        self.data = data
        self._requires_grad = False
        self.creator = None
        if name is not None:
            self.name = name
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(data, creator: Function | None = None, index: int = 0) -> Tensor:
        """Fast constructor used by the engine (no checks)."""
        t = _new(Tensor)
        t.data = data
        t._requires_grad = creator is not None
        t.creator = creator
        if index:
            t.index = index
        return t

    # -------------------------------------------------------------------------------------- properties
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require gradients "
                            f"(got dtype {self.data.dtype}, shape {tuple(self.data.shape)})")
        if not value and self.creator is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf tensor; use detach()")
        self._requires_grad = bool(value)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    def numel(self) -> int:
        return int(self.data.size)

    def size(self, dim: int | None = None):
        """The shape, or the length of axis `dim` (PyTorch's x.size())."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def __len__(self) -> int:
        return len(self.data)

    # -------------------------------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied from the GPU when needed)."""
        return backend.to_device(self.data, "cpu")

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """The same values, cut from the graph."""
        return Tensor._make(self.data)

    def clone(self) -> Tensor:
        """A copy with its own memory, in the graph (d clone(x) = dx)."""
        return _ew.Clone.apply(self)

    def to(self, *args, device: str | None = None, dtype=None) -> Tensor:
        """On another device and/or of another dtype, as PyTorch's x.to("cuda"), x.to(mg.float64),
        x.to("cuda", mg.float64), x.to(other) (other's device and dtype); self when nothing changes;
        differentiable."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str):
                device = a
            else:
                dtype = a
        out = self if device is None or device == self.device else _to_device(self, device)
        return out if dtype is None else _cast(out, np.dtype(dtype))

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def astype(self, dtype) -> Tensor:
        return _cast(self, np.dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def requires_grad_(self, value: bool = True) -> Tensor:
        self.requires_grad = value
        return self

    def __repr__(self) -> str:
        extra = ""
        if self.creator is not None:
            extra = f", grad_fn=<{type(self.creator).__name__}>"
        elif self._requires_grad:
            extra = ", requires_grad=True"
        dev = "" if self.device == "cpu" else ", device='cuda'"
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{dev}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    # -------------------------------------------------------------------------------------- operators
    def __add__(self, other): return _ew.Add.apply(self, other)
    def __radd__(self, other): return _ew.Add.apply(other, self)
    def __sub__(self, other): return _ew.Sub.apply(self, other)
    def __rsub__(self, other): return _ew.Sub.apply(other, self)
    def __mul__(self, other): return _ew.Mul.apply(self, other)
    def __rmul__(self, other): return _ew.Mul.apply(other, self)
    def __truediv__(self, other): return _ew.Div.apply(self, other)
    def __rtruediv__(self, other): return _ew.Div.apply(other, self)
    def __pow__(self, other): return _ew.Pow.apply(self, other)
    def __rpow__(self, other): return _ew.Pow.apply(other, self)
    def __matmul__(self, other): return _linalg.matmul(self, as_tensor(other, self))
    def __rmatmul__(self, other): return _linalg.matmul(as_tensor(other, self), self)
    def __neg__(self): return _ew.Neg.apply(self)
    def __eq__(self, other): return _ew.compare("eq", self, other)
    def __ne__(self, other): return _ew.compare("ne", self, other)
    def __lt__(self, other): return _ew.compare("lt", self, other)
    def __le__(self, other): return _ew.compare("le", self, other)
    def __gt__(self, other): return _ew.compare("gt", self, other)
    def __ge__(self, other): return _ew.compare("ge", self, other)
    def __getitem__(self, index): return _shape.getitem(self, index)

    # ------------------------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False): return _red.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _red.mean(self, axis, keepdims)
    def var(self, axis=None, keepdims=False): return _red.var(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _red.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _red.min(self, axis, keepdims)
    def logsumexp(self, axis=None, keepdims=False): return _red.logsumexp(self, axis, keepdims)
    def cumsum(self, axis=-1, reverse=False): return _red.cumsum(self, axis, reverse)
    def softmax(self, axis=-1): return _red.softmax(self, axis)
    def log_softmax(self, axis=-1): return _red.log_softmax(self, axis)

    def argmax(self, axis=None): return _red.argmax(self, axis)
    def argmin(self, axis=None): return _red.argmin(self, axis)

    # ---------------------------------------------------------------------------------------- shapes
    def reshape(self, *shape): return _shape.reshape(self, *shape)
    def view(self, *shape): return _shape.reshape(self, *shape)
    def transpose(self, *axes): return _shape.transpose(self, *axes)
    def permute(self, *axes): return _shape.transpose(self, *axes)
    def flatten(self, start_axis=0, end_axis=-1): return _shape.flatten(self, start_axis, end_axis)
    def squeeze(self, axis=None): return _shape.squeeze(self, axis)
    def unsqueeze(self, axis): return _shape.unsqueeze(self, axis)
    def expand(self, *shape): return _shape.expand(self, *shape)
    def broadcast_to(self, shape): return _shape.broadcast_to(self, shape)

    @property
    def T(self) -> Tensor:
        return _shape.transpose(self)

    # ------------------------------------------------------------------------------------ elementwise
    def exp(self): return _ew.Exp.apply(self)
    def log(self): return _ew.Log.apply(self)
    def expm1(self): return _ew.Expm1.apply(self)
    def log1p(self): return _ew.Log1p.apply(self)
    def sqrt(self): return _ew.Sqrt.apply(self)
    def abs(self): return _ew.Abs.apply(self)
    def clip(self, lo=None, hi=None): return _ew.clip(self, lo, hi)
    def clamp(self, min=None, max=None): return _ew.clip(self, min, max)  # noqa: A002  (PyTorch's names)
    def sigmoid(self): return _ew.Sigmoid.apply(self)
    def tanh(self): return _ew.Tanh.apply(self)
    def relu(self): return _ew.Relu.apply(self)
    def softplus(self): return _ew.Softplus.apply(self)

    # --------------------------------------------------------------------------------------- autograd
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (self must be scalar unless `gradient`)."""
        backward([self], [gradient], retain_graph=create_graph if retain_graph is None else retain_graph,
                 create_graph=create_graph)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]):
        """Call `hook(grad)` when this tensor's gradient is computed; a returned Tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)
        hooks = self.hooks
        return _HookHandle(lambda: hooks.remove(hook) if hook in hooks else None)

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor too."""
        self.retains_grad = True

    # ------------------------------------------------------------------ in place (minigen/inplace.py)
    def zero_(self): return _inplace.zero_(self)
    def fill_(self, value): return _inplace.fill_(self, value)
    def add_(self, other, alpha=1): return _inplace.add_(self, other, alpha)
    def mul_(self, other): return _inplace.mul_(self, other)
    def __setitem__(self, index, value): _inplace.setitem(self, index, value)


class _HookHandle:
    def __init__(self, remove):
        self.remove = remove


for _method in ("sum", "mean", "var", "logsumexp", "cumsum", "softmax", "log_softmax", "argmax", "argmin",
                "flatten", "squeeze", "unsqueeze"):  # PyTorch's dim=/keepdim= beside axis=/keepdims=
    setattr(Tensor, _method, torch_names(getattr(Tensor, _method)))
Tensor.max = torch_names(Tensor.max, indices=arg_indices("argmax"))
Tensor.min = torch_names(Tensor.min, indices=arg_indices("argmin"))


def tensor(data, requires_grad: bool = False, dtype=None, device: str | None = None) -> Tensor:
    """A new leaf Tensor (a copy). Arrays keep their dtype; Python data gets torch.tensor's: floats the
    default float dtype (float32), integers int64, booleans bool."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if hasattr(data, "dtype"):
        data = data.astype(data.dtype if dtype is None else dtype, copy=True)
    else:
        data = np.asarray(data)
        data = data.astype(_dtypes.infer(data) if dtype is None else dtype, copy=False)
    if device is not None:
        data = backend.to_device(data, device)
    return Tensor(data, requires_grad=requires_grad)


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """`x` as a Tensor; Python scalars take the device of `like` and the dtype NumPy gives them beside it."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, _SCALARS):  # NumPy's weak scalars (minigen/dtypes.py)
        xp = np if type(like.data) is np.ndarray else backend.array_module(like.data)
        return Tensor._make(xp.asarray(x, dtype=_dtypes.scalar_dtype(x, like.data.dtype)))
    if hasattr(x, "dtype") and not isinstance(x, np.generic):
        return Tensor._make(x)
    return Tensor._make(np.asarray(x, dtype=like.data.dtype if like is not None else _dtypes.get_default_dtype()))


# The op modules and the engine import Tensor from here, so they are imported last; Tensor's methods look
# them up at call time.
from .function import _cast, _to_device  # noqa: E402
from .ops import elementwise as _ew, linalg as _linalg, reduction as _red, shape as _shape  # noqa: E402
from .engine import backward  # noqa: E402
from . import inplace as _inplace  # noqa: E402
