"""GAN-CLS: the captions data module (attributes, terciles, captions and their errors), the matching-aware
discriminator loss in its cases, GAN-INT's interpolation, and text-conditional sampling."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.data import captions, load_digits
from minigen.models.gan.gan_cls import gan_cls_discriminator_loss

TINY = {"z_dim": 4, "channels": 4, "text_dim": 8, "compressed": 4, "batch_size": 8}


def softplus(x):
    return np.log1p(np.exp(x))


def test_attributes_measure_ink_slant_and_spread():
    bar = np.zeros((1, 8, 8))
    bar[0, 1:7, 3] = 1.0  # an upright bar
    leaning = np.zeros((1, 8, 8))
    for r in range(1, 7):
        leaning[0, r, 6 - r] = 1.0  # top to the right
    thick = bar.copy()
    thick[0, 1:7, 4] = 1.0
    small = np.zeros((1, 8, 8))
    small[0, 3:5, 3] = 1.0
    m = captions.measure(np.concatenate([bar, leaning, thick, small]))
    assert m[0, 1] == pytest.approx(0.0, abs=1e-9) and m[1, 1] == pytest.approx(1.0)  # slant: dc/dr
    assert m[2, 0] == 2 * m[0, 0]  # twice the ink
    assert m[3, 2] < m[0, 2]  # a shorter bar spreads less


def test_terciles_split_each_class_in_thirds():
    d = load_digits("train")
    cats = captions.categories(d.images / 16.0, d.labels)
    for k in range(10):
        share = [(cats[d.labels == k] == c).mean(axis=0) for c in (-1, 0, 1)]
        np.testing.assert_allclose(np.array(share), 1 / 3, atol=0.04)


def test_captions_name_the_digit_and_the_named_attributes():
    assert captions.caption(7, [1, 1, 0]) == "a thick seven slanted right"
    assert captions.caption(8, [0, 0, 0]) == "an eight"
    assert captions.caption(0, [-1, -1, -1]) == "a thin small zero slanted left"
    digit, codes = captions.parse("a thin small zero slanted left")
    assert digit == 0 and codes.tolist() == [-1, -1, -1]
    ids = captions.encode(["a thick seven"])
    assert ids.shape == (1, captions.MAX_WORDS) and (ids[0, 3:] == 0).all()


def test_unknown_words_are_named():
    with pytest.raises(ValueError, match="'fat'.*'seveen'"):
        captions.encode(["a fat seveen"])


def test_mentions_keep_only_true_attributes():
    cats = np.array([[1, 0, -1]] * 200)
    m = captions.random_mentions(cats, np.random.default_rng(0))
    assert set(np.unique(m[:, 0])) == {0, 1} and (m[:, 1] == 0).all() and set(np.unique(m[:, 2])) == {-1, 0}


def test_matching_aware_loss_cases():
    rng = np.random.default_rng(1)
    r, w, f = (rng.standard_normal(6) for _ in range(3))
    t = lambda a: mg.tensor(a)
    cls = gan_cls_discriminator_loss(t(r), t(w), t(f), True).item()
    assert cls == pytest.approx(softplus(-r).mean() + 0.5 * (softplus(w).mean() + softplus(f).mean()), rel=1e-5)
    plain = gan_cls_discriminator_loss(t(r), t(w), t(f), False).item()
    assert plain == pytest.approx(softplus(-r).mean() + softplus(f).mean(), rel=1e-5)
    keep = np.array([1, 1, 0, 1, 0, 1], np.float64)  # pairs whose "mismatched" caption equals their own
    masked = gan_cls_discriminator_loss(t(r), t(w), t(f), True, t(keep)).item()
    assert masked == pytest.approx(softplus(-r).mean() + 0.5 * (softplus(w)[keep == 1].mean() + softplus(f).mean()),
                                   rel=1e-5)
    # the wrong-text term pushes D down on real images with mismatched text, and only with CLS
    w_t = mg.tensor(w, requires_grad=True)
    gan_cls_discriminator_loss(t(r), w_t, t(f), True).backward()
    assert (w_t.grad.numpy() > 0).all()
    w_t = mg.tensor(w, requires_grad=True)
    assert not gan_cls_discriminator_loss(t(r), w_t, t(f), False).requires_grad  # s_w plays no part


def test_mismatched_captions_differ_or_are_left_out():
    mg.manual_seed(0)
    model = models.create("gan-cls", **TINY)
    x, y = next(iter(model.loader("train")))
    right, wrong, differ = model.batch_captions(x, y)
    assert wrong == right[1:] + right[:1]
    assert differ.tolist() == [float(a != b) for a, b in zip(right, wrong)]
    for text, label in zip(right, y.numpy()):
        assert captions.parse(text)[0] == label


def test_training_updates_the_text_encoder_and_samples_follow_captions():
    mg.manual_seed(0)
    model = models.create("gan-cls", **TINY)
    opts = model.configure_optimizers()
    before = model.encoder.embed.weight.numpy().copy()
    batches = iter(model.loader("train"))
    for step in range(2):
        logs = model.train_step(next(batches), opts, step)
    assert np.isfinite(list(logs.values())).all() and "g_int" in logs
    assert not np.allclose(model.encoder.embed.weight.numpy(), before)  # the encoder trains with D
    a = model.sample(3, "a thick seven", rng=np.random.default_rng(0)).numpy()
    b = model.sample(3, ["a thick seven"] * 3, rng=np.random.default_rng(0)).numpy()
    c = model.sample(3, "a thin one", rng=np.random.default_rng(0)).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 1, 8, 8) and np.abs(a - c).max() > 0  # the caption reaches G
    with pytest.raises(ValueError, match="'fat'"):
        model.sample(2, "a fat seven")
    with pytest.raises(TypeError, match="gan-cls"):
        model.sample(2)


def test_without_interpolation_no_gan_int_term():
    mg.manual_seed(0)
    model = models.create("gan-cls", **TINY, interpolation=False)
    logs = model.train_step(next(iter(model.loader("train"))), model.configure_optimizers(), 0)
    assert "g_int" not in logs
