"""Tensor, Function and the reverse-mode engine.

A `Function` computes on raw arrays in `forward` and returns input gradients as Tensors in `backward`,
so the backward pass is itself a graph (double backward). `Function.apply` records a node only when
gradients are enabled and some input requires them. Nodes hold their inputs strongly and their outputs
weakly: a graph lives exactly as long as the user holds its outputs.

The reverse sweep itself (`backward`, `grad`) is minigen/engine.py.
"""
from __future__ import annotations

import contextlib
import sys
import time
import weakref
from typing import Callable, Sequence

import numpy as np

from . import backend, dtypes as _dtypes
from .aliases import arg_indices, torch_names

_grad_enabled = True
_anomaly_mode = False
_profiler = None  # set by minigen.profiler.profile; called around every forward and backward
inplace_used = False  # set by the first in-place op; from then on nodes save their inputs' versions


# ----------------------------------------------------------------------------------------------- modes

def is_grad_enabled() -> bool:
    return _grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev: list = []  # a stack: one decorator instance may be entered recursively

    def __enter__(self):
        global _grad_enabled
        self.prev.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev.pop()


def no_grad() -> set_grad_enabled:
    """`with mg.no_grad():` records nothing; also usable as a decorator."""
    return set_grad_enabled(False)


def enable_grad() -> set_grad_enabled:
    """`with mg.enable_grad():` records again inside a no_grad block."""
    return set_grad_enabled(True)


def set_anomaly_mode(enabled: bool) -> None:
    """Check every forward output and backward gradient for NaN/inf and name the op that made it."""
    global _anomaly_mode
    _anomaly_mode = bool(enabled)


def _check_finite(op: str, phase: str, arrays, inputs) -> None:
    for a in arrays:
        if a is not None and a.dtype.kind in "fc" and not bool(backend.array_module(a).isfinite(a).all()):
            shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
            raise FloatingPointError(f"anomaly: {op} produced NaN or inf in {phase} "
                                     f"(input shapes {shapes}, output shape {tuple(a.shape)})")


# ---------------------------------------------------------------------------------------------- Tensor

_SCALARS = (int, float, bool, np.generic)
_new = object.__new__


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


# -------------------------------------------------------------------------------------------- Function

class Function:
    """One differentiable operation.

    Subclasses implement `forward(*arrays) -> array | tuple[array]` (saving on `self` what backward
    needs) and `backward(*grad_outputs: Tensor) -> Tensor | None | tuple`, written with Tensor ops so that
    it can itself be differentiated. Parameters are passed as keywords to `apply` and become attributes.
    """

    inputs: tuple | None = None  # None once the graph has been freed (or never recorded)
    outputs: Sequence = ()
    generation = 0

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors (or scalars/arrays) and record it when gradients are needed.

        Four steps, each a helper below this class:

        1. coerce inputs     `_as_tensors`: scalars and arrays become Tensors like the first Tensor input
        2. check devices     `_check_devices`: all arrays on one device, or an error naming op and devices
        3. run forward       `_forward` (`_inspected_forward` under the profiler or anomaly mode)
        4. record the node   `_record`, when gradients are on and some input requires them; otherwise the
                             outputs are plain Tensors with no creator

        This is the engine's hottest path, so the common case of each step (all inputs Tensors, one or two
        arrays of one type, no profiler or anomaly mode) is tested or spelled out here and costs no call.
        """
        f = _new(cls)
        if params:
            f.__dict__.update(params)
        for x in inputs:  # 1. coerce inputs
            if not isinstance(x, Tensor):
                inputs = _as_tensors(inputs)
                break
        n = len(inputs)  # 2. check devices (one and two inputs, nearly every op, are spelled out)
        if n == 1:
            arrays = (inputs[0].data,)
        elif n == 2:
            arrays = (inputs[0].data, inputs[1].data)
            if type(arrays[0]) is not type(arrays[1]):
                arrays = _check_devices(cls.__name__, inputs, arrays)
        else:
            arrays = _check_devices(cls.__name__, inputs, tuple([x.data for x in inputs]))
        if _profiler is None and not _anomaly_mode:  # 3. run forward (this is `_forward`, spelled out)
            try:
                ys = f.forward(*arrays)
            except (ValueError, IndexError, TypeError) as e:
                _reraise(cls.__name__, inputs, e)
            if type(ys) is not np.ndarray:
                ys = _as_arrays(ys)
        else:
            ys = _inspected_forward(f, arrays, inputs)
        if _grad_enabled:  # 4. record the node when an input requires grad; else untracked outputs
            for x in inputs:
                if x._requires_grad:
                    return _record(f, inputs, ys)
        return Tensor._make(ys) if type(ys) is not tuple else tuple(Tensor._make(y) for y in ys)

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def output(self, i: int = 0) -> Tensor:
        """Output `i` as a Tensor, for backward formulas such as d exp(x) = exp(x) dx."""
        return self.outputs[i]()

    def release(self) -> None:
        """Drop saved arrays and inputs: a second backward through this node is an error."""
        self.__dict__.clear()

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


# ----------------------------------------------------------------------------- Function.apply's steps

def _as_tensors(inputs: tuple) -> tuple:
    """Step 1: Tensors for every input; Python scalars take the dtype and device of the first Tensor."""
    like = None
    for x in inputs:
        if isinstance(x, Tensor):
            like = x
            break
    return tuple(x if isinstance(x, Tensor) else as_tensor(x, like) for x in inputs)


def _check_devices(op: str, xs, arrays) -> tuple:
    """Step 2: the arrays, all on one device (arrays of different types, say a NumPy scalar and an array,
    may be). As in PyTorch, a 0-d CPU constant (no gradient) joins CUDA inputs, so Normal(0., 1.) or
    `x * 2.0` work with CUDA tensors; any other mix is an error naming the op and the devices."""
    if all(type(a) is type(arrays[0]) for a in arrays):
        return arrays
    devices = [backend.device_of(a) for a in arrays]
    if all(d == devices[0] for d in devices):
        return arrays
    if all(d == "cuda" or (a.ndim == 0 and not x.requires_grad) for d, a, x in zip(devices, arrays, xs)):
        return tuple(backend.to_device(a, "cuda") for a in arrays)
    _device_error(op, xs)


def _forward(f: Function, arrays: tuple, inputs: tuple):
    """Step 3: f.forward on the arrays; errors name the op and the inputs, 0-d NumPy scalars become arrays."""
    try:
        ys = f.forward(*arrays)
    except (ValueError, IndexError, TypeError) as e:
        _reraise(type(f).__name__, inputs, e)
    return ys if type(ys) is np.ndarray else _as_arrays(ys)


def _as_arrays(ys):
    """Step 3's outputs as arrays: NumPy returns a scalar for a 0-d result, alone or in a tuple."""
    if type(ys) is tuple:
        return tuple(np.asarray(y) if isinstance(y, _SCALARS) else y for y in ys)
    return np.asarray(ys) if isinstance(ys, _SCALARS) else ys


def _inspected_forward(f: Function, arrays: tuple, inputs: tuple):
    """Step 3 under the profiler (timed, GPU synchronised) or anomaly mode (outputs checked for NaN/inf)."""
    prof = _profiler
    if prof is not None:
        prof.synchronize(arrays)
    t0 = time.perf_counter()
    ys = _forward(f, arrays, inputs)
    outputs = ys if type(ys) is tuple else (ys,)
    if prof is not None:
        prof.synchronize(arrays)
        prof.record_forward(type(f).__name__, time.perf_counter() - t0, outputs)
    if _anomaly_mode:
        _check_finite(type(f).__name__, "forward", outputs, inputs)
    return ys


def _record(f: Function, inputs: tuple, ys):
    """Step 4: the output Tensors with node f in the graph: its inputs held strongly, its outputs weakly."""
    single = type(ys) is not tuple
    if single and ys.dtype.kind not in "fc":  # integer and boolean outputs carry no gradient: no node
        return Tensor._make(ys)
    generation = 0  # one more than the inputs' nodes: the engine runs a node after all its consumers
    for x in inputs:
        c = x.creator
        if c is not None and c.generation > generation:
            generation = c.generation
    f.generation = generation + 1
    if inplace_used:  # what the backward sweep checks: no input modified in place since (inplace.py)
        f.versions = tuple([x._version for x in inputs])
    f.inputs = inputs
    if single:
        out = Tensor._make(ys, f)
        f.outputs = (weakref.ref(out),)
        return out
    outs = tuple(Tensor._make(y, f, i) if y.dtype.kind in "fc" else Tensor._make(y) for i, y in enumerate(ys))
    f.outputs = tuple(weakref.ref(o) for o in outs)
    f.output_meta = [(y.shape, y.dtype) for y in ys]  # zeros for the outputs that get no gradient
    return outs


def _device_error(op: str, xs):
    """Step 2's error: the op and each input's shape and device."""
    devices = ", ".join(f"{tuple(x.shape)} on {x.device}" for x in xs)
    raise RuntimeError(f"{op}: expected all inputs on one device, got {devices}")


def _reraise(op: str, xs, e: Exception):
    """Step 3's errors: the forward's exception, of the same type, naming the op and the inputs."""
    shapes = ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in xs)
    device = xs[0].device if xs else "cpu"
    msg = f"{op}: {e} (inputs: {shapes}; device {device})"
    try:
        err = type(e)(msg)
    except Exception:
        err = ValueError(msg)
    raise err from e


# ------------------------------------------------------------------------------ ops the Tensor needs

class _ToDevice(Function):
    """Copy to another device; the gradient goes back to the source device."""

    def forward(self, x):
        self.source = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return _to_device(gy, self.source)


def _to_device(x: Tensor, device: str) -> Tensor:
    backend.xp_for(device)
    return _ToDevice.apply(x, device=device)


class _Cast(Function):
    """Change dtype; the gradient is cast back. d/dx cast(x) = 1."""

    def forward(self, x):
        self.source = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return _cast(gy, self.source)


def _cast(x: Tensor, dtype) -> Tensor:
    if x.dtype == dtype:
        return x
    return _Cast.apply(x, dtype=dtype)


# The op modules and the engine import Function and Tensor from here, so they are imported last; Tensor's
# methods look them up at call time.
from .ops import elementwise as _ew, linalg as _linalg, reduction as _red, shape as _shape  # noqa: E402
from .engine import backward, grad  # noqa: E402
from . import autograd_functional as functional, inplace as _inplace  # noqa: E402

# `import minigen.autograd.functional` finds this module under that name, as `import os.path` does
sys.modules[__name__ + ".functional"] = functional
