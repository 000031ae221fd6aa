"""Distributions with reparameterized sampling and hand-written VJPs."""

from .base import Distribution
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .cauchy import Cauchy
from .exponential import Exponential
from .gumbel import Gumbel
from .laplace import Laplace
from .logistic import Logistic
from .normal import Normal
from .relaxed import RelaxedBernoulli, RelaxedOneHotCategorical
from .truncated import Truncated, TruncatedLogistic, TruncatedNormal
from .uniform import Uniform

__all__ = [
    "Distribution",
    "Normal",
    "Uniform",
    "Exponential",
    "Gumbel",
    "Laplace",
    "Cauchy",
    "Logistic",
    "TruncatedNormal",
    "TruncatedLogistic",
    "Truncated",
    "Categorical",
    "OneHotCategorical",
    "Bernoulli",
    "RelaxedOneHotCategorical",
    "RelaxedBernoulli",
]
