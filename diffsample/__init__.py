"""diffsample: differentiable sampling on NumPy, PyTorch, JAX and CuPy.

Gradients flow through random draws (reparameterization, Gumbel-Softmax, ...) on
every backend: torch autograd and JAX transforms use the library's hand-written
VJPs, and NumPy/CuPy users get them through :func:`vjp` without any framework.

``import diffsample`` imports no deep-learning framework; one is touched only when
its arrays are passed in.
"""

from . import estimators, random
from .autodiff import Primitive, primitive, registered_primitives, vjp
from .distributions import (
    Bernoulli,
    Categorical,
    Cauchy,
    Distribution,
    Exponential,
    Gumbel,
    Laplace,
    Logistic,
    Normal,
    OneHotCategorical,
    RelaxedBernoulli,
    RelaxedOneHotCategorical,
    Truncated,
    TruncatedLogistic,
    TruncatedNormal,
    Uniform,
)
from .relax import gumbel_softmax

__version__ = "0.1.0"

__all__ = [
    "random",
    "vjp",
    "primitive",
    "Primitive",
    "registered_primitives",
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
    "estimators",
    "gumbel_softmax",
    "__version__",
]
