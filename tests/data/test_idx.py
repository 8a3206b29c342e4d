"""IDX files (plain and gzipped) and .npz archives written by the tests: roundtrip and clear errors."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigen.data import load_idx, load_mnist, load_npz, save_idx
from minigen.testing import strategies as mst

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@given(seed=st.integers(0, 2 ** 31), shape=mst.shapes(min_dims=1, max_dims=3, max_side=5),
       dtype=st.sampled_from(DTYPES), gz=st.booleans())
def test_roundtrip(tmp_path_factory, seed, shape, dtype, gz):
    a = (mst.sample_array(seed, shape) * 50).astype(dtype)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    save_idx(path, a)
    b = load_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(b, a)


def test_reads_a_file_written_by_hand_in_the_mnist_layout(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = struct.pack(">HBB3I", 0, 0x08, 3, 2, 3, 4) + images.tobytes()
    (tmp_path / "x.idx").write_bytes(raw)
    (tmp_path / "x.idx.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(load_idx(tmp_path / "x.idx"), images)
    np.testing.assert_array_equal(load_idx(tmp_path / "x.idx.gz"), images)
    floats = np.array([1.5, -2.25], np.float32)
    (tmp_path / "f.idx").write_bytes(struct.pack(">HBBI", 0, 0x0D, 1, 2) + floats.astype(">f4").tobytes())
    np.testing.assert_array_equal(load_idx(tmp_path / "f.idx"), floats)


def test_corrupted_files_are_refused_with_the_file_named(tmp_path):
    path = tmp_path / "a.idx"
    save_idx(path, np.arange(12, dtype=np.int32).reshape(3, 4))
    raw = path.read_bytes()
    cases = {"trunc.idx": (raw[:-5], "truncated: shape \\(3, 4\\) of int32 needs 60 bytes, the file has 55"),
             "head.idx": (raw[:9], "truncated inside its header"),
             "tiny.idx": (raw[:2], "truncated"),
             "long.idx": (raw + b"\0", "longer than its header says"),
             "magic.idx": (b"\x01\x00" + raw[2:], "not an IDX file"),
             "type.idx": (raw[:2] + b"\x07" + raw[3:], "not an IDX file"),
             "trunc.idx.gz": (gzip.compress(raw)[:-10], "truncated or corrupted gzip")}
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=message) as err:
            load_idx(tmp_path / name)
        assert name in str(err.value)


def test_save_idx_refuses_unsupported_dtypes(tmp_path):
    with pytest.raises(TypeError, match="IDX cannot hold dtype int64"):
        save_idx(tmp_path / "a.idx", np.arange(3))


def test_load_mnist_from_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    save_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    save_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    ds = load_mnist(tmp_path, "test")
    x, y = ds.arrays
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 0], images)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, "train")


def test_npz_loader_and_its_errors(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.arange(4.0), y=np.array([1, 2]))
    d = load_npz(tmp_path / "ok.npz")
    np.testing.assert_array_equal(d["x"], np.arange(4.0))
    raw = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        load_npz(tmp_path / "cut.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="obj.npz.*pickled"):
        load_npz(tmp_path / "obj.npz")
