"""Containers: Sequential, ModuleList, ModuleDict (PyTorch's indexing and naming: children "0", "1", ...)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Iterator, Mapping

from .module import Module


def _index(i: int, n: int, owner: str) -> int:
    if not -n <= i < n:
        raise IndexError(f"{owner}: index {i} out of range for {n} modules")
    return i % n


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: length, iteration and append (children "0", "1", ...)."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module):
        self.add_module(str(len(self)), module)
        return self

    def _key(self, i: int) -> str:
        return list(self._modules)[_index(i, len(self), type(self).__name__)]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._slice(i)
        return self._modules[self._key(i)]

    def __setitem__(self, i: int, module: Module) -> None:
        self.add_module(self._key(i), module)


class Sequential(_ModuleSequence):
    """Calls its modules in order: Sequential(a, b)(x) = b(a(x)); also Sequential(OrderedDict(...))."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def _slice(self, i: slice) -> Sequential:
        return Sequential(OrderedDict(list(self._modules.items())[i]))


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (children named "0", "1", ...)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _slice(self, i: slice) -> ModuleList:
        return ModuleList(list(self._modules.values())[i])

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        self.extend(items)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys."""

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        if modules is not None:
            for name, m in modules.items():
                self[name] = m

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
