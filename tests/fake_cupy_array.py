"""fake_cupy's array: `FakeArray`, a cupy.ndarray on the CPU (a NumPy array inside, CuPy's device rules outside),
and the helpers that move values between the device (FakeArray) and the host (NumPy) under those rules. The rules
are listed in tests/fake_cupy.py's docstring; this file is its array half, fake_cupy.py the module around it,
fake_cupy_operators.py the array's operators and ndarray methods."""
from __future__ import annotations

import warnings

import numpy as np

from fake_cupy_cuda import Device, MemoryPointer

try:  # the installed CuPy (it imports without a GPU) says which names and signatures exist
    import cupy as _real_cupy
except ImportError:  # pragma: no cover - then every NumPy name is allowed
    _real_cupy = None


def _cupy_has(name: str) -> bool:
    """Whether the installed CuPy has cupy.<name> (True without CuPy: then nothing is checked)."""
    return _real_cupy is None or hasattr(_real_cupy, name)


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
        from fake_cupy import scatter_add

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
        from fake_cupy import module  # the namespace of routines (fake_cupy.py imports this file)

        namespace = module
        for part in func.__module__.split(".")[1:]:
            namespace = getattr(namespace, part, None)
        try:
            routine = getattr(namespace, func.__name__)
        except AttributeError:
            return NotImplemented
        return routine(*args, **kwargs)


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
