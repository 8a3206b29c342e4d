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
"""
from __future__ import annotations

import functools
import inspect
import sys
import types
import warnings
from pathlib import Path

import numpy as np

try:  # the installed CuPy (it imports without a GPU) says which names and signatures exist
    import cupy as _real_cupy
except ImportError:  # pragma: no cover - then every NumPy name is allowed
    _real_cupy = None

_PYTHON_SCALARS = (bool, int, float, complex)
_UNSUPPORTED_KINDS = "OSUVMm"  # CuPy has no object, string, void or datetime arrays
_COMPARISONS = {"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"}
_HOST_PARAMETERS = {"shape", "newshape", "pad_width", "constant_values", "reps", "fill_value", "size",
                    "indices_or_sections"}  # routine arguments that CuPy reads on the host


def _host_array_error(x) -> TypeError:
    return TypeError(f"Unsupported type {type(x)}: a NumPy array (host memory) mixed with a CuPy array; "
                     "CuPy makes no implicit host-to-device copies (use cupy.asarray)")


def _is_scalar(x) -> bool:
    return isinstance(x, _PYTHON_SCALARS + (np.generic,))


def _defers(other) -> bool:
    """CuPy's _should_use_rop: an operator returns NotImplemented (so Python tries other's reflected
    operator) when other sets __array_ufunc__ = None or, without __array_ufunc__, has a higher
    __array_priority__ (minigen's Tensor has 1000)."""
    try:
        return other.__array_ufunc__ is None
    except AttributeError:
        return FakeArray.__array_priority__ < getattr(other, "__array_priority__", 0)


def _unwrap(value, owners: dict):
    """FakeArrays (also inside lists, tuples and dicts) replaced by their NumPy arrays; owners records
    id(array) -> FakeArray so that a result that *is* an input comes back as that same FakeArray."""
    if isinstance(value, FakeArray):
        owners[id(value._a)] = value
        return value._a
    if isinstance(value, (list, tuple)):
        items = [_unwrap(v, owners) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict):
        return {k: _unwrap(v, owners) for k, v in value.items()}
    return value


def _wrap(value, owners: dict | None = None):
    """NumPy results as device results: arrays become FakeArrays and NumPy scalars 0-d FakeArrays (CuPy's
    reductions return 0-d arrays), recursively in tuples and lists."""
    if isinstance(value, np.ndarray):
        owner = (owners or {}).get(id(value))
        return FakeArray._of(value) if owner is None else owner
    if isinstance(value, np.generic):
        return FakeArray._of(np.asarray(value))
    if isinstance(value, (list, tuple)):
        items = [_wrap(v, owners) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def _holds_host_array(value) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_host_array(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_host_array(v) for v in value.values())
    return False


def _on_device(func, args: tuple, kwargs: dict):
    """func (a NumPy function) on the NumPy arrays inside args, its result wrapped back."""
    owners: dict = {}
    result = func(*_unwrap(args, owners), **_unwrap(kwargs, owners))
    return _wrap(result, owners)


def _ufunc(ufunc: np.ufunc, inputs: tuple, kwargs: dict):
    """A CuPy ufunc call: device arrays and scalars only (a NumPy array raises, except a 0-d one in a
    comparison, which CuPy turns into a scalar); `out` must be a device array."""
    args = []
    for x in inputs:
        if isinstance(x, FakeArray):
            args.append(x._a)
        elif isinstance(x, np.ndarray):
            if not (ufunc.__name__ in _COMPARISONS and x.ndim == 0):
                raise _host_array_error(x)
            args.append(x.item())
        elif _is_scalar(x):
            args.append(x)
        else:
            raise TypeError(f"Unsupported type {type(x)} in cupy.{ufunc.__name__}")
    out = kwargs.get("out")
    if isinstance(out, tuple):
        out = out[0] if len(out) == 1 else out
    if out is not None:
        if not isinstance(out, FakeArray):
            raise TypeError(f"cupy.{ufunc.__name__}: out must be a cupy.ndarray, got {type(out)}")
        kwargs = {**kwargs, "out": out._a}
    result = ufunc(*args, **kwargs)
    return out if out is not None else _wrap(result)


class _Flags:
    """cupy's flags: c_contiguous, f_contiguous, owndata (also as flags["C_CONTIGUOUS"] ...)."""

    def __init__(self, a: np.ndarray):
        self.c_contiguous, self.f_contiguous = a.flags.c_contiguous, a.flags.f_contiguous
        self.owndata = a.base is None

    def __getitem__(self, name: str) -> bool:
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[name]


class MemoryPointer:
    """cupy.cuda.MemoryPointer: `.ptr` is the address of the first element (here a host address, which is
    what the natively compiled kernels read) and `.device` the device."""

    def __init__(self, a: np.ndarray):
        self.ptr = a.ctypes.data if a.size else 0
        self.device = Device(0)
        self.device_id = 0


class FakeArray:
    """cupy.ndarray on the CPU: a NumPy array inside, the device rules of CuPy outside (module docstring).
    Built like cupy.ndarray(shape, dtype) (uninitialised: NaN-filled here), or by the module's routines."""

    __array_priority__ = 100  # cupy.ndarray's
    __hash__ = None  # unhashable, like cupy.ndarray

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("fake_cupy: ndarray(memptr=..., strides=...) is not imitated")
        self._a = _garbage(np.empty(shape, dtype, order=order))
        _check_dtype(self._a.dtype)

    @classmethod
    def _of(cls, a: np.ndarray) -> FakeArray:
        """The device array holding NumPy array a (no copy)."""
        _check_dtype(a.dtype)
        self = object.__new__(cls)
        self._a = a
        return self

    # ---------------------------------------------------------------- attributes
    shape = property(lambda self: self._a.shape, doc="Lengths of the axes.")
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: _Flags(self._a))
    data = property(lambda self: MemoryPointer(self._a), doc="A MemoryPointer; data.ptr is the address.")
    device = property(lambda self: Device(0))
    base = property(lambda self: None if self._a.base is None else FakeArray._of(self._a.base)
                    if isinstance(self._a.base, np.ndarray) else None, doc="The array this one is a view of.")

    @shape.setter
    def shape(self, shape):
        """In-place reshape without a copy (fails when a copy would be needed, as in CuPy)."""
        view = self._a.view()
        view.shape = shape
        self._a = view

    @property
    def T(self):
        return self if self.ndim < 2 else FakeArray._of(self._a.T)

    @property
    def mT(self):
        return FakeArray._of(self._a.mT)

    @property
    def real(self):
        return FakeArray._of(self._a.real) if self.dtype.kind == "c" else self

    @property
    def imag(self):
        return FakeArray._of(self._a.imag)

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "typestr": self.dtype.str, "descr": self.dtype.descr, "version": 3,
                "strides": None if self._a.flags.c_contiguous else self.strides, "stream": 1,
                "data": (self.data.ptr, False)}

    # ---------------------------------------------------------------- device <-> host
    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        """A NumPy copy on the host (the one way out, with item() and tolist())."""
        if out is not None:
            if not isinstance(out, np.ndarray) or out.dtype != self.dtype or out.shape != self.shape:
                raise TypeError("get(out=...): out must be a NumPy array of the same dtype and shape")
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None) -> None:
        """Copy a NumPy array of the same dtype and shape in."""
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype or arr.shape != self.shape:
            raise ValueError(f"set: {arr.dtype} {arr.shape} into {self.dtype} {self.shape}")
        self._a[...] = arr

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def tobytes(self, order="C") -> bytes:
        return self._a.tobytes(order)

    def __reduce__(self):  # pickles through the host, as CuPy's does
        return (_from_host, (self.get(),))

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    # ---------------------------------------------------------------- conversions (size-1 arrays)
    def __bool__(self) -> bool:
        if self.size == 0:
            warnings.warn("The truth value of an empty array is ambiguous. Returning False, but in future this "
                          "will result in an error.", DeprecationWarning, stacklevel=2)
            return False
        if self.size > 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous. "
                             "Use a.any() or a.all()")
        return bool(self._a)

    def __int__(self):
        return int(self._a)

    def __float__(self):
        return float(self._a)

    def __complex__(self):
        return complex(self._a)

    # cupy.ndarray has no __index__ (range(a), seq[a] with a 0-d array fail) and no __round__

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a, spec)

    # ---------------------------------------------------------------- container
    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, key):
        """Basic, integer-array and boolean indexing; integer-array indices wrap around (CuPy does not
        raise); index arrays may be device or host arrays or lists (CuPy copies those to the device); an
        integer index gives a 0-d array (a view), not a scalar."""
        index, _ = _index(key, self.shape)
        return FakeArray._of(self._a[index])

    def __setitem__(self, key, value) -> None:
        """As CuPy: a device array or a scalar anywhere; a host array or a list only with an integer-array
        or boolean index (where CuPy converts the value); with a basic index CuPy fills, and refuses a
        non-0-d NumPy array (ValueError) and a list (TypeError)."""
        index, advanced = _index(key, self.shape)
        if isinstance(value, FakeArray):
            value = value._a
        elif isinstance(value, np.ndarray) and not advanced and value.ndim:
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        elif isinstance(value, (list, tuple)) and not advanced:
            raise TypeError(f"Unsupported type {type(value)}")
        elif isinstance(value, (list, tuple)):
            value = _unwrap(value, {})
        self._a[index] = value

    # ---------------------------------------------------------------- methods with CuPy's own rules
    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        """No `casting`/`subok` (CuPy raises); copy=False returns self when nothing changes."""
        if casting is not None or subok is not None:
            raise TypeError("astype: casting and subok are not supported by CuPy")
        a = self._a.astype(dtype, order=order, copy=copy)
        return self if a is self._a else FakeArray._of(a)

    def copy(self, order="C"):
        return FakeArray._of(self._a.copy(order=order))

    def view(self, dtype=None, type=None):
        return FakeArray._of(self._a.view() if dtype is None else self._a.view(dtype))

    def fill(self, value) -> None:
        """A scalar (or a 0-d array) into every element."""
        if isinstance(value, (np.ndarray, FakeArray)):
            if value.ndim:
                raise ValueError(f"non-scalar {type(value).__name__} cannot be used for fill")
            value = value._a if isinstance(value, FakeArray) else value.item()
        self._a.fill(value)

    def clip(self, a_min=None, a_max=None, out=None):
        """CuPy's ndarray.clip needs at least one bound (NumPy 2 accepts none)."""
        if a_min is None and a_max is None:
            raise ValueError("array_clip: must set either max or min")
        low = -np.inf if a_min is None else a_min
        high = np.inf if a_max is None else a_max
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            low, high = (info.min if a_min is None else a_min), (info.max if a_max is None else a_max)
        return _ufunc(np.clip, (self, low, high), {} if out is None else {"out": out})

    def dot(self, b, out=None):
        if not isinstance(b, FakeArray):
            raise TypeError(f"Argument 'b' has incorrect type (expected cupy.ndarray, got {type(b).__name__})")
        return _on_device(np.dot, (self, b), {} if out is None else {"out": out})

    def scatter_add(self, slices, value) -> None:
        """cupyx.scatter_add(self, slices, value)."""
        scatter_add(self, slices, value)

    # ---------------------------------------------------------------- NumPy interoperability
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """np.exp(a) and friends run CuPy's ufunc of that name (only __call__: np.add.at(a, ...) and
        np.maximum.reduce(a) are TypeErrors, as with CuPy)."""
        if method != "__call__" or not _cupy_has(ufunc.__name__):
            return NotImplemented
        return _ufunc(ufunc, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """np.where(a, ...), np.concatenate([a, ...]) ... run CuPy's routine of that name (which refuses
        NumPy arrays among its arguments); NotImplemented when CuPy has no such routine."""
        if not all(issubclass(t, (FakeArray, np.ndarray)) for t in types):
            return NotImplemented
        namespace = module
        for part in func.__module__.split(".")[1:]:
            namespace = getattr(namespace, part, None)
        try:
            routine = getattr(namespace, func.__name__)
        except AttributeError:
            return NotImplemented
        return routine(*args, **kwargs)


def _operator(name: str, reflected: bool = False):
    ufunc = getattr(np, name)

    def op(self, other):
        if isinstance(other, FakeArray) or not _defers(other):
            return _ufunc(ufunc, (other, self) if reflected else (self, other), {})
        return NotImplemented
    op.__doc__ = f"{'reflected ' if reflected else ''}np.{name} on device arrays and scalars (a NumPy array raises)"
    return op


def _inplace(name: str):
    ufunc = getattr(np, name)

    def op(self, other):
        return _ufunc(ufunc, (self, other), {"out": self})
    return op


for _dunder, _name in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                       ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("and", "bitwise_and"),
                       ("or", "bitwise_or"), ("xor", "bitwise_xor"), ("lshift", "left_shift"),
                       ("rshift", "right_shift"), ("matmul", "matmul"), ("divmod", "divmod")]:
    setattr(FakeArray, f"__{_dunder}__", _operator(_name))
    setattr(FakeArray, f"__r{_dunder}__", _operator(_name, reflected=True))
    if _dunder not in ("matmul", "divmod"):  # cupy.ndarray has no __imatmul__
        setattr(FakeArray, f"__i{_dunder}__", _inplace(_name))
for _dunder, _name in [("lt", "less"), ("le", "less_equal"), ("eq", "equal"), ("ne", "not_equal"),
                       ("gt", "greater"), ("ge", "greater_equal")]:
    setattr(FakeArray, f"__{_dunder}__", _operator(_name))
for _dunder, _name in [("neg", "negative"), ("abs", "absolute"), ("invert", "invert")]:
    setattr(FakeArray, f"__{_dunder}__", functools.partialmethod(lambda self, u: _ufunc(u, (self,), {}),
                                                                 getattr(np, _name)))
FakeArray.__pos__ = lambda self: self

_METHODS = ("all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "compress", "conj",
            "conjugate", "cumprod", "cumsum", "diagonal", "flatten", "max", "mean", "min", "nonzero",
            "partition", "prod", "put", "ravel", "repeat", "reshape", "round", "searchsorted", "sort",
            "squeeze", "std", "sum", "swapaxes", "take", "trace", "transpose", "var")  # the rest of cupy.ndarray's


def _method(name: str):
    def method(self, *args, **kwargs):
        return _on_device(getattr(self._a, name), args, kwargs)
    method.__name__ = name
    method.__doc__ = f"ndarray.{name} on the device (a NumPy scalar result becomes a 0-d array, as in CuPy)."
    return method


for _name in _METHODS:
    setattr(FakeArray, _name, _method(_name))


def _check_dtype(dtype) -> None:
    if dtype.kind in _UNSUPPORTED_KINDS or dtype == np.longdouble and dtype.itemsize > 8:
        raise ValueError(f"Unsupported dtype {dtype}")


def _garbage(a: np.ndarray) -> np.ndarray:
    """Fill freshly allocated memory with values that show when read before written: NaN, the largest
    integer, True."""
    a.fill(np.nan if a.dtype.kind in "fc" else np.iinfo(a.dtype).max if a.dtype.kind in "iu" else True)
    return a


def _from_host(a: np.ndarray) -> FakeArray:
    return FakeArray._of(np.array(a, copy=True))


def _index(key, shape: tuple) -> tuple[tuple, bool]:
    """(a NumPy index, whether it is advanced) for a CuPy index on an array of `shape`: device arrays
    unwrapped, host arrays and lists taken as index arrays, integer arrays wrapped modulo their axis, and
    a trailing Ellipsis so that integer indices give 0-d views instead of NumPy scalars."""
    items = []
    for item in key if isinstance(key, tuple) else (key,):
        if isinstance(item, FakeArray):
            item = item._a
        elif isinstance(item, (list, np.ndarray)) or isinstance(item, (bool, np.bool_)):
            item = np.asarray(_unwrap(item, {}))
            item = item.astype(np.intp) if item.size == 0 and item.dtype.kind == "f" else item
        items.append(item)
    consumed = sum(0 if i is None or i is Ellipsis else i.ndim if isinstance(i, np.ndarray) and i.dtype == bool
                   else 1 for i in items)
    axis, advanced = 0, False
    for k, item in enumerate(items):
        if item is Ellipsis:
            axis += len(shape) - consumed
        elif isinstance(item, np.ndarray):
            advanced = True
            if item.dtype == bool:
                axis += item.ndim
                continue
            if item.dtype.kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer or boolean type "
                                 f"(actual: {item.dtype.type})")
            if axis < len(shape) and shape[axis] > 0:
                items[k] = item % shape[axis]  # CuPy's take and scatter kernels wrap
            axis += 1
        elif item is not None:
            axis += 1
    if not any(i is Ellipsis for i in items):
        items.append(Ellipsis)
    return tuple(items), advanced


# ============================================================================ the module


def _cupy_has(name: str) -> bool:
    """Whether the installed CuPy has cupy.<name> (True without CuPy: then nothing is checked)."""
    return _real_cupy is None or hasattr(_real_cupy, name)


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


class _AlreadyDone:
    """What CuPy's Device, Stream and Event do asynchronously is done here when called: nothing to wait for."""

    def __init__(self, *args, **kwargs):
        pass

    def synchronize(self) -> None:
        pass

    def record(self, stream=None) -> None:
        pass

    def use(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class Device(_AlreadyDone):
    """cupy.cuda.Device: device 0."""

    compute_capability = "00"

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and other.id == self.id

    __hash__ = object.__hash__


class Stream(_AlreadyDone):
    """cupy.cuda.Stream: everything on it ran already."""

    ptr = 0


class Event(_AlreadyDone):
    """cupy.cuda.Event: records nothing; get_elapsed_time says 0 ms between two."""

    done = True


_PROPERTIES = {"name": b"fake_cupy (NumPy on the CPU)", "totalGlobalMem": 16 * 2**30, "multiProcessorCount": 1,
               "major": 0, "minor": 0, "warpSize": 32, "maxThreadsPerBlock": 1024, "sharedMemPerBlock": 48 * 1024,
               "clockRate": 1_000_000, "memoryClockRate": 1_000_000, "memoryBusWidth": 64}

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
