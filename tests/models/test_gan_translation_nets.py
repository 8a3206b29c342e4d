"""The U-Net's skip connections and the PatchGAN's receptive field, read from the engine's gradients, against
their formulas (models/gan/translation_nets.py)."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
from minigen import nn
from minigen.models.gan.translation_nets import (PATCH_LAYERS, UNET_LAYER, PatchGAN, UNet, receptive_field,
                                                  transposed_support)


def leaky_unet(seed: int) -> UNet:
    """A small U-Net in eval mode whose decoder ReLUs are leaky, so that no unit's zero slope hides a path."""
    mg.manual_seed(seed)
    net = UNet(in_channels=1, channels=(4, 8, 8)).eval()
    net.relu = nn.LeakyReLU(0.2)
    return net


def support(grad: mg.Tensor) -> np.ndarray:
    """The (rows, cols) where a gradient (1, C, H, W) is nonzero in any channel."""
    return np.abs(grad.numpy()[0]).sum(axis=0) > 0


def window(lo_hi_rows, lo_hi_cols, size: int) -> np.ndarray:
    out = np.zeros((size, size), bool)
    out[lo_hi_rows[0]:lo_hi_rows[1] + 1, lo_hi_cols[0]:lo_hi_cols[1] + 1] = True
    return out


def test_receptive_field_formula():
    assert receptive_field(PATCH_LAYERS) == (6, 2, -1)  # r = 1 + 3 * 1 + 1 * 2 + 0 * 2
    assert receptive_field([(3, 1, 1)] * 3) == (7, 1, -3)
    assert receptive_field([(4, 2, 1)] * 3) == (22, 8, -7)  # the U-Net's encoder: wider than 8, sees everything


def test_patchgan_patches_read_exactly_their_receptive_field():
    mg.manual_seed(0)
    d = PatchGAN(in_channels=2, channels=8).eval()
    x = mg.randn(1, 2, 8, 8).requires_grad_()
    out = d(x)
    assert tuple(out.shape) == (1, 1, 3, 3)
    r, jump, start = receptive_field(PatchGAN.layers)
    for i in range(3):
        for j in range(3):
            (g,) = mg.grad(d(x)[0, 0, i, j], [x])
            rows = (max(start + i * jump, 0), min(start + i * jump + r - 1, 7))
            cols = (max(start + j * jump, 0), min(start + j * jump + r - 1, 7))
            np.testing.assert_array_equal(support(g), window(rows, cols, 8), err_msg=f"patch ({i}, {j})")
    assert not window((max(start + jump, 0), start + jump + r - 1), (0, 7), 8).all()  # a patch is not the image


@pytest.mark.parametrize("level", [0, 1, 2])
def test_unet_skips_reach_the_output_through_the_decoder_formula(level):
    """d G(x)[i, j] / d e_k is nonzero exactly on the positions the transposed convolutions above level k read:
    the skip at level k joins the decoder and nothing else stands between it and the output."""
    net = leaky_unet(1)
    x = mg.rand(2, 1, 8, 8)
    skips = [e.detach().requires_grad_() for e in net.encode(x)]
    sizes = (4, 2, 1)
    ups = [UNET_LAYER] * (level + 1)  # level 0 (e1) passes one transposed conv, level 2 (e3) all three
    for i in range(8):
        for j in (0, 3, 7):
            out = net.decode(skips)
            (g,) = mg.grad(out[0, 0, i, j], [skips[level]])
            rows, cols = transposed_support(i, ups, 8), transposed_support(j, ups, 8)
            np.testing.assert_array_equal(support(g[:1]), window(rows, cols, sizes[level]),
                                          err_msg=f"level {level}, output ({i}, {j})")
            assert np.abs(g.numpy()[1]).sum() == 0  # example 0's output never reads example 1 (eval mode)


def test_unet_output_reads_every_input_pixel_and_the_first_skip_only_locally():
    net = leaky_unet(2)
    x = mg.rand(1, 1, 8, 8).requires_grad_()
    (g,) = mg.grad(net(x)[0, 0, 0, 0], [x])
    assert support(g).all()  # through the bottleneck e3, whose receptive field covers the image
    # without the bottleneck path (e2, e3 held fixed) the corner pixel reads only the first skip's window
    e1, e2, e3 = net.encode(x)
    out = net.decode([e1, e2.detach(), e3.detach()])
    (g1,) = mg.grad(out[0, 0, 0, 0], [x])
    lo, hi = transposed_support(0, [UNET_LAYER], 8)
    r, jump, start = receptive_field([UNET_LAYER])
    rows = (max(start + lo * jump, 0), start + hi * jump + r - 1)
    np.testing.assert_array_equal(support(g1), window(rows, rows, 8))


def test_transposed_support_formula():
    assert transposed_support(0, [(4, 2, 1)], 8) == (0, 0)
    assert transposed_support(3, [(4, 2, 1)], 8) == (1, 2)  # outputs 2m - 1 .. 2m + 2 come from m
    assert transposed_support(7, [(4, 2, 1)] * 3, 8) == (0, 0)


def test_residual_block_is_the_identity_when_its_last_norm_is_zero_and_the_generator_reads_every_pixel():
    from minigen.models.gan.translation_nets import ResidualBlock, ResNetGenerator

    mg.manual_seed(0)
    block = ResidualBlock(4).eval()
    h = mg.randn(2, 4, 4, 4)
    assert not np.allclose(block(h).numpy(), h.numpy())
    block.body[-1].weight.data = block.body[-1].weight.data * 0  # BN gamma = 0 (and beta = 0): the body adds 0
    np.testing.assert_array_equal(block(h).numpy(), h.numpy())
    net = ResNetGenerator(1, channels=4, blocks=2).eval()  # 3x3 convs over the 4x4 map: each output sees all 64
    x = mg.randn(1, 1, 8, 8, requires_grad=True)
    net(x)[0, 0, 0, 0].backward()
    assert support(x.grad).all()


def test_domain_affine_scales_and_shifts_by_each_images_domain_and_trains_only_its_row():
    from minigen.models.gan.translation_nets import DomainAffine

    mg.manual_seed(0)
    film = DomainAffine(3, domains=4)
    film.gamma.data = np.arange(12, dtype=np.float32).reshape(4, 3) - 5.0
    film.beta.data = np.arange(12, dtype=np.float32).reshape(4, 3) * 0.5
    h = mg.randn(2, 3, 2, 2)
    c = mg.tensor(np.eye(4, dtype=np.float32)[[1, 3]])  # image 0 in domain 1, image 1 in domain 3
    out = film(h, c)
    want = h.numpy() * film.gamma.numpy()[[1, 3], :, None, None] + film.beta.numpy()[[1, 3], :, None, None]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    out.sum().backward()
    used = np.abs(film.gamma.grad.numpy()).sum(1) > 0
    assert used.tolist() == [False, True, False, True]
    np.testing.assert_allclose(film.beta.grad.numpy()[[1, 3]], 4.0)  # d sum / d beta = the 2x2 pixels


def test_conditional_unet_starts_as_the_plain_unet_and_each_domain_only_moves_its_own_images():
    mg.manual_seed(0)
    plain = UNet(in_channels=1, channels=(4, 8, 8), dropout=0.0).eval()
    mg.manual_seed(0)
    cond = UNet(in_channels=1, channels=(4, 8, 8), dropout=0.0, domains=3).eval()
    x = mg.randn(3, 1, 8, 8)
    c = mg.tensor(np.eye(3, dtype=np.float32))  # image i asks for domain i
    np.testing.assert_allclose(cond(x, c).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-6)
    before = cond(x, c).numpy()
    cond.film[3].gamma.data = cond.film[3].gamma.data.copy()
    cond.film[3].gamma.data[2] *= -1.0  # domain 2 flips the bottleneck's decoded features
    after = cond(x, c).numpy()
    np.testing.assert_array_equal(after[:2], before[:2])
    assert np.abs(after[2] - before[2]).max() > 1e-3
    with pytest.raises(TypeError, match="needs the one-hot"):
        cond(x)


def test_gain_skip_adds_its_pairs_gain_times_the_centred_input_to_the_logits():
    from minigen.models.gan.translation_nets import GAIN_RATE, GATE_SCALE

    mg.manual_seed(0)
    gated = UNet(in_channels=3, channels=(4, 8, 8), dropout=0.0, domains=2, input_skip="gain").eval()
    mg.manual_seed(0)
    plain = UNet(in_channels=3, channels=(4, 8, 8), dropout=0.0, domains=2).eval()
    w = np.array([0.3, -0.05, 0.0, -0.2], np.float32) / GAIN_RATE  # pairs (0,0), (0,1), (1,0), (1,1)
    gated.pair_skip.data = w[:, None]
    x = mg.rand(4, 3, 8, 8)
    c = mg.tensor(np.eye(2, dtype=np.float32)[[0, 1, 0, 1]])
    pair = mg.tensor(np.eye(4, dtype=np.float32))  # image i is pair i: sources 0, 0, 1, 1
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    added = logit(gated(x, c, pair).numpy().astype(np.float64)) - logit(plain(x, c).numpy().astype(np.float64))
    want = GATE_SCALE * np.tanh(GAIN_RATE * w)[:, None, None, None] * (2 * x.numpy()[:, :1] - 1)
    np.testing.assert_allclose(added, want, atol=1e-4)
    assert added[2].max() == 0.0  # a zero gain adds nothing
    with pytest.raises(TypeError, match="needs the one-hot .source, target. pairs"):
        gated(x, c)
    with pytest.raises(ValueError, match="input_skip needs domains"):
        UNet(in_channels=1, input_skip="gain")
    with pytest.raises(ValueError, match="input_skip must be one of"):
        UNet(in_channels=1, domains=2, input_skip="rot")


def test_affine_warp_is_exact_on_the_identity_and_the_quarter_turn_and_differentiable_between():
    from minigen.models.gan.translation_nets import affine_warp

    mg.manual_seed(0)
    x = mg.rand(2, 1, 8, 8)
    theta = lambda *t: mg.tensor(np.array([t, t], np.float32))  # noqa: E731
    np.testing.assert_array_equal(affine_warp(x, theta(1, 0, 0, 1, 0, 0)).numpy(), x.numpy())
    np.testing.assert_allclose(affine_warp(x, theta(0, 1, -1, 0, 0, 0)).numpy(), np.rot90(x.numpy(), 1, axes=(2, 3)),
                               atol=1e-6)
    half = np.sin(np.pi / 6)  # a 30-degree turn: the output mixes neighbours, and theta gets a gradient
    turn = mg.tensor(np.array([[np.cos(np.pi / 6), -half, half, np.cos(np.pi / 6), 0.1, 0.0]] * 2, np.float32),
                     requires_grad=True)
    affine_warp(x, turn).sum().backward()
    assert np.abs(turn.grad.numpy()).min() > 0


def test_warps_skip_starts_as_the_plain_unet_and_adds_each_hypothesis_gain_times_its_warped_input():
    from minigen.models.gan.translation_nets import GAIN_RATE, GATE_SCALE, WARPS

    mg.manual_seed(0)
    warps = UNet(in_channels=1, channels=(4, 8, 8), dropout=0.0, domains=1, input_skip="warps").eval()
    mg.manual_seed(0)
    plain = UNet(in_channels=1, channels=(4, 8, 8), dropout=0.0, domains=1).eval()
    x = mg.rand(2, 1, 8, 8)
    c = pair = mg.tensor(np.ones((2, 1), np.float32))
    np.testing.assert_allclose(warps(x, c, pair).numpy(), plain(x, c).numpy(), rtol=1e-6)  # every gain is 0
    start = np.zeros((1, WARPS * 6), np.float32)
    start[0, 6:12] = [0, 1, -1, 0, 0, 0]  # hypothesis 1: the quarter turn
    warps.warp_start.data = start
    gains = np.zeros((1, WARPS), np.float32)
    gains[0, 1] = 20.0 / GAIN_RATE  # tanh(20) = 1
    warps.pair_skip.data = gains
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    added = logit(warps(x, c, pair).numpy().astype(np.float64)) - logit(plain(x, c).numpy().astype(np.float64))
    np.testing.assert_allclose(added, GATE_SCALE * (2 * np.rot90(x.numpy(), 1, axes=(2, 3)) - 1), atol=1e-4)


def test_dihedral_matrices_are_the_eight_symmetries_of_the_grid():
    from minigen.models.gan.translation_nets import dihedral_matrices

    x = np.arange(64, dtype=np.float32).reshape(8, 8)
    maps = dihedral_matrices()
    moved = [(m @ x.reshape(64)).reshape(8, 8) for m in maps]
    want = [np.rot90(x, k) for k in range(4)] + [np.rot90(x.T, k) for k in range(4)]
    for got, expected in zip(moved, want):
        np.testing.assert_array_equal(got, expected)
    assert len({m.tobytes() for m in moved}) == 8  # all distinct
    np.testing.assert_array_equal(maps.sum(axis=1), 1.0)  # permutations
    np.testing.assert_array_equal(maps.sum(axis=2), 1.0)


def test_dihedral_and_dense_skips_add_their_pairs_map_of_the_input():
    from minigen.models.gan.translation_nets import GAIN_RATE, GATE_SCALE, SYM_RATE

    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    mg.manual_seed(0)
    plain = UNet(in_channels=1, channels=(4, 8, 8), dropout=0.0, domains=1).eval()
    x = mg.rand(2, 1, 8, 8)
    c = pair = mg.tensor(np.ones((2, 1), np.float32))
    for skip in ("dihedral", "dense"):
        mg.manual_seed(0)
        net = UNet(in_channels=1, channels=(4, 8, 8), dropout=0.0, domains=1, input_skip=skip).eval()
        np.testing.assert_allclose(net(x, c, pair).numpy(), plain(x, c).numpy(), rtol=1e-6)  # the gain is 0
        net.pair_skip.data = np.full((1, 1), 20.0 / GAIN_RATE, np.float32)  # tanh(20) = 1
        if skip == "dihedral":  # nearly all weight on the quarter turn: the rotated input comes through
            net.pair_sym.data = np.array([[0, 30, 0, 0, 0, 0, 0, 0]], np.float32) / SYM_RATE
            want = np.rot90(x.numpy(), 1, axes=(2, 3))
        else:  # M = I + W: the identity at W = 0; W = P - I gives the transpose
            net.pair_dense.data = (np.eye(64)[np.arange(64).reshape(8, 8).T.reshape(64)] - np.eye(64)).reshape(1, -1).astype(np.float32)
            want = x.numpy().transpose(0, 1, 3, 2)
        added = logit(net(x, c, pair).numpy().astype(np.float64)) - logit(plain(x, c).numpy().astype(np.float64))
        np.testing.assert_allclose(added, GATE_SCALE * (2 * want - 1), atol=2e-3)
        if skip == "dihedral":
            net.pair_sym.data = np.zeros((1, 8), np.float32)  # off saturation: every symmetry gets a gradient
        out = net(x, c, pair)
        out.sum().backward()
        assert np.abs(net.pair_sym.grad.numpy() if skip == "dihedral" else net.pair_dense.grad.numpy()).sum() > 0
