"""What the `minigen` command says about a model: its options with their defaults and types, `--set KEY=VALUE`
read and checked against them, and the text of `minigen info NAME` and `minigen list`.

An option's type is its constructor annotation where there is one (`decay_steps: int | None`), else the
type of its default; `--set` values are read as JSON (`--set hidden=200`, `--set sizes=[64,64]`, `--set
hard=true`), and as plain text for text options (`--set likelihood=gaussian`).
"""
from __future__ import annotations

import inspect
import json
import re

_KINDS = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "tuple": list, "None": type(None)}
_NAMES = {bool: "true or false", int: "an int", float: "a number", str: "text", list: "a JSON list",
          type(None): "null"}


class OptionError(ValueError):
    """A `--set` that names no option of the model or gives a value of the wrong type (one line)."""


def option_kinds(cls, key: str, default) -> tuple:
    """The Python types an option accepts: from the constructor's annotation, else from its default."""
    parameter = inspect.signature(cls.__init__).parameters.get(key)
    annotation = parameter.annotation if parameter is not None else inspect.Parameter.empty
    if isinstance(annotation, str):
        words = [re.split(r"[\[ ]", part.strip())[0] for part in annotation.split("|")]
        if words and all(w in _KINDS for w in words):
            return tuple(dict.fromkeys(_KINDS[w] for w in words))
    if default is None:
        return ()
    return (list,) if isinstance(default, (list, tuple)) else (type(default),)


def describe_kinds(kinds: tuple) -> str:
    return " or ".join(_NAMES.get(k, k.__name__) for k in kinds) if kinds else "any JSON value"


def _fits(value, kinds: tuple):
    """value converted to the first kind it fits (int -> float allowed, bool never counts as int), or raise."""
    for kind in kinds:
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is list and isinstance(value, list):
            return value
        if kind in (bool, str, type(None)) and type(value) is kind:
            return value
    raise TypeError


def parse_sets(cls, name: str, data: str, items: list) -> dict:
    """`--set KEY=VALUE` items as {key: value}, each checked against the model's options for `data`."""
    config = cls.default_config(data)
    overrides = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise OptionError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in config:
            raise OptionError(f"--set {item}: {name} has no option {key!r}; its options are "
                              f"{', '.join(config)} (minigen info {name})")
        kinds = option_kinds(cls, key, config[key])
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if str in kinds and type(value) not in kinds:
            value = raw  # --set likelihood=1 on a text option means the text "1"
        try:
            overrides[key] = _fits(value, kinds) if kinds else value
        except TypeError:
            raise OptionError(f"--set {item}: {key} takes {describe_kinds(kinds)} (default "
                              f"{json.dumps(config[key])}), got {raw!r}") from None
    return overrides


def about_overrides(cls, data: str, overrides: dict) -> str:
    """'hidden=-3 (hidden takes an int, default 100)': the --set values named with their types, for an error
    raised while the model is built or prepared with them."""
    config = cls.default_config(data)
    parts = [f"{k}={json.dumps(v)} ({k} takes {describe_kinds(option_kinds(cls, k, config.get(k)))}, default "
             f"{json.dumps(config.get(k))})" for k, v in overrides.items()]
    return ", ".join(parts)


def _first_paragraph(text: str | None) -> str:
    text = inspect.cleandoc(text or "")
    return " ".join(text.split("\n\n")[0].split())


_NAME = r"[A-Z][\w'-]+"
_CITATION = re.compile(rf"({_NAME}(?: et al\.|(?:, {_NAME})*(?: (?:&|and) {_NAME}))?),? \(?((?:19|20)\d\d)\b")


def citations(text: str | None) -> list:
    """'Name & Name, 2011' / 'Name et al. (2014)' citations in a docstring, in order, without repeats."""
    return list(dict.fromkeys(f"{who}, {year}" for who, year in _CITATION.findall(text or "")))


def _papers(cls, module_doc: str | None) -> list:
    """The citations of the class's first paragraph, else of the module's, else anywhere in either."""
    for text in (_first_paragraph(cls.__doc__), _first_paragraph(module_doc), cls.__doc__, module_doc):
        if citations(text):
            return citations(text)
    return []


def _doc_of(cls, method: str) -> str:
    """The first docstring of `method` along the class's MRO (the model's own wording of what it measures)."""
    for klass in cls.__mro__:
        fn = klass.__dict__.get(method)
        if fn is not None and fn.__doc__:
            return _first_paragraph(fn.__doc__)
    return ""


def info_text(name: str, cls, data: str | None = None) -> str:
    """`minigen info NAME`: the paper, what the model is, its data sets, options (defaults and types) for a
    data set, its capabilities and metrics, and the command that trains it."""
    import sys

    from minigen.models.base import LatentVariableModel, LikelihoodModel

    data = data or cls.default_data()
    if data not in cls.datasets:
        raise OptionError(f"{name} trains on {', '.join(cls.datasets)}; there is no data set {data!r}")
    config = cls.default_config(data)
    width = max(len(k) for k in config)
    module_doc = sys.modules[cls.__module__].__doc__
    lines = [f"{name}: {cls.__module__.replace('minigen.', '')}.{cls.__name__}",
             f"  paper:    {'; '.join(_papers(cls, module_doc)) or '-'}",
             f"  model:    {_first_paragraph(cls.__doc__) or '-'}",
             f"  data:     {', '.join(cls.datasets)} (--data; default {cls.default_data()})"
             f"{'; batches carry labels (conditional)' if cls.conditional else ''}",
             f"  options for --data {data} (change with --set KEY=VALUE):"]
    for key, default in config.items():
        kinds = describe_kinds(option_kinds(cls, key, default))
        lines.append(f"    {key:<{width}}  {json.dumps(default):<24} {kinds}")
    kinds = [label for base, label in ((LikelihoodModel, "exact log-likelihood (log_prob)"),
                                       (LatentVariableModel, "latent variables (encode, decode, elbo)"))
             if issubclass(cls, base)]
    lines += [f"  declares: {', '.join(kinds) or 'sampling only'}",
              f"  metrics:  {_doc_of(cls, 'metrics') or '-'} (minigen eval {name} --from DIR)",
              f"  train:    minigen train {name} --data {data} --steps 1000 --out runs/{name}"]
    return "\n".join(lines)


def list_text(names: list, model_class) -> str:
    """`minigen list`: every model with the data sets it trains on, and where other data fits."""
    rows = [(n, model_class(n)) for n in names]
    width = max(len(n) for n, _ in rows)
    lines = [f"{'model':<{width}}  data sets (--data; the first is the default)"]
    lines += [f"{n:<{width}}  {' '.join(cls.datasets)}" for n, cls in rows]
    every = sorted({d for _, cls in rows for d in cls.datasets})
    lines += ["", f"Data sets: {' '.join(every)}. All are built in (no download): digits is scikit-learn's "
              "8x8 digits,", "the others are made in code (docs/design.md, section 5). The command trains on "
              "these only; MNIST-style", "IDX and .npz files load in Python with minigen.data.load_idx, "
              "load_npz and load_mnist.", "A model's options, metrics and paper: minigen info NAME."]
    return "\n".join(lines)
