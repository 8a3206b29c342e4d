"""`mg.save(obj, path)` and `mg.load(path)`: checkpoints as plain .npz files, never pickle.

Arrays are stored under dotted keys ("model.fc.weight", "optimizer.state.0.exp_avg"), so `np.load` reads
a checkpoint without minigen. Python numbers become 0-d arrays; strings, None and lists or tuples of plain
values (an optimizer's param_groups) become JSON text in a uint8 array. One more entry, "__minigen__",
holds a JSON manifest of the structure (dict keys with their types, tuples, which leaves were Tensors),
from which `load` rebuilds exactly what was saved. Objects with a `state_dict()` (modules, optimizers,
schedulers, data loaders) are stored as their state dicts.

Writes go to a temporary file in the target's folder that is then `os.replace`d over the target, so a
crash mid-write never destroys the previous checkpoint.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend
from .autograd import Tensor

MANIFEST = "__minigen__"
FORMAT = "minigen-checkpoint"
VERSION = 1
_INT64 = np.iinfo(np.int64)


# ------------------------------------------------------------------------------------------------ save

def save(obj, path: str | os.PathLike) -> None:
    """Write a Tensor, array, number, module/optimizer (its state_dict) or a nested dict/list of them."""
    arrays: dict[str, np.ndarray] = {}
    root = _pack(obj, "", arrays)
    manifest = {"format": FORMAT, "version": VERSION, "root": root}
    arrays[MANIFEST] = _json_array(manifest)
    _atomic_write(os.fspath(path), arrays)


def _pack(obj, key: str, arrays: dict) -> dict:
    """Store obj's arrays into `arrays` under dotted keys below `key`; return its manifest node."""
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, (dict, Tensor)):
        obj = obj.state_dict()
    if isinstance(obj, Tensor):
        return _leaf("tensor", key, obj.numpy(), arrays, rg=obj.requires_grad)
    if isinstance(obj, np.generic):
        return _leaf("scalar", key, np.asarray(obj), arrays)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return _leaf("array", key, backend.to_device(obj, "cpu"), arrays)
    if isinstance(obj, bool):
        return _leaf("bool", key, np.asarray(obj), arrays)
    if isinstance(obj, int) and _INT64.min <= obj <= _INT64.max:
        return _leaf("int", key, np.asarray(obj, np.int64), arrays)
    if isinstance(obj, float):
        return _leaf("float", key, np.asarray(obj, np.float64), arrays)
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"mg.save: dict keys must be str or int, got {k!r} under {key or 'the root'!r}")
            items.append([k, _pack(v, f"{key}.{k}" if key else str(k), arrays)])
        return {"t": "dict", "items": items}
    if _json_native(obj):
        return _leaf("json", key, _json_array(_to_json(obj)), arrays)
    if isinstance(obj, (list, tuple)):
        items = [_pack(v, f"{key}.{k}" if key else str(k), arrays) for k, v in enumerate(obj)]
        return {"t": type(obj).__name__, "items": items}
    raise TypeError(f"mg.save: cannot store a {type(obj).__name__} at {key or 'the root'!r}; expected a "
                    "Tensor, array, number, str, None, a dict/list/tuple of them, or an object with "
                    "state_dict()")


def _leaf(kind: str, key: str, array: np.ndarray, arrays: dict, rg: bool = False) -> dict:
    key = key or "root"
    if array.dtype.hasobject:
        raise TypeError(f"mg.save: the array at {key!r} has dtype object; checkpoints never use pickle")
    if key in arrays or key == MANIFEST:
        raise ValueError(f"mg.save: two entries flatten to the same key {key!r}; rename one of them")
    arrays[key] = array
    node = {"t": kind, "a": key}
    if rg:
        node["rg"] = True
    return node


def _json_native(v) -> bool:
    """True for None, bool, int, float, str and lists/tuples/str-keyed dicts of them."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_json_native(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and k != "__tuple__" and _json_native(x) for k, x in v.items())
    return False


def _to_json(v):
    """v with tuples tagged as {"__tuple__": [...]}, so that they come back as tuples."""
    if isinstance(v, tuple):
        return {"__tuple__": [_to_json(x) for x in v]}
    if isinstance(v, list):
        return [_to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _to_json(x) for k, x in v.items()}
    return v


def _from_json_object(d: dict):
    return tuple(d["__tuple__"]) if len(d) == 1 and "__tuple__" in d else d


def _json_array(v) -> np.ndarray:
    return np.frombuffer(json.dumps(v).encode("utf-8"), dtype=np.uint8).copy()


def _atomic_write(path: str, arrays: dict) -> None:
    """Write an .npz to a temporary file beside `path`, fsync it, then rename it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for key, array in arrays.items():
                    with zf.open(key + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------------------------ load

def read_npz(path: str | os.PathLike, who: str = "mg.load") -> dict[str, np.ndarray]:
    """Every array of an .npz file, read with allow_pickle=False; clear errors naming the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{who}: no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{who}: {path} is not an .npz archive (truncated, corrupted, or another format)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, RuntimeError) as e:
        raise ValueError(f"{who}: cannot read {path}: the file is truncated, corrupted or holds pickled "
                         f"objects ({type(e).__name__}: {e})") from e


def load(path: str | os.PathLike):
    """Read a file written by `save` and rebuild its structure (CPU Tensors and arrays); a plain .npz
    comes back as a dict of arrays. Truncated, corrupted or pickled files are refused."""
    arrays = read_npz(path)
    if MANIFEST not in arrays:
        return arrays
    try:
        manifest = json.loads(arrays.pop(MANIFEST).tobytes().decode("utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        return _unpack(manifest["root"], arrays)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"mg.load: {path} has a damaged manifest ({type(e).__name__}: {e})") from e


def _unpack(node: dict, arrays: dict):
    kind = node["t"]
    if kind == "dict":
        return {k: _unpack(v, arrays) for k, v in node["items"]}
    if kind in ("list", "tuple"):
        items = [_unpack(v, arrays) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    if node["a"] not in arrays:
        raise KeyError(f"the entry {node['a']!r} named in the manifest is missing")
    a = arrays[node["a"]]
    if kind == "tensor":
        return Tensor(a, requires_grad=bool(node.get("rg")))
    if kind == "array":
        return a
    if kind == "scalar":
        return a[()]
    if kind in ("bool", "int", "float"):
        return {"bool": bool, "int": int, "float": float}[kind](a.item())
    if kind == "json":
        return json.loads(a.tobytes().decode("utf-8"), object_hook=_from_json_object)
    raise ValueError(f"unknown entry kind {kind!r}")
