"""tests/fake_cupy.py behaves like CuPy where it matters for catching device bugs: no implicit host <->
device conversion, no mixing with NumPy arrays, 0-d device results, NaN-filled empty, CuPy's indexing
and random API, minigen sees it as a GPU, and kernels run natively and refuse host arrays."""
import pickle

import numpy as np
import pytest

import fake_cupy
import minigen as mg
from fake_cupy import FakeArray
from minigen import backend

cp = fake_cupy.module


@pytest.fixture
def fake_gpu(monkeypatch):
    fake_cupy.install(monkeypatch)
    fake_cupy.small_launches(monkeypatch)


def test_a_device_array_is_not_a_numpy_array_and_never_converts_implicitly():
    a = cp.arange(6.0).reshape(2, 3)
    assert isinstance(a, FakeArray) and isinstance(a, cp.ndarray) and not isinstance(a, np.ndarray)
    for convert in (np.asarray, np.array, lambda x: np.testing.assert_allclose(x, 0), lambda x: np.float32(x)):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            convert(a)
    host = a.get()
    assert type(host) is np.ndarray and host.tolist() == [[0, 1, 2], [3, 4, 5]]
    host[0, 0] = 7  # a copy: the device array is unchanged
    assert a[0, 0].item() == 0
    b = np.ones(3)
    d = cp.asarray(b)
    b[0] = 5  # asarray copied to the device, it does not alias the host array
    assert d.get().tolist() == [1, 1, 1] and cp.asarray(d) is d


@pytest.mark.parametrize("mix", [lambda a, h: a + h, lambda a, h: h * a, lambda a, h: a < h,
                                 lambda a, h: np.exp(h) + a, lambda a, h: np.maximum(a, h),
                                 lambda a, h: cp.maximum(a, h), lambda a, h: np.concatenate([a, h]),
                                 lambda a, h: cp.where(h > 0, a, 0), lambda a, h: np.where(a > 0, h, a),
                                 lambda a, h: a @ h, lambda a, h: a.dot(h), lambda a, h: a.__iadd__(h),
                                 lambda a, h: h.__iadd__(a), lambda a, h: a + h[0:1].reshape(())])
def test_mixing_with_a_numpy_array_is_a_type_error(mix):
    with pytest.raises(TypeError):
        mix(cp.ones(3), np.ones(3))


def test_scalars_mix_and_results_stay_on_the_device_as_0d_arrays():
    a = cp.asarray(np.array([1.0, 2.0, 3.0], np.float32))
    for y in (a + 1, 2.0 * a, np.float32(2) * a, a / np.float32(2), np.exp(a), -a, abs(a), a ** 2):
        assert isinstance(y, FakeArray) and y.dtype == np.float32
    assert (np.float64(2) * a).dtype == np.float64  # NumPy scalars are not "weak" (NEP 50, CuPy too)
    for r in (a.sum(), a.max(), a[1], np.sum(a), np.exp(a[0]), a.mean(), (a > 1).any(), cp.linalg.norm(a)):
        assert isinstance(r, FakeArray) and r.shape == ()
    assert type(a.sum().item()) is float and float(a[1]) == 2.0 and int(a[2]) == 3 and bool(a[0])
    assert a[np.array(1)].shape == () and a.max() > 2 and f"{a[0]:.1f}" == "1.0"
    with pytest.raises(TypeError):
        range(a[2])  # cupy.ndarray has no __index__
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a)


def test_empty_is_nan_filled_and_freshly_allocated_integers_are_garbage():
    assert np.isnan(cp.empty((2, 3)).get()).all() and np.isnan(cp.empty_like(cp.ones(2)).get()).all()
    assert (cp.empty(4, np.int32).get() == np.iinfo(np.int32).max).all()


def test_indexing_as_cupy_does():
    a = cp.arange(5)
    assert a[np.array([1, 5, -6])].get().tolist() == [1, 0, 4]  # integer arrays wrap around
    assert a[[0, 2]].get().tolist() == [0, 2] and a[a > 2].get().tolist() == [3, 4]
    a[cp.asarray(np.array([0, 1]))] = np.array([9, 8])  # advanced: the host value is copied over
    a[2] = 7
    a[3:] = cp.zeros(2, np.int64)
    assert a.get().tolist() == [9, 8, 7, 0, 0]
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        a[:2] = np.array([1, 2])
    with pytest.raises(TypeError):
        a[:2] = [1, 2]
    with pytest.raises(IndexError):
        a[5]


def test_only_what_cupy_has_exists_and_arguments_bind_to_its_signatures():
    pytest.importorskip("cupy", reason="the fake checks names and signatures against an installed CuPy")
    with pytest.raises(AttributeError, match="CuPy has none"):
        _ = cp.errstate
    with pytest.raises(TypeError):
        cp.clip(cp.ones(2))  # cupy.clip needs both bounds
    with pytest.raises(ValueError, match="must set either max or min"):
        cp.ones(2).clip()
    with pytest.raises(TypeError):
        cp.ascontiguousarray(np.ones(2))  # CuPy's argument is typed: device arrays only
    with pytest.raises(TypeError):
        np.add.at(cp.zeros(3), [0], 1)  # only __call__ dispatches; cupyx.scatter_add is CuPy's way
    x = cp.zeros(3)
    fake_cupy.cupyx.scatter_add(x, np.array([0, 0, 4]), cp.ones(3))
    assert x.get().tolist() == [2, 1, 0]


def test_random_generator_has_cupys_api_and_its_own_stream():
    rng = cp.random.default_rng(0)
    u, z, k = rng.random((2, 3), dtype=np.float32), rng.standard_normal(4), rng.integers(0, 10, size=5)
    assert (u.dtype, z.dtype, k.dtype, rng.random().shape) == (np.float32, np.float64, np.int64, ())
    assert all(isinstance(v, FakeArray) for v in (u, z, k))
    assert not np.allclose(cp.random.default_rng(0).random(5).get(), np.random.default_rng(0).random(5))
    for missing in ("normal", "permutation", "choice", "shuffle"):
        assert not hasattr(rng, missing)
    assert not hasattr(rng.bit_generator, "state")


def test_pickle_and_deepcopy_go_through_the_host():
    a = cp.arange(3.0)
    b = pickle.loads(pickle.dumps(a))
    assert isinstance(b, FakeArray) and b.get().tolist() == [0, 1, 2]


def test_minigen_sees_a_gpu(fake_gpu):
    assert mg.cuda.is_available()
    x = mg.tensor(np.arange(3.0), device="cuda")
    assert isinstance(x.data, FakeArray) and backend.device_of(x.data) == "cuda" and x.device == "cuda"
    assert backend.xp_for("cuda") is cp and backend.array_module(x.data) is cp
    assert type(x.to("cpu").data) is np.ndarray and (x * 2).device == "cuda"
    assert isinstance(x.data * mg.tensor(2.0, device="cuda"), mg.Tensor)  # Tensor's priority wins
    with pytest.raises(RuntimeError, match="one device"):
        x + mg.ones(3)
    assert mg.randn(2, device="cuda").device == "cuda"


def test_kernels_run_natively_and_refuse_host_arrays(fake_gpu):
    from minigen.kernels import _cuda, bias_act

    x, b = np.random.default_rng(0).standard_normal((2, 3, 4)), np.arange(3.0)
    got = bias_act.cuda_bias_act(cp.asarray(x), cp.asarray(b), "tanh")
    np.testing.assert_allclose(got.get(), bias_act.reference_bias_act(x, b, "tanh"), rtol=1e-12)
    f = _cuda.function("bias_act", "bias_act_backward", np.float64)
    y = cp.empty(4)
    with pytest.raises(TypeError, match="host memory"):
        f((1,), (_cuda.BLOCK,), (np.ones(4), y, y, np.int32(4), np.int32(0), np.float64(0)))
