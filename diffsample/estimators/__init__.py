"""Gradient estimators for ``grad_theta E_{x ~ p_theta}[f(x)]``, on every backend.

One result type, :class:`EstimatorResult` (value, gradients by parameter name,
per-sample contributions, variance and standard error one call away), for:

* :func:`score_function` — REINFORCE with baselines (none, moving average,
  leave-one-out, optimal, your own); :func:`surrogate` / :func:`magic_box` — the
  same estimator as a loss for torch/JAX autodiff (DiCE), second derivatives included;
* :func:`pathwise` — reparameterization; ``f``'s derivative from torch/JAX autodiff,
  or supplied as ``grad_f`` on NumPy/CuPy;
* :func:`measure_valued` — weak derivatives of the Normal (Weibull/Maxwell
  decompositions, optional coupling);
* :func:`arm`, :func:`disarm` — Bernoulli(logits) objectives;
* :func:`gumbel_softmax_estimator` — Gumbel-Softmax and straight-through;
* :func:`variance_table` — the variance comparison of Mohamed et al. (2020) on NumPy.
"""

from .discrete import arm, disarm
from .measure_valued import measure_valued
from .pathwise import gumbel_softmax_estimator, pathwise
from .result import EstimatorResult
from .score import magic_box, score_function, surrogate

__all__ = [
    "EstimatorResult",
    "score_function",
    "surrogate",
    "magic_box",
    "pathwise",
    "measure_valued",
    "arm",
    "disarm",
    "gumbel_softmax_estimator",
    "variance_table",
]


def __getattr__(name: str):  # PEP 562: the Mohamed study needs NumPy, loaded on first use
    if name == "variance_table":
        from .mohamed import variance_table

        return variance_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
