import numpy as np

import minigen as mg
from minigen.testing import gradcheck


def test_tanh_of_square_gradient():
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    (x * x).tanh().sum().backward()
    expected = 2 * x.data * (1 - np.tanh(x.data ** 2) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: (x * x).tanh(), [x])
