"""The Gumbel (type-I extreme value, maximum) distribution, every method a primitive."""

from __future__ import annotations

import math
from typing import Any

from ..autodiff import primitive
from .base import LocationScale, _clip_bound, _full, _icdf_edges, _times

__all__ = ["Gumbel"]

_INF = math.inf
_EULER = 0.57721566490153286061  # Euler-Mascheroni constant
_PI2_6 = math.pi**2 / 6.0


def _params(rng: Any, n: int = 5) -> tuple:
    return rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)


def _log_max(xp: Any, a: Any) -> float:
    """``log`` of the largest finite value of ``a``'s dtype: where ``exp`` overflows."""
    return math.log(float(xp.finfo(a.dtype).max))


def _exp_neg(xp: Any, z: Any) -> Any:
    """``exp(-z)`` with the exponent clipped where it would overflow (no warning)."""
    return xp.exp(xp.clip(-z, max=_log_max(xp, z)))


def _grad_z(xp: Any, z: Any) -> Any:
    """``z`` clipped from below so that ``z * exp(-z)`` stays finite in the gradients.

    Beyond the clip (some 700 scale units left of ``loc`` in float64, 80 in float32,
    where ``log_prob`` is about ``-exp(-z)`` and near overflow) the gradients
    saturate at large finite values.
    """
    return xp.clip(z, min=8.0 - _log_max(xp, z))


def _standard_icdf(xp: Any, p: Any) -> Any:
    """Standard Gumbel quantile ``-log(-log p)`` for ``p`` in (0, 1).

    ``log p`` is exact to an ulp for every ``p`` (including ``p`` next to 1, where it
    is tiny but nonzero), so both tails are accurate and finite.
    """
    return -xp.log(-xp.log(p))


def _log_prob_partials(xp: Any, x: Any, loc: Any, scale: Any) -> tuple:
    # log_prob = -z - exp(-z) - log(scale), z = (x - loc) / scale
    z = _grad_z(xp, (x - loc) / scale)
    dz = xp.expm1(-z) / scale  # d log_prob / dx
    return dz, -dz, -(1.0 + z * xp.expm1(-z)) / scale


@primitive(name="gumbel.log_prob")
def _log_prob(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    z = (x - loc) / scale
    lp = -(z + _exp_neg(xp, z)) - xp.log(scale)
    # exp(-z) overflows: the density is exp(-huge), zero in floating point.
    return xp.where(-z > _log_max(xp, z), _full(xp, lp, -_INF), lp)


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return _times(g, _log_prob_partials(xp, *inputs))


@_log_prob.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 2, loc, scale), {}


@primitive(name="gumbel.cdf")
def _cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return xp.exp(-_exp_neg(xp, (x - loc) / scale))


@_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    e = _exp_neg(xp, z)
    k = g * xp.exp(-z - e) / scale  # g * pdf; exp(-z - e) underflows (never overflows)
    return k, -k, -k * z


@_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 2, loc, scale), {}


@primitive(name="gumbel.log_cdf")
def _log_cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    z = (x - loc) / scale
    out = -_exp_neg(xp, z)
    return xp.where(-z > _log_max(xp, z), _full(xp, out, -_INF), out)


@_log_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = _grad_z(xp, (x - loc) / scale)
    k = g * xp.exp(-z) / scale
    return k, -k, -k * z


@_log_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 2, loc, scale), {}


@primitive(name="gumbel.icdf")
def _icdf(xp: Any, p: Any, loc: Any, scale: Any, bound: float | None = None) -> Any:
    std = _icdf_edges(xp, p, lambda q: _standard_icdf(xp, q), -_INF, _INF)
    return _clip_bound(xp, loc + scale * std, bound)


@_icdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, bound: float | None = None) -> tuple:
    p, loc, scale = inputs
    inside = (p > 0) & (p < 1)
    ps = xp.where(inside, p, _full(xp, p, 0.5))
    gi = xp.where(inside, g, xp.zeros_like(g))
    nlog = -xp.log(ps)
    # d/dp [-log(-log p)] = 1 / (p * (-log p))
    return gi * scale / (ps * nlog), gi, -gi * xp.log(nlog)


@_icdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.uniform(0.05, 0.95, size=5), loc, scale), {}


class Gumbel(LocationScale):
    """Gumbel distribution (maximum type), location ``loc`` and scale ``scale``.

    The CDF is ``exp(-exp(-(x - loc) / scale))``.  ``rsample`` draws by the inverse
    CDF, ``loc - scale * log(-log(u))`` with ``u`` uniform on the open interval
    (0, 1) from the key, so every draw is finite and gradients flow to ``loc`` and
    ``scale``.  Every method is a primitive with a hand-written VJP (torch autograd,
    JAX transforms, or :func:`diffsample.vjp` on NumPy/CuPy).

    Parameters
    ----------
    loc : array or float
        Location (the mode), finite.
    scale : array or float
        Scale, > 0.
    validate_args : bool
        Check the parameters (default True); what is checked, what is raised and
        what happens under tracing: :class:`~diffsample.distributions.base.LocationScale`.

    Notes
    -----
    With ``z = (x - loc) / scale``: ``log_prob`` is ``-z - exp(-z) - log(scale)``,
    ``score`` gives ``d/dloc = -expm1(-z) / scale`` and ``d/dscale = -(1 + z
    expm1(-z)) / scale``, ``icdf`` is ``loc - scale * log(-log p)``, the entropy
    ``log(scale) + 1 + Euler's constant``, the mean ``loc + Euler's constant *
    scale``, the variance ``pi**2 / 6 * scale**2`` and the standard deviation
    ``pi / sqrt(6) * scale``.

    Support: the real line (``support`` returns ``(-inf, inf)``).  ``log_cdf`` is
    the closed form ``-exp(-z)``, exact far into the left tail; ``cdf`` underflows
    to 0 only where the true value does (``z`` below about -6.6 in float64).  More
    than about 709 scale units left of ``loc`` (88 in float32) ``log_prob`` and
    ``log_cdf`` themselves (about ``-exp(-z)``) overflow to ``-inf``; the gradients
    there saturate at large finite values.  ``icdf(0) = -inf``,
    ``icdf(1) = inf``, NaN outside ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> d = ds.Gumbel(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    >>> d.log_cdf(np.array([-30.0, 1.0]))          # -exp(30), no underflow
    array([-1.06864746e+13, -1.00000000e+00])

    Gradient of the draws on NumPy, without any framework:

    >>> x, pullback = ds.vjp(lambda m, s: ds.Gumbel(m, s).rsample(ds.random.key(0), (1000,)),
    ...                      np.zeros(2), np.ones(2))
    >>> pullback(np.ones_like(x))[0]               # d sum(x) / d loc
    array([1000., 1000.])
    >>> d.mean                                     # loc + Euler's constant * scale
    array([0.57721566, 2.15443133])
    """

    _to_standard = staticmethod(_standard_icdf)
    _log_prob_partials = staticmethod(_log_prob_partials)
    _log_prob_prim, _cdf_prim, _log_cdf_prim, _icdf_prim = _log_prob, _cdf, _log_cdf, _icdf
    _mean_shift, _variance_factor, _entropy_const = _EULER, _PI2_6, 1.0 + _EULER
