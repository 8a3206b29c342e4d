"""mg.save / mg.load: exact roundtrips of nested structures, readable .npz, atomic writes, refusals."""
import os
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen import optim
from minigen.autograd import Tensor
from minigen.serialization import MANIFEST
from minigen.testing import strategies as mst


def _same(a, b) -> None:
    """Exact structural equality: types, dtypes, shapes, values, requires_grad."""
    assert type(a) is type(b) or (isinstance(a, Tensor) and isinstance(b, Tensor)), (type(a), type(b))
    if isinstance(a, Tensor):
        assert b.device == "cpu" and a.dtype == b.dtype and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


leaves = st.one_of(
    st.builds(lambda seed, shape, dt: mst.sample_array(seed, shape).astype(dt),
              st.integers(0, 99), mst.shapes(max_dims=3), st.sampled_from([np.float32, np.float64, np.int64])),
    st.builds(lambda seed, shape, rg: mg.tensor(mst.sample_array(seed, shape), requires_grad=rg),
              st.integers(0, 99), mst.shapes(max_dims=2), st.booleans()),
    st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=5),
    st.builds(np.float32, st.floats(-1e3, 1e3, width=32)),
    st.lists(st.floats(-1, 1), max_size=3).map(tuple))
names = st.text(alphabet="abcxyz_", min_size=1, max_size=4)
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.dictionaries(st.one_of(names, st.integers(0, 9)), kids, max_size=3),
    st.lists(kids, max_size=3), st.lists(kids, max_size=3).map(tuple)), max_leaves=8)


@given(tree=st.dictionaries(names, trees, min_size=1, max_size=3))
def test_roundtrip_rebuilds_the_same_structure(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("ser") / "t.npz"
    try:
        mg.save(tree, path)
    except ValueError as e:
        assert "flatten to the same key" in str(e)
        return
    _same(tree, mg.load(path))


def test_checkpoint_of_model_optimizer_and_step_is_readable_without_minigen(tmp_path):
    model = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    model(mg.randn(5, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.npz"
    mg.save({"model": model, "optimizer": opt, "step": 7}, path)

    with np.load(path, allow_pickle=False) as z:
        files = set(z.files)
        assert {"model.0.weight", "model.1.bias", "optimizer.state.0.exp_avg", "step", MANIFEST} <= files
        assert z["step"] == 7 and z["optimizer.param_groups"].dtype == np.uint8
        assert b'"lr": 0.001' in z["optimizer.param_groups"].tobytes()

    ck = mg.load(path)
    assert ck["step"] == 7 and isinstance(ck["step"], int)
    assert ck["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(ck["optimizer"]["state"]) == [0, 1, 2, 3] and ck["optimizer"]["state"][0]["step"] == 1
    fresh = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.Linear(4, 2))
    fresh.load_state_dict(ck["model"])
    for p, q in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    opt2 = optim.Adam(fresh.parameters(), lr=0.5)
    opt2.load_state_dict(ck["optimizer"])
    assert opt2.param_groups[0]["lr"] == 1e-3


def test_bare_tensor_and_module(tmp_path):
    t = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    mg.save(t, tmp_path / "t.npz")
    _same(t, mg.load(tmp_path / "t.npz"))
    lin = mg.nn.Linear(2, 2)
    mg.save(lin, tmp_path / "m.npz")
    sd = mg.load(tmp_path / "m.npz")
    assert set(sd) == {"weight", "bias"}
    np.testing.assert_array_equal(sd["weight"].numpy(), lin.weight.numpy())


def test_write_is_atomic_and_a_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"a": np.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot store a set at 'b'"):
        mg.save({"a": np.zeros(3), "b": {1, 2}}, path)
    with pytest.raises(TypeError, match="dtype object"):
        mg.save({"a": np.array([object()])}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]

    class Exploding:
        def state_dict(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mg.save({"x": np.zeros(2), "y": Exploding()}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]
    mg.save({"a": np.full(3, 2.0)}, path)
    np.testing.assert_array_equal(mg.load(path)["a"], np.full(3, 2.0))
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_interrupted_write_leaves_no_partial_target(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"a": np.ones(3)}, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(OSError, match="disk full"):
        mg.save({"a": np.zeros(3)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


def test_truncated_and_corrupted_files_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(1000.0), "step": 3}, path)
    raw = path.read_bytes()
    for cut in (len(raw) - 1, len(raw) // 2, 10, 0):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.npz"):
            mg.load(bad)
    flipped = bytearray(raw)
    start = raw.index(np.arange(1000.0).tobytes()[8:16])
    flipped[start + 100] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="flip.npz.*truncated, corrupted"):
        mg.load(tmp_path / "flip.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        mg.load(tmp_path / "missing.npz")


def test_pickle_is_never_used(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="obj.npz.*pickled"):
        mg.load(tmp_path / "obj.npz")
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="p.pkl"):
        mg.load(tmp_path / "p.pkl")
    mg.save({"a": np.ones(2), "cfg": ["x", 1]}, tmp_path / "ok.npz")
    with zipfile.ZipFile(tmp_path / "ok.npz") as z:
        for name in z.namelist():
            assert b"\x80\x04" not in z.read(name)[:20]
    with np.load(tmp_path / "ok.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_plain_npz_loads_as_a_dict_and_key_collisions_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.ones(2))
    d = mg.load(tmp_path / "plain.npz")
    assert set(d) == {"a", "b"}
    with pytest.raises(ValueError, match="same key 'a.b'"):
        mg.save({"a.b": 1, "a": {"b": 2}}, tmp_path / "c.npz")
    with pytest.raises(TypeError, match="keys must be str or int"):
        mg.save({(1, 2): 1}, tmp_path / "c.npz")


@pytest.mark.gpu
def test_gpu_tensors_come_back_on_the_cpu(tmp_path):
    t = mg.tensor(np.arange(4.0), device="cuda")
    mg.save({"t": t, "a": t.data}, tmp_path / "g.npz")
    d = mg.load(tmp_path / "g.npz")
    assert d["t"].device == "cpu" and isinstance(d["a"], np.ndarray)
    np.testing.assert_array_equal(d["a"], np.arange(4.0))
