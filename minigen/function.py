"""Function, the recording of a node, and the modes that govern it (no_grad, anomaly mode).

A `Function` computes on raw arrays in `forward` and returns input gradients as Tensors in `backward`,
so the backward pass is itself a graph (double backward). `Function.apply` records a node only when
gradients are enabled and some input requires them. Nodes hold their inputs strongly and their outputs
weakly: a graph lives exactly as long as the user holds its outputs.

The modes are this module's globals, read by `Function.apply` on every op without a lookup elsewhere:
minigen/profiler.py sets `_profiler`, minigen/inplace.py `inplace_used`. Tensor is minigen/tensor.py, the
reverse sweep (`backward`, `grad`) minigen/engine.py; minigen/autograd.py gathers them under one name.
"""
from __future__ import annotations

import contextlib
import time
import weakref
from typing import Sequence

import numpy as np

from . import backend

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


_SCALARS = (int, float, bool, np.generic)
_new = object.__new__


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
    first = type(arrays[0])
    if all([type(a) is first for a in arrays]):  # a list: cheaper than a generator for a few inputs
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


# Tensor needs Function (its ops are Functions), so it is imported last; apply looks it up at call time.
from .tensor import Tensor, as_tensor  # noqa: E402
