"""Optimizer: parameter groups, per-parameter state, zero_grad, and state dicts for an exact resume.

An optimizer holds `param_groups`, a list of dicts each with "params" (a list of leaf Tensors) and the
group's hyper-parameters, and `state`, a dict from parameter to that parameter's buffers. `step()` reads
every parameter's `.grad` and updates its `.data` array in place, recording nothing in the graph and never
writing into a `.grad` array (gradients may alias each other). Subclasses implement `_update(p, g, group,
state)` on raw NumPy/CuPy arrays.

`state_dict()` numbers the parameters by their position across the groups, as PyTorch does, so a state
dict saved from one model loads into a freshly built copy of it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from .. import backend
from ..autograd import Tensor, enable_grad


def _is_array(v) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, Tensor)


def _plain(v):
    """NumPy scalars as Python numbers (so hyper-parameters never change an update's dtype)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return v


class Optimizer:
    """Base class: `param_groups`, `state`, `zero_grad()`, `step()`, `state_dict()`, `load_state_dict()`."""

    def __init__(self, params: Iterable, defaults: dict):
        self.defaults = {k: _plain(v) for k, v in defaults.items()}
        self.state: dict = {}
        self.param_groups: list[dict] = []
        self._check_hyper(self.defaults)
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                            "got a single Tensor (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --------------------------------------------------------------------------------------- groups
    def add_param_group(self, group: dict) -> None:
        """Add a group {"params": [...], hyper-parameter: value, ...}; missing ones take the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for k, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {k} of group {len(self.param_groups)} is a "
                                f"{type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {p.shape}); "
                                 "use a Parameter or a tensor created with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {k} (shape {p.shape}) appears in more than one group "
                                 "or twice in a group")
            seen.add(id(p))
        hyper = {k: _plain(v) for k, v in group.items() if k != "params"}
        group = {**self.defaults, **hyper, "params": params}
        self._check_hyper(group)
        self.param_groups.append(group)

    def _check_hyper(self, group: dict) -> None:
        """Raise ValueError for an invalid hyper-parameter (subclasses extend)."""
        lr = group.get("lr")
        if lr is not None and not lr >= 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr} (must be >= 0)")
        wd = group.get("weight_decay", 0.0)
        if not wd >= 0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay {wd} (must be >= 0)")

    # ----------------------------------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to None, or to a fresh zero Tensor)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor._make(backend.array_module(p.data).zeros_like(p.data))

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns closure() when one is given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            items = []
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data if isinstance(p.grad, Tensor) else p.grad
                if g.shape != p.data.shape or backend.device_of(g) != backend.device_of(p.data):
                    raise RuntimeError(f"{type(self).__name__}.step: gradient of shape {tuple(g.shape)} on "
                                       f"{backend.device_of(g)} does not match its parameter of shape "
                                       f"{p.shape} on {p.device}")
                items.append((p.data, g, self.state.setdefault(p, {})))
            self._update_group(items, group)
        return loss

    def _update_group(self, items: list, group: dict) -> None:
        """Update every (array p, gradient g, state) of one group; by default one `_update` each
        (Adam overrides it to update a whole group on the GPU in one kernel launch)."""
        for p, g, state in items:
            self._update(p, g, group, state)

    def _update(self, p, g, group: dict, state: dict) -> None:
        """Update array `p` in place from gradient `g` (never written), the group and the state."""
        raise NotImplementedError

    # ---------------------------------------------------------------------------------- state dicts
    def state_dict(self) -> dict:
        """{"state": {index: {name: array copy or number}}, "param_groups": [{..., "params": [index]}]}."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) in index and s:
                state[index[id(p)]] = {k: (v.copy() if _is_array(v) else v) for k, v in s.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and buffers saved by `state_dict()` (buffers move to each parameter's
        device; floating buffers take its dtype)."""
        name = type(self).__name__
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved)} parameter groups, "
                             f"the optimizer has {len(self.param_groups)}")
        by_index = {}
        for k, (old, new) in enumerate(zip(saved, self.param_groups)):
            if len(old["params"]) != len(new["params"]):
                raise ValueError(f"{name}.load_state_dict: group {k} holds {len(old['params'])} parameters "
                                 f"in the state dict and {len(new['params'])} in the optimizer")
            by_index.update(zip((int(i) for i in old["params"]), new["params"]))
        self.state = {}
        for i, s in state_dict["state"].items():
            p = by_index.get(int(i))
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, which no group holds")
            self.state[p] = {k: self._buffer_like(v, p, k) for k, v in s.items()}
        groups = []
        for old, new in zip(saved, self.param_groups):
            group = {k: v for k, v in old.items() if k != "params"}
            for k, v in group.items():
                if isinstance(self.defaults.get(k), tuple) and isinstance(v, list):
                    group[k] = tuple(v)
            group["params"] = new["params"]
            groups.append(group)
        self.param_groups = groups

    @staticmethod
    def _buffer_like(v, p: Tensor, key: str):
        """A copy of saved buffer `v` on p's device (in p's dtype when floating)."""
        if isinstance(v, Tensor):
            v = v.data
        if not _is_array(v):
            return v
        if v.shape != p.data.shape and v.ndim:
            raise ValueError(f"load_state_dict: buffer {key!r} has shape {tuple(v.shape)} but its parameter "
                             f"has shape {p.shape}")
        v = backend.to_device(v, p.device)
        dtype = p.dtype if v.dtype.kind == "f" else v.dtype
        return v.astype(dtype, copy=True)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            lines += [f"    {key}: {v}" for key, v in sorted(group.items()) if key != "params"]
        return "\n".join(lines + [")"])
