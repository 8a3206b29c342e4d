"""Gradient checks and hypothesis strategies for anyone's test suite.

    from minigen.testing import gradcheck, gradgradcheck
    from minigen.testing import strategies as mst

    @given(x=mst.tensors(shape=mst.shapes(max_dims=3), dtype=np.float64))
    def test_my_op(x):
        assert gradcheck(my_op, [x])
"""
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]
