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
