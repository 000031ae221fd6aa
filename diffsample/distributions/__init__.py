"""Distributions with reparameterized sampling and hand-written VJPs."""

from .base import Distribution
from .cauchy import Cauchy
from .exponential import Exponential
from .gumbel import Gumbel
from .laplace import Laplace
from .normal import Normal
from .uniform import Uniform

__all__ = ["Distribution", "Normal", "Uniform", "Exponential", "Gumbel", "Laplace", "Cauchy"]
