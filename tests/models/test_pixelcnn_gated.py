"""Gated PixelCNN: no blind spot (every earlier pixel reaches every conditional, through the engine's
gradients; the plain PixelCNN of the same depth misses some), the gated unit, class conditioning
(normalised per label, labels change the conditionals, sample(n, y=labels)), the fast sampler against the
naive one for the same seed, a short conditional training run."""
import itertools

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.autoregressive.gated_pixelcnn import GatedPixelCNN, gate
from minigen.models.autoregressive.pixelcnn import PixelCNN
from test_baselines import randomize  # shared helper (tests/models is on sys.path)
from test_pixelcnn import both_samplers_agree, earlier, random_images


def test_no_blind_spot_where_the_plain_pixelcnn_has_one():
    """On 5x5 images with 3x3 kernels and five layers, each conditional of the gated model depends on
    exactly the pixels before it; the plain PixelCNN of the same depth misses some of them."""
    gated = randomize(GatedPixelCNN(event_shape=(1, 5, 5), channels=4, layers=5, first_kernel=3), seed=1,
                      scale=0.5)
    x = random_images(gated, 6)
    np.testing.assert_array_equal(gated.dependence(x), earlier(gated))
    plain = randomize(PixelCNN(event_shape=(1, 5, 5), channels=8, layers=4, first_kernel=3), seed=1, scale=0.5)
    dep = plain.dependence(x)
    assert not (dep & ~earlier(plain)).any()
    assert (earlier(plain) & ~dep).sum() >= 10


def test_gate_is_tanh_times_sigmoid():
    pre = np.random.default_rng(0).standard_normal((3, 8, 2, 2))
    expected = np.tanh(pre[:, :4]) / (1 + np.exp(-pre[:, 4:]))
    np.testing.assert_allclose(gate(pre), expected, rtol=1e-12)
    np.testing.assert_allclose(gate(mg.tensor(pre)).numpy(), expected, rtol=1e-12)


def test_class_conditional_probabilities_sum_to_one_for_every_label_and_depend_on_it():
    model = randomize(GatedPixelCNN(event_shape=(1, 2, 3), channels=4, layers=2, first_kernel=3,
                                    class_conditional=True), seed=2)
    images = mg.tensor(np.array(list(itertools.product([0.0, 1.0], repeat=6))).reshape(-1, 1, 2, 3))
    per_label = []
    for label in (0, 3, 9):
        y = mg.tensor(np.full(64, label, np.int64))
        log_p = model.log_prob((images, y)).numpy()
        assert abs(np.logaddexp.reduce(log_p)) < 1e-10
        per_label.append(log_p)
    assert np.abs(per_label[0] - per_label[1]).max() > 1e-3
    with pytest.raises(TypeError, match="conditional"):
        model.log_prob(images)


def test_class_conditional_samples_follow_the_labels_and_both_samplers_agree():
    model = randomize(GatedPixelCNN(event_shape=(1, 4, 4), channels=4, layers=3, first_kernel=3,
                                    class_conditional=True), seed=3, scale=0.5)
    labels = np.arange(12) % 10
    drawn = both_samplers_agree(lambda fast: model.sample(12, y=labels, fast=fast), seed=5)
    assert drawn.shape == (12, 1, 4, 4) and 0 < drawn.mean() < 1
    with pytest.raises(TypeError, match="needs y"):
        model.sample(3)


@pytest.mark.parametrize("likelihood,levels", [("bernoulli", 2), ("categorical", 17)])
def test_unconditional_fast_sampler_and_completion_match_the_naive_ones(likelihood, levels):
    model = randomize(GatedPixelCNN(event_shape=(1, 5, 5), channels=4, layers=3, likelihood=likelihood,
                                    levels=levels), seed=4, scale=0.5)
    x = random_images(model, 8)
    observed = np.zeros((1, 5, 5), bool)
    observed[:, :2] = True
    drawn = both_samplers_agree(lambda fast: model.sample(8, fast=fast), seed=9)
    completed = both_samplers_agree(lambda fast: model.complete(x, observed, fast=fast), seed=9)
    assert 0 < drawn.mean() < levels - 1
    np.testing.assert_array_equal(completed[:, :, :2], x.numpy()[:, :, :2])


def test_conditional_training_lowers_the_loss():
    mg.manual_seed(0)
    model = models.create("gated-pixelcnn", channels=8, layers=2, class_conditional=True, lr=1e-2)
    assert model.conditional
    opt = model.configure_optimizers()
    batch = tuple(next(iter(model.loader("train", batch_size=32))))
    first = model.train_step(batch, opt, 0)["loss"]
    for step in range(1, 15):
        last = model.train_step(batch, opt, step)["loss"]
    assert last < first - 3.0
    assert model.num_params() < model.num_parameters()  # masked-out taps are not counted


def test_dropout_acts_in_training_only_and_keeps_the_samplers_equal():
    model = randomize(GatedPixelCNN(event_shape=(1, 4, 4), channels=4, layers=3, dropout=0.5), seed=2, scale=0.5)
    x = random_images(model, 6)
    model.train()
    mg.manual_seed(0)
    a = model.log_prob(x).numpy()
    b = model.log_prob(x).numpy()
    assert not np.allclose(a, b)  # a fresh dropout mask each pass
    with model.evaluating():
        np.testing.assert_array_equal(model.log_prob(x).numpy(), model.log_prob(x).numpy())
        assert not (model.dependence(x) & ~earlier(model)).any()  # still autoregressive
    both_samplers_agree(lambda fast: model.sample(6, fast=fast), seed=5)
