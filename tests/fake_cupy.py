"""A CuPy that runs on the CPU, so that the `gpu` tests run without a GPU and catch device-routing bugs.

`module` stands for `cupy`, `cupyx` for `cupyx`; their arrays are `FakeArray`s: a NumPy array inside
(`._a`), but *not* an np.ndarray, so `isinstance(a, np.ndarray)` still means "on the CPU" and
minigen.backend.device_of says "cuda". The fake copies CuPy's rules where they catch mistakes:

- no implicit device <-> host copies: `np.asarray(a)` raises TypeError; mixing a FakeArray with a NumPy
  array in an operator, a ufunc or a cupy routine raises TypeError ("Unsupported type"); Python and NumPy
  scalars are fine; only `.get()` (and cupy.asnumpy) goes to the host and `cupy.asarray/array` to the device;
- reductions and indexing give 0-d device arrays, never NumPy scalars (`.item()`, `float()` leave);
- `empty` is NaN-filled (so an element no kernel writes shows up), integer-array indices wrap around
  instead of raising, `a[...] = host_array` is refused outside advanced indexing, `clip` needs a bound;
- only names that the installed CuPy has exist (calling a NumPy function CuPy lacks fails), and a
  routine's arguments are bound to the real CuPy signature first (a NumPy-only keyword fails);
- `random.default_rng(seed)` draws other numbers than NumPy's generator with that seed, and has no
  normal/permutation/choice/bit_generator.state (CuPy's Generator has none of them);
- minigen.kernels' launches run the real .cu, compiled by g++ (tests/kernels/native_cuda.py), with the
  launch checks of the emulator (dtypes, contiguity, int32/scalar_t scalars); a host array passed to a
  kernel raises TypeError.

`install(monkeypatch)` makes minigen see this as its GPU: tests/conftest.py does it for the whole session
when CuPy sees no GPU (unless MINIGEN_FAKE_GPU=0), and `small_launches` shrinks the kernels' launch
configuration for the `gpu` tests. Timings are meaningless: synchronisation and CUDA events are no-ops.

Three files: this one (the `cupy` and `cupyx` namespaces, creation routines, cupy.random, installing),
tests/fake_cupy_array.py (FakeArray and the host/device rules of its values) and tests/fake_cupy_cuda.py
(cupy.cuda's Device, Stream, Event).
"""
from __future__ import annotations

import functools
import inspect
import sys
import types
from pathlib import Path

import numpy as np

from fake_cupy_array import (_HOST_PARAMETERS, FakeArray, _garbage, _holds_host_array,
                             _host_array_error, _index, _on_device, _real_cupy, _ufunc, _unwrap, _wrap)
from fake_cupy_cuda import _PROPERTIES, Device, Event, MemoryPointer, Stream
import fake_cupy_operators  # noqa: F401  (installs FakeArray's operators and methods)


# ============================================================================ the module


class _Ufunc:
    """A cupy.ufunc: called on device arrays and scalars; reduce/accumulate/outer/at on device arrays."""

    def __init__(self, ufunc: np.ufunc):
        self._u = ufunc
        self.__name__, self.nin, self.nout = ufunc.__name__, ufunc.nin, ufunc.nout

    def __call__(self, *inputs, **kwargs):
        return _ufunc(self._u, inputs, kwargs)

    def __getattr__(self, name):
        if name not in ("reduce", "accumulate", "outer", "at"):
            raise AttributeError(name)

        def method(*args, **kwargs):
            if _holds_host_array(args) or _holds_host_array(kwargs):
                raise TypeError(f"cupy.{self.__name__}.{name}: a NumPy array (host memory) among the arguments")
            return _on_device(getattr(self._u, name), args, kwargs)
        return method


def _routine(qualname: str, np_func, cupy_func):
    """The cupy routine `qualname`: its arguments bound to CuPy's signature (a keyword CuPy lacks is a
    TypeError), NumPy arrays refused except in host-side parameters (shape, pad_width ...), then NumPy's
    function on the device arrays' contents."""
    try:
        signature = inspect.signature(cupy_func) if cupy_func is not None else None
    except (TypeError, ValueError):
        signature = None

    def routine(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs).arguments if signature else {"": (args, kwargs)}
        for name, value in arguments.items():
            if name not in _HOST_PARAMETERS and _holds_host_array(value):
                raise TypeError(f"{qualname}: argument {name!r} is a NumPy array (host memory); CuPy needs "
                                "cupy.ndarray arguments and makes no implicit host-to-device copies")
        return _on_device(np_func, args, kwargs)
    routine.__name__, routine.__qualname__, routine.__doc__ = qualname.rsplit(".", 1)[-1], qualname, np_func.__doc__
    return routine


class _Namespace(types.ModuleType):
    """A CuPy (sub)module made of NumPy's: names the real one (`real`, when CuPy is installed) lacks raise
    AttributeError; NumPy's functions become routines on device arrays, its ufuncs cupy ufuncs,
    np.ndarray FakeArray; types and constants (float32, finfo, pi, newaxis) are NumPy's own, as in CuPy."""

    def __init__(self, name: str, numpy_module, real):
        super().__init__(name, f"fake {name}, imitated with {numpy_module.__name__}")
        self._numpy, self._real = numpy_module, real

    def __getattr__(self, name: str):
        if name.startswith("__") or (self._real is not None and not hasattr(self._real, name)):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} (CuPy has none either)")
        try:
            obj = getattr(self._numpy, name)
        except AttributeError:
            raise AttributeError(f"fake_cupy does not imitate {self.__name__}.{name}") from None
        if obj is np.ndarray:
            value = FakeArray
        elif isinstance(obj, np.ufunc):
            value = _Ufunc(obj)
        elif isinstance(obj, type) or not callable(obj):
            value = obj
        else:
            value = _routine(f"{self.__name__}.{name}", obj, getattr(self._real, name, None))
        setattr(self, name, value)
        return value


module = _Namespace("cupy", np, _real_cupy)
module.__version__ = "14.0.0+fake"
module.ndarray = FakeArray
module.linalg = _Namespace("cupy.linalg", np.linalg, getattr(_real_cupy, "linalg", None))
module.fft = _Namespace("cupy.fft", np.fft, getattr(_real_cupy, "fft", None))
module.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace())


def _creation(func):
    """Register func as cupy.<its name>."""
    setattr(module, func.__name__, func)
    return func


@_creation
def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """A device array passes through (a copy only if dtype/order/copy ask); anything else (NumPy arrays,
    lists, scalars) is copied to the device, never aliased."""
    if isinstance(a, FakeArray):
        return _on_device(np.asarray, (a,), dict(dtype=dtype, order=order, copy=copy))
    return FakeArray._of(np.array(_unwrap(a, {}), dtype=dtype, order=order or "K", copy=True))


@_creation
def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, FakeArray):
        return _on_device(np.array, (obj,), dict(dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return FakeArray._of(np.array(_unwrap(obj, {}), dtype=dtype, order=order, ndmin=ndmin, copy=True))


module.asanyarray = asarray


@_creation
def ascontiguousarray(a, dtype=None):
    """Only device arrays (CuPy's argument is typed); `a` itself when already C-contiguous in dtype
    (0-d stays 0-d, unlike NumPy's)."""
    if not isinstance(a, FakeArray):
        raise TypeError(f"Argument 'a' has incorrect type (expected cupy._core.core._ndarray_base, got "
                        f"{type(a).__module__}.{type(a).__name__})")
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    if a.flags.c_contiguous and dtype == a.dtype:
        return a
    return FakeArray._of(np.array(a._a, dtype=dtype, order="C", copy=True))


@_creation
def empty(shape, dtype=float, order="C"):
    """Uninitialised memory: NaN (floats) or the largest integer, so that unwritten elements show."""
    return FakeArray(shape, dtype, order=order)


@_creation
def empty_like(prototype, dtype=None, order="K", subok=None, shape=None):
    if not isinstance(prototype, FakeArray):
        raise _host_array_error(prototype)
    return FakeArray._of(_garbage(np.empty_like(prototype._a, dtype=dtype, order=order, shape=shape)))


@_creation
def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    return a.get(order=order, out=out) if isinstance(a, FakeArray) else np.asarray(a, order=order)


@_creation
def get_array_module(*args):
    return module if any(isinstance(a, FakeArray) for a in args) else np


def _as_strided(x, shape=None, strides=None):
    """cupy.lib.stride_tricks.as_strided: a view of a device array."""
    if not isinstance(x, FakeArray):
        raise _host_array_error(x)
    return FakeArray._of(np.lib.stride_tricks.as_strided(x._a, shape, strides))


module.lib.stride_tricks.as_strided = _as_strided


class RawModule:
    """Not imitated: install() replaces minigen.kernels._cuda.function, which is what uses RawModule."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("fake_cupy: RawModule is not imitated; kernels run through "
                                  "minigen.kernels._cuda.function, which install() replaces")


module.RawModule = RawModule


# ------------------------------------------------------------------------ cupy.random


class _BitGenerator:
    """cupy.random's XORWOW: no `state` to save or restore (CuPy has none)."""


class Generator:
    """cupy.random.Generator: random, standard_normal, integers, uniform and the other distributions of
    CuPy's Generator give device arrays (0-d for size=None); random/standard_normal draw in float32
    unless dtype is float64. No normal, permutation, choice or shuffle (CuPy's has none)."""

    _DISTRIBUTIONS = ("beta", "binomial", "chisquare", "dirichlet", "exponential", "f", "gamma", "geometric",
                      "hypergeometric", "logseries", "poisson", "power", "standard_exponential",
                      "standard_gamma")

    def __init__(self, seed=None):
        # other numbers than np.random.default_rng(seed) gives, as CuPy's XORWOW does
        entropy = None if seed is None else [0x63757079, *np.atleast_1d(np.asarray(seed, np.uint64)).tolist()]
        self._rng = np.random.default_rng(np.random.SeedSequence(entropy))
        self.bit_generator = _BitGenerator()

    def _float(self, draw, size, dtype):
        dtype = np.dtype(dtype)
        return FakeArray._of(np.asarray(draw(size, dtype=np.float64 if dtype.char == "d" else np.float32))
                             .astype(dtype, copy=False))

    def random(self, size=None, dtype=np.float64, out=None):
        return self._into(self._float(self._rng.random, size, dtype), out)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._into(self._float(self._rng.standard_normal, size, dtype), out)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        low, high = (0, int(low)) if high is None else (int(low), int(high))
        return FakeArray._of(np.asarray(self._rng.integers(low, high, size, dtype, endpoint)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        low, high = (x._a if isinstance(x, FakeArray) else x for x in (low, high))
        return FakeArray._of(np.asarray(self._rng.uniform(low, high, size)).astype(dtype, copy=False))

    @staticmethod
    def _into(y: FakeArray, out):
        if out is None:
            return y
        out[...] = y
        return out

    def __getattr__(self, name: str):
        if name not in self._DISTRIBUTIONS:
            raise AttributeError(f"'Generator' object has no attribute {name!r} (CuPy's Generator has none)")
        draw = getattr(self._rng, name)
        return lambda *args, **kwargs: _wrap(np.asarray(draw(*_unwrap(args, {}), **_unwrap(kwargs, {}))))





module.random = types.SimpleNamespace(default_rng=Generator, Generator=Generator, __name__="cupy.random")


# ------------------------------------------------------------------------ cupy.cuda


module.cuda = types.SimpleNamespace(
    __name__="cupy.cuda", Device=Device, Stream=Stream, Event=Event, MemoryPointer=MemoryPointer,
    get_current_stream=lambda device=None: Stream(), get_elapsed_time=lambda start, end: 0.0,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0,
                                  getDeviceProperties=lambda device: dict(_PROPERTIES),
                                  runtimeGetVersion=lambda: 12000, driverGetVersion=lambda: 12000,
                                  memGetInfo=lambda: (_PROPERTIES["totalGlobalMem"],) * 2),
    is_available=lambda: True)


# ============================================================================ cupyx


def _scatter(op: np.ufunc, dtypes: tuple, a, slices, value) -> None:
    if not isinstance(a, FakeArray):
        raise TypeError(f"cupyx.scatter: expected a cupy.ndarray, got {type(a)}")
    if a.dtype not in dtypes:
        raise TypeError(f"scatter only supports {', '.join(map(str, dtypes))} as data type, got {a.dtype}")
    value = value._a if isinstance(value, FakeArray) else np.asarray(_unwrap(value, {}), a.dtype)
    index, _ = _index(slices, a.shape)
    op.at(a._a, index, value.astype(a.dtype, copy=False))


_ATOMIC = tuple(map(np.dtype, (np.int32, np.float16, np.float32, np.float64, np.uint32, np.uint64)))


def scatter_add(a, slices, value) -> None:
    """cupyx.scatter_add: a[slices] += value with repeated indices adding up (atomicAdd: int32, float16,
    float32, float64, uint32, uint64 only); integer-array indices wrap."""
    _scatter(np.add, _ATOMIC, a, slices, value)


def scatter_max(a, slices, value) -> None:
    _scatter(np.maximum, _ATOMIC[:1] + _ATOMIC[2:], a, slices, value)


def scatter_min(a, slices, value) -> None:
    _scatter(np.minimum, _ATOMIC[:1] + _ATOMIC[2:], a, slices, value)


def _scipy_special():
    """cupyx.scipy.special from scipy.special (its names checked against the installed cupyx's)."""
    try:
        import scipy.special
    except ImportError:  # pragma: no cover - minigen itself falls back to math.erf then
        erf = np.vectorize(__import__("math").erf)
        return types.SimpleNamespace(erf=lambda x: _on_device(lambda a: erf(a).astype(a.dtype), (x,), {}))
    try:
        import cupyx.scipy.special as real
    except ImportError:  # pragma: no cover
        real = None
    return _Namespace("cupyx.scipy.special", scipy.special, real)


cupyx = types.ModuleType("cupyx", "fake cupyx: scatter_add/max/min and scipy.special")
cupyx.scatter_add, cupyx.scatter_max, cupyx.scatter_min = scatter_add, scatter_max, scatter_min
cupyx.scipy = types.ModuleType("cupyx.scipy")
cupyx.scipy.special = _scipy_special()


# ============================================================================ installing


def _native_cuda():
    """tests/kernels/native_cuda.py (the .cu compiled by g++), importable from anywhere in the suite."""
    kernels_dir = str(Path(__file__).resolve().parent / "kernels")
    if kernels_dir not in sys.path:
        sys.path.insert(0, kernels_dir)
    import native_cuda
    return native_cuda


def kernel_function(name: str, kernel: str, dtype, **defines):
    """Stands for minigen.kernels._cuda.function: a RawKernel-like callable f(grid, block, args) that runs
    the .cu natively (native_cuda.NativeKernel: the emulator's argument checks, then every block); host
    arrays among the arguments are a TypeError, as CuPy's launch makes no host-to-device copies."""
    from minigen.kernels import _cuda

    compiled = _native_kernel(name, kernel, np.dtype(dtype), _cuda.BLOCK, **defines)

    def launch(grid, block, args, shared_mem=0, stream=None):
        for k, a in enumerate(args):
            if isinstance(a, np.ndarray):
                raise TypeError(f"{kernel} argument {k}: a NumPy array (host memory) passed to a CUDA kernel")
        grid, block = (tuple(d) if isinstance(d, (tuple, list)) else (d,) for d in (grid, block))
        compiled(grid, block, tuple(a._a if isinstance(a, FakeArray) else a for a in args))
    return launch


@functools.cache
def _native_kernel(name: str, kernel: str, dtype, block: int, **defines):
    """Compiled once per (kernel, dtype, BLOCK, defines): -DBLOCK comes from _cuda.BLOCK at compile time."""
    native = _native_cuda()
    problem = native.toolchain_problem()
    if problem:
        import pytest
        pytest.skip(f"fake_cupy runs the kernels with g++, which does not work here: {problem}")
    return native.NativeKernel(name, kernel, dtype, **defines)


def install(monkeypatch) -> None:
    """Make minigen see this fake as CuPy with one GPU: backend's CuPy, sys.modules' cupyx, and the kernels'
    compiled-function factory (undone with the monkeypatch)."""
    from minigen import backend
    from minigen.kernels import _cuda

    monkeypatch.setattr(backend, "_cupy", module)
    monkeypatch.setattr(backend, "_cupy_checked", True)
    monkeypatch.setattr(backend, "_rngs", {k: v for k, v in backend._rngs.items() if k != "cuda"})
    for name, fake in [("cupyx", cupyx), ("cupyx.scipy", cupyx.scipy), ("cupyx.scipy.special", cupyx.scipy.special)]:
        monkeypatch.setitem(sys.modules, name, fake)
    monkeypatch.setattr(_cuda, "function", kernel_function)


SMALL_LAUNCH_TILES = {"TILE_M": 64, "TILE_N": 64, "TILE_K": 16, "THREADS_M": 4}  # read, never changed


def small_launches(monkeypatch, block: int = 16, max_blocks: int = 8,
                   tiles: dict | None = SMALL_LAUNCH_TILES) -> None:
    """Launch the kernels with `block` threads per block, at most `max_blocks` blocks, and implicit_gemm's
    `tiles` (None: the real ones; the default keeps the real tile shape, on 4 x 4 threads).
    One host thread per CUDA thread and a barrier per __syncthreads make the real configuration (256
    threads, up to 65535 blocks) slow, and small grids make every grid-stride loop wrap. The real
    configuration is tested on small problems by tests/kernels/test_kernel_native.py."""
    from minigen.kernels import _cuda, implicit_gemm

    monkeypatch.setattr(_cuda, "BLOCK", block)
    monkeypatch.setattr(_cuda, "MAX_BLOCKS", max_blocks)
    if tiles is not None:
        monkeypatch.setattr(implicit_gemm, "TILES", dict(tiles))
