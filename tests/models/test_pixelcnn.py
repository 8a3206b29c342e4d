"""PixelCNN: masks A/B and the R -> G -> B ordering (on a small RGB image), the autoregressive property
through the engine's gradients, the blind spot, exact normalisation (Bernoulli and categorical), the fast
sampler against the naive one for the same seed, completion from the top half, a short training run."""
import itertools

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.kernels.masked_conv2d import pixelcnn_mask
from minigen.models.autoregressive.pixel_layers import colour_mask
from minigen.models.autoregressive.pixelcnn import PixelCNN
from test_baselines import randomize  # shared helper (tests/models is on sys.path)


def earlier(model) -> np.ndarray:
    """[d, e] True when flat index e comes before d in the model's ordering."""
    position = np.empty(model.dims, int)
    position[model.ordering()] = np.arange(model.dims)
    return position[None, :] < position[:, None]


def random_images(model, batch: int, seed: int = 0) -> mg.Tensor:
    rng = np.random.default_rng(seed)
    return mg.tensor(rng.integers(0, model.levels, (batch,) + model.event_shape).astype(np.float64))


def both_samplers_agree(draw, seed: int) -> np.ndarray:
    """draw(fast) for fast=False, then fast=True, from the same seed: the same images (returned)."""
    images = []
    for fast in (False, True):
        mg.manual_seed(seed)
        images.append(draw(fast).numpy())
    np.testing.assert_array_equal(images[1], images[0])
    return images[0]


# ---------------------------------------------------------------------------------------------- masks

@pytest.mark.parametrize("k", [1, 3, 5])
def test_one_colour_masks_are_the_raster_masks(k):
    for mask_type in "AB":
        full = colour_mask(4, 2, k, k, mask_type, 1)
        np.testing.assert_array_equal(full, np.broadcast_to(pixelcnn_mask(k, k, mask_type), full.shape))


def test_colour_groups_at_the_centre_tap():
    """R -> G -> B: output group g sees input groups < g ("A") or <= g ("B") at the centre, all before it."""
    a, b = colour_mask(6, 3, 3, 3, "A", 3), colour_mask(6, 6, 3, 3, "B", 3)
    np.testing.assert_array_equal(a[:, :, 1, 1], [[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0],
                                                  [1, 1, 0]])
    np.testing.assert_array_equal(b[:, :, 1, 1], np.kron(np.tril(np.ones((3, 3))), np.ones((2, 2))))
    assert (a[:, :, 0] == 1).all() and (a[:, :, 1, 0] == 1).all() and (a[:, :, 2] == 0).all()
    with pytest.raises(ValueError, match="multiple of the 3 colours"):
        colour_mask(4, 3, 3, 3, "A", 3)


def test_rgb_pixelcnn_follows_r_g_b_within_a_pixel():
    """On a 3x4x4 RGB image: each conditional depends only on earlier pixels and earlier colours of its
    pixel (gradients through the engine), and G sees R, B sees R and G at the same pixel."""
    model = randomize(PixelCNN(event_shape=(3, 4, 4), channels=12, layers=2, first_kernel=5,
                               likelihood="categorical", levels=17), seed=1, scale=0.5)
    dep = model.dependence(random_images(model, 6))
    assert not (dep & ~earlier(model)).any()
    r, g, b = (c * 16 + 5 for c in range(3))  # pixel (1, 1) in each colour plane
    assert dep[g, r] and dep[b, r] and dep[b, g]
    assert not dep[r, g] and not dep[r, b] and not dep[g, b] and not dep[r, r]
    assert dep.sum() > 0.5 * earlier(model).sum()


# ------------------------------------------------------------------------------ autoregressive property

def test_conditionals_depend_only_on_earlier_pixels_and_show_the_blind_spot():
    model = randomize(PixelCNN(event_shape=(1, 6, 6), channels=8, layers=3, first_kernel=3), seed=2,
                      scale=0.5)
    dep = model.dependence(random_images(model, 6))
    assert not (dep & ~earlier(model)).any()
    # pixel (3, 1): (2, 3) is one row up and two columns right, well inside the reach of 4 stacked 3x3
    # layers, yet no masked path gets there; the pixel left of it and the one above it are seen
    target = 3 * 6 + 1
    assert not dep[target, 2 * 6 + 3]
    assert dep[target, 3 * 6 + 0] and dep[target, 2 * 6 + 1] and dep[target, 2 * 6 + 2]
    blind = [(i, j) for i in range(6) for j in range(6) if earlier(model)[target, i * 6 + j]
             and not dep[target, i * 6 + j] and i >= 3 - 4 and abs(j - 1) <= 4]
    assert blind  # earlier pixels within the receptive field's extent that no path reaches


# -------------------------------------------------------------------------------------- likelihood

@pytest.mark.parametrize("likelihood", ["bernoulli", "categorical"])
def test_binary_probabilities_of_all_images_sum_to_one(likelihood):
    model = randomize(PixelCNN(event_shape=(1, 2, 3), channels=4, layers=1, first_kernel=3,
                               likelihood=likelihood), seed=3)
    images = mg.tensor(np.array(list(itertools.product([0.0, 1.0], repeat=6))).reshape(-1, 1, 2, 3))
    log_p = model.log_prob(images)
    assert abs(np.logaddexp.reduce(log_p.numpy())) < 1e-10
    terms = model.log_prob(images, reduce=False)
    assert terms.shape == images.shape
    np.testing.assert_allclose(terms.numpy().reshape(64, -1).sum(1), log_p.numpy(), rtol=1e-12)


def test_seventeen_level_rgb_pixel_sums_to_one_and_matches_softmax():
    model = randomize(PixelCNN(event_shape=(3, 1, 1), channels=6, layers=1, first_kernel=3,
                               likelihood="categorical", levels=17), seed=4, scale=0.3)
    levels = np.array(list(itertools.product(range(17), repeat=3)), np.float64).reshape(-1, 3, 1, 1)
    log_p = model.log_prob(mg.tensor(levels)).numpy()
    assert abs(np.logaddexp.reduce(log_p)) < 1e-9
    logits = model.image_logits(mg.tensor(levels[:5])).numpy()[..., 0, 0]  # (5, 3, 17)
    soft = logits - np.logaddexp.reduce(logits, axis=2, keepdims=True)
    picked = np.take_along_axis(soft, levels[:5, :, 0, 0, None].astype(int), 2)[..., 0].sum(1)
    np.testing.assert_allclose(log_p[:5], picked, rtol=1e-12)
    with pytest.raises(ValueError, match="integers in 0..16"):
        model.log_prob(mg.tensor(np.full((1, 3, 1, 1), 17.0)))


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="needs levels=2"):
        models.create("pixelcnn", levels=17)
    with pytest.raises(ValueError, match="multiple of 2"):
        models.create("pixelcnn", channels=7)
    with pytest.raises(ValueError, match="ema must be in"):
        models.create("pixelcnn", ema=1.0)
    with pytest.raises(ValueError, match="lr_schedule must be"):
        models.create("gated-pixelcnn", lr_schedule="linear")


@pytest.mark.parametrize("name", ["pixelcnn", "gated-pixelcnn", "pixelrnn-diag", "pixelcnn-pp"])
def test_ema_and_cosine_schedule_reach_the_trainer(name, tmp_path):
    """ema > 0 gives the trainer an EMA of the weights (the run's result), "cosine" a cosine schedule to 0."""
    from minigen import optim, trainer

    mg.manual_seed(0)
    plain = trainer.Training(models.create(name), 2, str(tmp_path / "plain"))
    assert (plain.averaged, plain.schedulers) == (None, [])
    model = models.create(name, ema=0.9, lr_schedule="cosine")
    run = trainer.Training(model, 2, str(tmp_path / "ema"))
    assert isinstance(run.averaged, optim.swa_utils.AveragedModel)
    (schedule,) = run.schedulers
    assert isinstance(schedule, optim.lr_scheduler.CosineAnnealingLR) and schedule.T_max == 2
    run.run(progress=False)
    assert run.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    for p, a in zip(model.parameters(), run.averaged.module.parameters()):
        np.testing.assert_array_equal(p.numpy(), a.numpy())  # the model now holds the averages


# ----------------------------------------------------------------------------------------- sampling

@pytest.mark.parametrize("shape,likelihood,levels", [((1, 8, 8), "bernoulli", 2),
                                                     ((3, 3, 3), "categorical", 17)])
def test_fast_sampler_gives_the_naive_samples_for_the_same_seed(shape, likelihood, levels):
    model = randomize(PixelCNN(event_shape=shape, channels=12, layers=2,
                               likelihood=likelihood, levels=levels), seed=5, scale=0.4)
    naive = both_samplers_agree(lambda fast: model.sample(12, fast=fast), seed=7)
    assert len(np.unique(naive)) > 1 and set(np.unique(naive)) <= set(range(levels))


def test_fast_sampler_draws_from_the_model():
    mg.manual_seed(0)
    model = randomize(PixelCNN(event_shape=(1, 1, 3), channels=4, layers=1, first_kernel=3), seed=6)
    images = mg.tensor(np.array(list(itertools.product([0.0, 1.0], repeat=3))).reshape(8, 1, 1, 3))
    p = np.exp(model.log_prob(images).numpy())
    draws = model.sample(20000).numpy().reshape(-1, 3)
    freq = np.bincount((draws * [4, 2, 1]).sum(1).astype(int), minlength=8) / 20000
    np.testing.assert_allclose(freq, p, atol=0.02)


def test_completion_keeps_the_top_half_and_both_samplers_agree():
    model = randomize(PixelCNN(event_shape=(1, 4, 4), channels=4, layers=1), seed=8, scale=0.5)
    x = random_images(model, 10, seed=1)
    observed = np.zeros((1, 4, 4), bool)
    observed[:, :2] = True
    completed = both_samplers_agree(lambda fast: model.complete(x, observed, fast=fast), seed=3)
    np.testing.assert_array_equal(completed[:, :, :2], x.numpy()[:, :, :2])
    with pytest.raises(ValueError, match="observed pixels must come before"):
        model.complete(x, ~observed)


def test_training_lowers_the_loss_and_reports_the_speedup():
    mg.manual_seed(0)
    model = models.create("pixelcnn", channels=16, layers=1, lr=1e-2)
    opt = model.configure_optimizers()
    batch = next(iter(model.loader("train", batch_size=32)))
    first = model.train_step(batch, opt, 0)["loss"]
    for step in range(1, 15):
        last = model.train_step(batch, opt, step)["loss"]
    assert last < first - 5.0
    m = model.metrics()
    assert {"test_nll", "test_bpd", "num_params", "sample_speedup"} <= set(m)
    assert m["sample_speedup"] > 1.5
