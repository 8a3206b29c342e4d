"""models/autoregressive/pixel_base.py's PixelModel, shared by every pixel model: the models without a cached
sampler (PixelCNN++, the PixelRNNs) ignore fast= and give exactly the naive sampler's images for the same
seed, so `sample` means one thing for every pixel model."""
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


@pytest.mark.parametrize("name", ["pixelcnn-pp", "pixelrnn-row", "pixelrnn-diag"])
def test_without_a_cached_sampler_fast_is_the_naive_sampler(name):
    mg.manual_seed(0)
    model = models.create(name, **SMALL.get(name, {}))
    assert not model.has_fast_sampler
    samples = []
    for fast in (True, False):
        mg.manual_seed(1)
        with model.evaluating():
            samples.append(model.sample(2, fast=fast).numpy())
    np.testing.assert_array_equal(samples[0], samples[1])
