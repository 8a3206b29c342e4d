"""Probability distributions and invertible transforms with torch.distributions' names and semantics.

    from minigen.distributions import Normal, Bernoulli, Categorical, RelaxedOneHotCategorical, kl_divergence
    from minigen.distributions import TransformedDistribution, AffineTransform, ExpTransform, LogitTransform

distribution.py holds the families and their KL divergences, transforms.py the bijections (Transform,
ComposeTransform, the elementwise ones), transformed_distribution.py the change of variables.
"""
from .distribution import (Bernoulli, Categorical, Distribution, Normal, OneHotCategorical,
                           RelaxedOneHotCategorical, gumbel, gumbel_max, kl_divergence, register_kl)
from .transformed_distribution import TransformedDistribution
from .transforms import (AffineTransform, ComposeTransform, ExpTransform, LogitTransform, SigmoidTransform,
                         Transform, sum_rightmost)

__all__ = ["Distribution", "Normal", "Bernoulli", "Categorical", "OneHotCategorical", "RelaxedOneHotCategorical",
           "kl_divergence", "register_kl", "gumbel", "gumbel_max", "Transform", "ComposeTransform",
           "AffineTransform", "ExpTransform", "SigmoidTransform", "LogitTransform", "TransformedDistribution",
           "sum_rightmost"]
