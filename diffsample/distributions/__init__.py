"""Distributions with reparameterized sampling and hand-written VJPs."""

from .base import Distribution
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .cauchy import Cauchy
from .exponential import Exponential
from .gumbel import Gumbel
from .laplace import Laplace
from .normal import Normal
from .relaxed import RelaxedBernoulli, RelaxedOneHotCategorical
from .uniform import Uniform

__all__ = [
    "Distribution",
    "Normal",
    "Uniform",
    "Exponential",
    "Gumbel",
    "Laplace",
    "Cauchy",
    "Categorical",
    "OneHotCategorical",
    "Bernoulli",
    "RelaxedOneHotCategorical",
    "RelaxedBernoulli",
]
