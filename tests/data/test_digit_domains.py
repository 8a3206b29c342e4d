"""digit-domains: each domain a deterministic function of its digit, splits that keep the digits' split."""
from __future__ import annotations

import numpy as np
import pytest

from minigen.data import digit_domains as dd
from minigen.data import load_digits
from minigen.data.digits import split_indices


def digits(split: str) -> np.ndarray:
    return load_digits(split).images / 16.0


@pytest.mark.parametrize("domain", dd.DOMAINS)
def test_each_domain_is_a_deterministic_function_of_the_image(domain):
    x = digits("valid")[:40]
    a, b = dd.transform(domain, x), dd.transform(domain, x.copy())
    np.testing.assert_array_equal(a, b)
    assert a.shape == (40, 1, 8, 8) and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    # image by image: the same digit gives the same picture wherever it sits in a batch
    np.testing.assert_array_equal(dd.transform(domain, x[7:8])[0], a[7])
    images, labels = dd.domain_images("valid", domain)
    np.testing.assert_array_equal(images[:40], a)
    np.testing.assert_array_equal(labels, load_digits("valid").labels)


def test_domains_are_the_formulas_of_the_docstring():
    x = np.zeros((1, 8, 8))
    x[0, 2:6, 3] = 1.0  # a vertical bar, one pixel wide
    x[0, 1, 3] = 0.25  # a soft rim above it
    np.testing.assert_array_equal(dd.transform("inverted", x)[0, 0], 1 - x[0])
    np.testing.assert_array_equal(dd.transform("rotated", x)[0, 0], np.rot90(x[0]))
    thick = dd.transform("thick", x)[0, 0]
    np.testing.assert_array_equal(thick[:, 3], x[0, :, 3])
    np.testing.assert_array_equal(thick[:, 4], x[0, :, 3])  # one pixel wider, to the right
    assert thick[:, [0, 1, 2, 5, 6, 7]].sum() == 0
    thin = dd.transform("thin", x)[0, 0]
    assert thin[1, 3] == 0 and thin[2:6, 3].min() == 1  # the rim vanishes, the core stays
    outline = dd.transform("outline", x)[0, 0]
    assert outline[2:6, 2].min() == 1 and outline[2:6, 4].min() == 1  # the edge beside the bar
    block = np.zeros((1, 8, 8))
    block[0, 2:6, 2:5] = 1.0
    edges = dd.transform("outline", block)[0, 0]
    assert edges[3:5, 3].max() == 0 and edges[2:6, 2].min() == 1  # inside a block dilation and erosion agree
    slanted = dd.transform("slanted", x)[0, 0]  # row i moves right by 0.25 (3.5 - i), bilinearly
    for i in range(2, 6):
        centre = (slanted[i] * np.arange(8)).sum() / slanted[i].sum()
        assert centre == pytest.approx(3 + 0.25 * (3.5 - i), abs=1e-6)


@pytest.mark.parametrize("domain", ["inverted", "rotated"])
def test_read_inverts_the_exactly_invertible_domains(domain):
    x = digits("test")[:20].astype(np.float32)
    np.testing.assert_allclose(dd.read(domain, dd.transform(domain, x)), x, atol=1e-7)


def test_no_test_digit_trains_any_domain():
    """Training images of every domain, paired and unpaired, are the train digits' own pictures: each equals
    transform(domain, its train digit), and the train and test digits are disjoint sets of images."""
    train_idx, test_idx = split_indices("train"), split_indices("test")
    assert not set(train_idx) & set(test_idx)
    x_train = digits("train")
    for domain in dd.DOMAINS:
        images, _ = dd.domain_images("train", domain)
        np.testing.assert_array_equal(images, dd.transform(domain, x_train))
    u = dd.unpaired("train", dd.DOMAINS)
    for d, domain in enumerate(dd.DOMAINS):
        mine = u.domains == d
        np.testing.assert_array_equal(u.images[mine], dd.transform(domain, x_train[mine]))


def test_changing_the_test_digits_changes_no_training_or_validation_image(monkeypatch):
    import minigen.data.digits as digits_module

    images, labels = digits_module._raw_digits()
    before = {(split, dom): dd.domain_images(split, dom)[0] for split in ("train", "valid") for dom in dd.DOMAINS}
    unpaired_before = dd.unpaired("train", dd.DOMAINS).images
    changed = images.copy()
    changed[split_indices("test")] = 16 - changed[split_indices("test")]
    monkeypatch.setattr(digits_module, "_raw_digits", lambda: (changed, labels))
    dd._split_in_domain.cache_clear()
    try:
        for (split, dom), old in before.items():
            np.testing.assert_array_equal(dd.domain_images(split, dom)[0], old)
        np.testing.assert_array_equal(dd.unpaired("train", dd.DOMAINS).images, unpaired_before)
        # the change did reach the test domain images (so the comparisons above could fail)
        np.testing.assert_allclose(dd.domain_images("test", "digit")[0], 1 - digits_test_of(images)[:, None])
    finally:
        dd._split_in_domain.cache_clear()


def digits_test_of(raw: np.ndarray) -> np.ndarray:
    return (raw[split_indices("test")] / 16.0).astype(np.float32)


def test_splits_are_the_digit_splits():
    for split in ("train", "valid", "test"):
        p = dd.paired(split, "outline", "digit")
        np.testing.assert_array_equal(p.target, (load_digits(split).images / 16.0).astype(np.float32))
        np.testing.assert_array_equal(p.source, dd.transform("outline", digits(split)))
        np.testing.assert_array_equal(p.labels, load_digits(split).labels)


def test_unpaired_gives_each_digit_in_one_domain_only():
    u = dd.unpaired("train", ("thin", "thick", "inverted"))
    n = len(load_digits("train"))
    assert u.images.shape == (n, 1, 8, 8)
    np.testing.assert_array_equal(u.domains, np.arange(n) % 3)
    x = digits("train")
    for d, dom in enumerate(("thin", "thick", "inverted")):
        mine = u.domains == d
        np.testing.assert_array_equal(u.images[mine], dd.transform(dom, x[mine]))
    thin, thick = dd.unpaired("train", ("thin", "thick")), None
    a_digits = set(np.flatnonzero(thin.domains == 0))
    b_digits = set(np.flatnonzero(thin.domains == 1))
    assert not a_digits & b_digits and len(a_digits) + len(b_digits) == n and thick is None


def test_unknown_domain_and_bad_shapes_are_errors():
    with pytest.raises(ValueError, match="unknown domain 'bold'"):
        dd.transform("bold", digits("test")[:2])
    with pytest.raises(ValueError, match=r"expected images \(N, 1, 8, 8\).*\(2, 64\)"):
        dd.transform("thin", np.zeros((2, 64)))
