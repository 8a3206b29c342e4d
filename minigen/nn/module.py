"""Module and Parameter: the containers that hold a model's trainable tensors and running state.

A Module registers every Parameter, buffer and sub-Module assigned to it as an attribute, so that
`named_parameters()`, `state_dict()`, `to(device)` and `train()/eval()` walk the whole tree, as in PyTorch.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Callable, Iterator, NamedTuple

import numpy as np

from .. import backend
from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (requires_grad=True unless told otherwise)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` did not match."""

    missing_keys: list
    unexpected_keys: list


_hook_ids = itertools.count()


class _Handle:
    """Returned by the hook registrations; `remove()` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return lines[0] if len(lines) == 1 else "\n".join([lines[0]] + [" " * spaces + ln for ln in lines[1:]])


def _as_array(value):
    """The raw array of a state-dict entry (Tensor, NumPy or CuPy array, or scalar)."""
    if isinstance(value, Tensor):
        return value.data
    return value if hasattr(value, "shape") and not isinstance(value, np.generic) else np.asarray(value)


class Module:
    """Base class of every layer and model: subclasses set attributes in __init__ and define forward."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    # ------------------------------------------------------------------------------- registration
    def _check_initialized(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 f"(in {type(self).__name__}.__init__, call super().__init__() first)")

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_initialized(name)
            self._forget(name)
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            self._check_initialized(name)
            self._forget(name)
            d["_modules"][name] = value
        else:
            for store, kind, allowed in _REASSIGNABLE:
                registry = d.get(store)
                if registry is not None and name in registry:
                    if value is not None and not isinstance(value, allowed):
                        raise TypeError(f"cannot assign {type(value).__name__} as {kind} {name!r} of "
                                        f"{type(self).__name__} (a {allowed.__name__} or None is required)")
                    registry[name] = value
                    return
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        """Drop `name` from every registry and the instance dict (before re-registering it)."""
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            d[store].pop(name, None)
        d["_non_persistent"].discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            registry = d.get(store)
            if registry is not None and name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                del d[store][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or None, a declared but absent parameter such as bias=False) as `name`."""
        self._check_initialized(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register non-trainable state (running statistics, masks); saved in state_dict if persistent."""
        self._check_initialized(name)
        if tensor is not None and not isinstance(tensor, Tensor):
            if not hasattr(tensor, "shape"):
                raise TypeError(f"register_buffer: {name!r} must be a Tensor, an array or None, got "
                                f"{type(tensor).__name__}")
            tensor = Tensor(tensor)
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` as a child called `name`."""
        self._check_initialized(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    # ------------------------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", memo: set | None = None) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, each module once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, child) for the direct sub-modules, each module once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, store: str, prefix: str, recurse: bool):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, t in getattr(module, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, each shared Parameter once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of scalars in the parameters (only those requiring grad if asked)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call fn on every descendant, then on self (e.g. a custom initialisation)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------------------ state dict
    def _state_entries(self) -> Iterator[tuple[str, Tensor, bool]]:
        """(key, tensor, is_parameter) for every parameter and persistent buffer."""
        for prefix, module in self.named_modules():
            dot = prefix + "." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield dot + name, p, True
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    yield dot + name, b, False

    def state_dict(self) -> OrderedDict:
        """name -> Tensor (detached, sharing memory) for every parameter and persistent buffer."""
        return OrderedDict((key, t.detach()) for key, t, _ in self._state_entries())

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into the existing parameters and buffers (their identity, device and dtype kept).

        Nothing is changed unless every key and shape matches: a shape mismatch always fails, and with
        strict=True so do missing and unexpected keys, in one error that lists them all."""
        own = OrderedDict((key, t) for key, t, _ in self._state_entries())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for key, t in own.items():
            if key in state_dict:
                shape = tuple(_as_array(state_dict[key]).shape)
                if shape != t.shape:
                    mismatched.append(f"{key}: checkpoint {shape} vs model {t.shape}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"load_state_dict: error(s) loading into {type(self).__name__}; nothing was "
                               "loaded:\n  " + "\n  ".join(problems))
        for key, t in own.items():
            if key in state_dict:
                value = backend.to_device(_as_array(state_dict[key]), t.device)
                t.data = value.astype(t.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # -------------------------------------------------------------------------------- mode, device
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant (dropout, batch norm, spectral norm)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradients on or off for every parameter (e.g. to freeze a discriminator)."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's accumulated gradient."""
        for p in self.parameters():
            p.grad = None

    def _map_tensors(self, fn: Callable) -> Module:
        """Replace every parameter's and buffer's array (and gradient) by fn(array), in place."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.data = fn(t.data)
            if t.grad is not None:
                t.grad = Tensor._make(fn(t.grad.data))
        return self

    def to(self, target) -> Module:
        """Move parameters and buffers to a device ("cpu"/"cuda") or cast floating ones to a dtype, in
        place (the Parameter objects stay the same, so optimizers built earlier still hold them)."""
        if isinstance(target, str):
            backend.xp_for(target)
            return self._map_tensors(lambda a: backend.to_device(a, target))
        dtype = np.dtype(target)
        return self._map_tensors(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64 (for gradcheck)."""
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ---------------------------------------------------------------------------------------- calling
    def register_forward_pre_hook(self, hook: Callable) -> _Handle:
        """hook(module, args) runs before forward; a returned tuple replaces the arguments."""
        key = next(_hook_ids)
        self._forward_pre_hooks[key] = hook
        return _Handle(self._forward_pre_hooks, key)

    def register_forward_hook(self, hook: Callable) -> _Handle:
        """hook(module, args, output) runs after forward; a returned value replaces the output."""
        key = next(_hook_ids)
        self._forward_hooks[key] = hook
        return _Handle(self._forward_hooks, key)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    # ------------------------------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The settings shown inside the parentheses of repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, child in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(child), 2))
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


# What an already registered name accepts on reassignment: (registry, what it is called, allowed type).
_REASSIGNABLE = (("_parameters", "parameter", Parameter), ("_buffers", "buffer", Tensor),
                 ("_modules", "child module", Module))


def check_input_dtype(module: Module, x: Tensor, weight: Tensor) -> None:
    """A layer's input must have its weight's dtype: NumPy would silently promote a float32 layer to
    float64 (or an int input to float64), PyTorch raises; so do we, naming the layer."""
    if x.dtype != weight.dtype:
        raise TypeError(f"{type(module).__name__}({module.extra_repr()}): input of dtype {x.dtype} (shape "
                        f"{tuple(x.shape)}) does not match the layer's {weight.dtype} weight on {weight.device}; "
                        f"convert the input (x.to(mg.{weight.dtype})) or the layer (.to(mg.{x.dtype}))")
