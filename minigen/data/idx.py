"""Local data files: IDX (MNIST's format, plain or gzipped), .npz archives, and MNIST-style folders.

IDX layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64), the number of dimensions, each dimension as a big-endian uint32, then the values
big-endian in C order.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from ..serialization import read_npz
from .loader import ArrayDataset

IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"load_idx: {path} is a truncated or corrupted gzip file ({e})") from e


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """The array in an IDX file (gzipped or not), in native byte order."""
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"load_idx: {path} is truncated: {len(raw)} bytes, shorter than the 4-byte magic")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in IDX_TYPES:
        raise ValueError(f"load_idx: {path} is not an IDX file (magic number 0x{raw[:4].hex()}; expected "
                         f"0x0000TTNN with type TT in {[hex(c) for c in IDX_TYPES]})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"load_idx: {path} is truncated inside its header ({len(raw)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(f"load_idx: {path} is {what}: shape {shape} of {dtype.name} needs {expected} bytes, "
                         f"the file has {len(raw)}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def save_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` as an IDX file (gzipped when the name ends in .gz)."""
    path = os.fspath(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("=").str[1:]: c for c, dt in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("=").str[1:])
    if code is None:
        raise TypeError(f"save_idx: IDX cannot hold dtype {array.dtype}; use one of "
                        f"{[dt.name for dt in IDX_TYPES.values()]}")
    if array.ndim > 255:
        raise ValueError(f"save_idx: IDX holds at most 255 dimensions, got {array.ndim}")
    body = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    body += np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(body)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array in an .npz archive (pickled object arrays are refused)."""
    return read_npz(path, who="load_npz")


MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(root: str, stem: str) -> str:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if os.path.exists(os.path.join(root, name)):
            return os.path.join(root, name)
    raise FileNotFoundError(f"load_mnist: no {stem}[.gz] in {root}")


def load_mnist(root: str | os.PathLike, split: str = "train", dtype=np.float32) -> ArrayDataset:
    """MNIST-style IDX files in folder `root`: images (N, 1, H, W) in `dtype` (0..255) and int64 labels."""
    if split not in MNIST_FILES:
        raise ValueError(f"load_mnist: unknown split {split!r}; expected one of {sorted(MNIST_FILES)}")
    root = os.fspath(root)
    images = load_idx(_find(root, MNIST_FILES[split][0]))
    labels = load_idx(_find(root, MNIST_FILES[split][1]))
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"load_mnist: images of shape {images.shape} and labels of shape {labels.shape} in "
                         f"{root} do not match (expected (N, H, W) and (N,))")
    return ArrayDataset(images[:, None].astype(dtype), labels.astype(np.int64))
