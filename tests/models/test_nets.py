"""models/nets.py: the one MLP builder's layer structure for each option, and DCGAN's blocks and init."""
import numpy as np
import pytest

import minigen as mg
from minigen import nn
from minigen.models.nets import conv_body, conv_generator, dcgan_init_, mlp


def kinds(net: nn.Sequential) -> list:
    return [type(m).__name__ for m in net]


def test_mlp_hidden_layers_get_the_activation_and_the_head_only_the_out_activation():
    net = mlp([5, 7, 3], out_activation=nn.Sigmoid)
    assert kinds(net) == ["Linear", "ReLU", "Linear", "Sigmoid"]
    assert net(mg.randn(4, 5)).shape == (4, 3)


def test_mlp_norm_drops_the_bias_and_norm_first_false_skips_the_first_layer():
    net = mlp([2, 8, 8, 1], norm=nn.BatchNorm1d, norm_first=False)
    assert kinds(net) == ["Linear", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert net[0].bias is not None and net[2].bias is None and net[5].bias is not None


def test_mlp_without_head_is_a_body_of_hidden_layers_and_flatten_takes_images():
    body = mlp([64, 16, 8], head=False, flatten=True, norm=nn.BatchNorm1d)
    assert kinds(body) == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU"]
    assert body(mg.randn(4, 1, 8, 8)).shape == (4, 8)


def test_mlp_wraps_every_linear_and_refuses_a_single_size():
    wrapped = []
    mlp([3, 4, 2], wrap=lambda layer: wrapped.append(layer) or layer)
    assert len(wrapped) == 2 and all(isinstance(m, nn.Linear) for m in wrapped)
    with pytest.raises(ValueError, match="mlp"):
        mlp([3])


def test_dcgan_blocks_shapes_and_init():
    mg.manual_seed(0)
    g, d = conv_generator(10, 4), conv_body(4)
    dcgan_init_(g)
    assert g(mg.randn(3, 10)).shape == (3, 1, 8, 8) and d(mg.randn(3, 1, 8, 8)).shape == (3, 8, 2, 2)
    w = g[0].weight.numpy()
    assert abs(w.std() - 0.02) < 0.005 and np.all(g[1].bias.numpy() == 0)
    assert abs(g[1].weight.numpy().mean() - 1.0) < 0.01
