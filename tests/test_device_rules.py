"""Device rules of the backend, and the places where CuPy differs from NumPy (found by reading the code
against CuPy's API; nothing had run on a GPU yet): each CPU test checks the rule on NumPy, each `gpu` test
(skipped without a GPU) runs the case that used to fail on CuPy."""
import numpy as np
import pytest

import minigen as mg
import minigen.functional as F
from minigen import backend, distributions as D, nn
from minigen.ops.shape import check_cuda_indices


# ------------------------------------------------------------------------------------------- on the CPU

def test_as_array_keeps_arrays_and_converts_the_rest():
    a = np.zeros(3)
    assert backend.as_array(a) is a
    assert isinstance(backend.as_array([1, 2]), np.ndarray) and backend.as_array(3).shape == ()


@pytest.mark.parametrize("shape,index", [((3, 4), np.array([0, 3])), ((3, 4), (slice(None), np.array([-5]))),
                                         ((3, 4), (Ellipsis, [4])), ((3, 4), (None, np.array([1]), np.array([5]))),
                                         ((3, 4, 4), (np.ones((3, 4), bool), np.array([4])))])
def test_out_of_range_integer_array_indices_are_an_index_error(shape, index):
    with pytest.raises(IndexError, match="out of bounds"):
        check_cuda_indices(shape, index)
    with pytest.raises(IndexError):
        np.zeros(shape)[index]  # as NumPy says


@pytest.mark.parametrize("index", [np.array([0, 2, -3]), (slice(None), np.array([-4, 3])), (Ellipsis, [3]),
                                   (None, np.array([1]), np.array([2])), (np.ones((3, 4), bool),)])
def test_in_range_indices_pass_and_agree_with_numpy(index):
    check_cuda_indices((3, 4), index)
    np.zeros((3, 4))[index]  # NumPy accepts them too


def test_clip_without_bounds_is_a_copy():
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    y = x.clip()
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [1, -2])
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_binary_cross_entropy_has_finite_gradients(dtype):
    p = mg.tensor(np.array([0.0, 1.0, 0.5, 1e-45 if dtype == np.float32 else 1e-320], dtype), requires_grad=True)
    loss = F.binary_cross_entropy(p, mg.tensor(np.array([1.0, 0.0, 1.0, 1.0], dtype)), reduction="sum")
    loss.backward()
    assert np.isfinite(p.grad.numpy()).all()
    assert p.grad.numpy()[0] == 0 and p.grad.numpy()[1] == 0  # clamped at -100: no gradient
    np.testing.assert_allclose(loss.item(), 100 + 100 + np.log(2) + min(100, -np.log(p.numpy()[3].item())),
                               rtol=1e-6)


# --------------------------------------------------------------------------------------------- on a GPU

gpu = pytest.mark.gpu


@gpu
def test_categorical_log_prob_and_one_hot_sampling_on_cuda():
    logits = mg.tensor(np.log([[0.2, 0.3, 0.5]]), device="cuda")
    c = D.Categorical(logits=logits)
    np.testing.assert_allclose(c.log_prob(mg.tensor(np.array([2]), device="cuda")).numpy(), np.log([0.5]))
    assert c.log_prob(np.array([1])).device == "cuda"
    sample = D.OneHotCategorical(logits=logits).sample((4,))
    assert sample.device == "cuda" and (sample.numpy().sum(-1) == 1).all()


@gpu
def test_embedding_with_padding_idx_and_list_indices_on_cuda():
    emb = nn.Embedding(5, 2, padding_idx=0).to("cuda")
    out = emb([0, 3])
    assert out.device == "cuda" and (out.numpy()[0] == 0).all()


@gpu
def test_scalar_constants_join_cuda_tensors_but_cpu_tensors_do_not():
    z = mg.randn(3, 2, device="cuda")
    assert D.Normal(0.0, 1.0).log_prob(z).device == "cuda"
    q = D.Normal(mg.zeros(3, 2, device="cuda"), mg.ones(3, 2, device="cuda"))
    np.testing.assert_allclose(D.kl_divergence(q, D.Normal(0.0, 1.0)).numpy(), 0, atol=1e-7)
    with pytest.raises(RuntimeError, match="one device"):
        z + mg.tensor(1.0, requires_grad=True)  # a CPU leaf that wants a gradient stays an error
    with pytest.raises(RuntimeError, match="one device"):
        z + mg.ones(2)


@gpu
def test_conv_on_an_empty_batch_on_cuda():
    x = mg.zeros(0, 3, 5, 5, device="cuda", requires_grad=True)
    w = mg.randn(4, 3, 3, 3, device="cuda", requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (0, 4, 5, 5)
    y.sum().backward()
    assert x.grad.shape == x.shape and (w.grad.numpy() == 0).all()


@gpu
def test_nll_loss_with_a_numpy_target_and_ignore_index_on_cuda():
    logits = mg.randn(4, 3, device="cuda")
    target = np.array([0, 2, -1, 1])
    got = F.cross_entropy(logits, target, ignore_index=-1).item()
    want = F.cross_entropy(logits.to("cpu"), target, ignore_index=-1).item()
    np.testing.assert_allclose(got, want, rtol=1e-5)


@gpu
def test_out_of_range_indices_raise_on_cuda():
    x = mg.randn(3, 4, device="cuda")
    with pytest.raises(IndexError, match="out of bounds"):
        x[mg.tensor(np.array([0, 3]), device="cuda").data]


@gpu
def test_saturated_bce_gradient_is_finite_on_cuda():
    p = mg.tensor(np.array([0.0, 1.0, 1e-45], np.float32), device="cuda", requires_grad=True)
    F.binary_cross_entropy(p, mg.tensor(np.array([1.0, 0.0, 1.0], np.float32), device="cuda")).backward()
    assert np.isfinite(p.grad.numpy()).all()


@gpu
def test_clip_without_bounds_on_cuda():
    assert (mg.ones(2, device="cuda").clip().numpy() == 1).all()


@gpu
def test_masked_conv_with_mixed_dtypes_matches_the_cpu_dtype():
    x64 = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    w32 = np.random.default_rng(1).standard_normal((2, 2, 3, 3)).astype(np.float32)
    cpu = F.masked_conv2d(mg.tensor(x64), mg.tensor(w32))
    gpu_ = F.masked_conv2d(mg.tensor(x64, device="cuda"), mg.tensor(w32, device="cuda"))
    assert gpu_.dtype == cpu.dtype
    np.testing.assert_allclose(gpu_.numpy(), cpu.numpy(), rtol=1e-6)


@gpu
def test_profiler_times_gpu_work():
    x = mg.randn(512, 512, device="cuda")
    with mg.profile() as p:
        (x @ x).sum()
    assert p.rows["MatMul"].forward_s > 0
