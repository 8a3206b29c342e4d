"""models/autoregressive/pixel_base.py's PixelModel, shared by every pixel model: every registered pixel
model has a cached sampler, and a model without one (has_fast_sampler = False) ignores fast= and gives
exactly the naive sampler's images for the same seed, so `sample` means one thing for every pixel model."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.autoregressive.pixel_base import PixelModel

from test_contract import SMALL  # the contract's small configurations (tests/models is on sys.path)

PIXEL_MODELS = ["pixelcnn", "gated-pixelcnn", "pixelcnn-pp", "pixelrnn-row", "pixelrnn-diag"]


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_every_pixel_model_is_a_pixel_model(name):
    assert isinstance(models.create(name, **SMALL.get(name, {})), PixelModel)


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_every_pixel_model_has_a_cached_sampler(name):
    assert models.create(name, **SMALL.get(name, {})).has_fast_sampler


def test_without_a_cached_sampler_fast_is_the_naive_sampler():
    name = "pixelrnn-row"

    class Uncached(type(models.create(name))):
        has_fast_sampler = False

        def start_cache(self, scaled, y=None):
            raise AssertionError("the naive sampler must not build a cache")

    mg.manual_seed(0)
    model = Uncached(**SMALL[name])
    samples = []
    for fast in (True, False):
        mg.manual_seed(1)
        with model.evaluating():
            samples.append(model.sample(2, fast=fast).numpy())
    np.testing.assert_array_equal(samples[0], samples[1])
    assert "sample_speedup" not in model.metrics("valid")
