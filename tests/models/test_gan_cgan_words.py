"""The cGAN words model (models/gan/cgan_words.py): the word vectors, the training targets, sampling given
images or digit labels, the scores against a hand-made generator, model selection on word accuracy."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.evaluation import digits_classifier
from minigen.models.gan.cgan_words import NAMES, WORD_DIM, word_vectors

TINY = {"z_dim": 8, "sizes": [8, 8, 16, 8, 4, 8], "batch_size": 16, "select_every": 0}


def tiny(**extra):
    mg.manual_seed(0)
    return models.create("cgan-words", **{**TINY, **extra})


def test_word_vectors_are_thirty_distinct_unit_directions():
    w = word_vectors()
    assert w.shape == (10, 3, WORD_DIM)
    np.testing.assert_allclose(np.linalg.norm(w, axis=-1), 1.0, rtol=1e-6)
    flat = w.reshape(30, WORD_DIM)
    cos = flat @ flat.T
    assert (cos[~np.eye(30, dtype=bool)] < 0.99).all()
    assert len({n for names in NAMES for n in names}) == 30
    np.testing.assert_array_equal(word_vectors(), w)  # hashed, not drawn: the same every time


def test_words_batch_targets_one_of_the_digits_names_given_its_features():
    model = tiny()
    x, y = next(iter(model.loader("train")))
    vecs, feats = model.words_batch((x, y))
    words = word_vectors()
    for v, d in zip(vecs.numpy(), y.numpy()):
        assert min(np.abs(v - words[d, k]).max() for k in range(3)) == 0.0
    np.testing.assert_allclose(feats.numpy(), digits_classifier.features_and_probs(x.numpy())[0], rtol=1e-6)


def test_sample_needs_images_or_labels():
    model = tiny()
    with pytest.raises(TypeError, match="cgan-words is conditional"):
        model.sample(3)
    with pytest.raises(TypeError, match="images"):
        model.sample(3, np.zeros((3, 5)))
    images = model.split_arrays("test")[0][:3]
    out = model.sample(3, images, rng=np.random.default_rng(0))
    assert out.shape == (3, WORD_DIM) and model.training
    one = model.sample(3, images[:1], rng=np.random.default_rng(0)).numpy()  # one image, repeated
    np.testing.assert_array_equal(one[0], out.numpy()[0])


def test_labels_condition_on_test_images_of_that_digit():
    model = tiny()
    images, labels = model.split_arrays("test")
    picked = model.conditioning_images(200, np.arange(200) % 10, np.random.default_rng(0))
    for img, d in zip(picked, np.arange(200) % 10):
        matches = np.flatnonzero((images == img).all(axis=(1, 2, 3)))
        assert len(matches) and (labels[matches] == d).all()
    assert len({img.tobytes() for img in picked[::10]}) > 1  # not always the same 0


def test_word_scores_of_a_generator_that_always_says_the_english_name():
    """A generator returning the English name of the image's true digit scores word_acc 1, word_names 1/3;
    one returning 'zero' scores the share of zeros."""
    model = tiny()
    words = word_vectors()
    _, labels = model.split_arrays("valid")
    truth = iter([labels])

    class Oracle:
        def __call__(self, z, c):
            return mg.tensor(np.repeat(words[next(truth), 0], len(c) // len(labels), axis=0))

    model.generate = lambda z, c, generator=None: generator(z, c)
    scores = model.word_scores("valid", np.random.default_rng(0), per_image=4, generator=Oracle())
    assert scores == {"word_acc": 1.0, "word_names": pytest.approx(1 / 3)}
    zero = lambda z, c: mg.tensor(np.repeat(words[:1, 0], len(c), axis=0))
    scores = model.word_scores("valid", np.random.default_rng(0), per_image=4, generator=zero)
    assert scores["word_acc"] == pytest.approx((labels == 0).mean())


def test_train_step_selects_on_word_accuracy(monkeypatch):
    model = tiny(select_every=2)
    opts = model.configure_optimizers()
    batches = iter(model.loader("train"))
    logs = [model.train_step(next(batches), opts, step) for step in range(2)]
    assert "valid_score" not in logs[0] and 0 <= logs[1]["valid_score"] <= 1
    assert float(model.best_valid_ll.numpy()) == logs[1]["valid_score"]
    m = model.metrics("valid")
    assert 0 <= m["word_acc"] <= 1 and 0 <= m["word_names"] <= 1 and m["word_acc_chance"] == 0.1


def test_sample_figure(tmp_path):
    path = tiny().sample_figure(str(tmp_path / "words.png"))
    assert (tmp_path / "words.png").stat().st_size > 0 and path.endswith("words.png")
