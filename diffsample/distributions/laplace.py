"""The Laplace (double exponential) distribution, every method a primitive."""

from __future__ import annotations

import math
from typing import Any


from ..autodiff import primitive
from .base import LocationScale, _clip_bound, _full, _icdf_edges, _times

__all__ = ["Laplace"]

_INF = math.inf
_LN2 = math.log(2.0)


def _params(rng: Any, n: int = 5) -> tuple:
    return rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)


def _away_from_loc(rng: Any, loc: Any, scale: Any) -> Any:
    """Points at least 0.1 scale units from ``loc`` (the density has a kink there)."""
    z = rng.uniform(0.1, 3.0, size=loc.shape) * rng.choice([-1.0, 1.0], size=loc.shape)
    return loc + scale * z


def _standard_icdf(xp: Any, p: Any) -> Any:
    """Standard Laplace quantile for ``p`` in (0, 1): ``log(2p)`` below 1/2, ``-log(2(1-p))`` above.

    That is ``log(2 min(p, 1 - p))`` with the sign of ``p - 1/2``: each tail uses its
    own small probability (``1 - p`` is exact for ``p >= 1/2``), so both tails are
    accurate, with one ``log`` per element and no data-dependent branch.
    """
    lg = xp.log(2.0 * xp.minimum(p, 1.0 - p))  # <= 0
    return xp.copysign(lg, p - 0.5)


def _log_prob_partials(xp: Any, x: Any, loc: Any, scale: Any) -> tuple:
    # log_prob = -|z| - log(2 scale); at z = 0 the sign is 0 (a subgradient).
    z = (x - loc) / scale
    s = xp.sign(z) / scale
    return -s, s, (xp.abs(z) - 1.0) / scale


@primitive(name="laplace.log_prob")
def _log_prob(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return -xp.abs((x - loc) / scale) - xp.log(2.0 * scale)


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return _times(g, _log_prob_partials(xp, *inputs))


@_log_prob.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (_away_from_loc(rng, loc, scale), loc, scale), {}


def _half_tail(xp: Any, z: Any) -> Any:
    """``exp(-|z|) / 2``: the CDF of ``-|z|``, never overflowing."""
    return 0.5 * xp.exp(-xp.abs(z))


@primitive(name="laplace.cdf")
def _cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    z = (x - loc) / scale
    e = _half_tail(xp, z)
    return xp.where(z < 0, e, 1.0 - e)


@_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    k = g * _half_tail(xp, z) / scale  # g * pdf
    return k, -k, -k * z


@_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (_away_from_loc(rng, loc, scale), loc, scale), {}


@primitive(name="laplace.log_cdf")
def _log_cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    # Left of loc the log-CDF is linear, z - log 2: exact however far out.
    z = (x - loc) / scale
    return xp.where(z < 0, z - _LN2, xp.log1p(-_half_tail(xp, z)))


@_log_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    e = _half_tail(xp, z)
    dz = xp.where(z < 0, xp.ones_like(e), e / (1.0 - e))  # pdf / cdf, in z units
    k = g * dz / scale
    return k, -k, -k * z


@_log_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (_away_from_loc(rng, loc, scale), loc, scale), {}


@primitive(name="laplace.icdf")
def _icdf(xp: Any, p: Any, loc: Any, scale: Any, bound: float | None = None) -> Any:
    std = _icdf_edges(xp, p, lambda q: _standard_icdf(xp, q), -_INF, _INF)
    return _clip_bound(xp, loc + scale * std, bound)


@_icdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, bound: float | None = None) -> tuple:
    p, loc, scale = inputs
    inside = (p > 0) & (p < 1)
    ps = xp.where(inside, p, _full(xp, p, 0.5))
    gi = xp.where(inside, g, xp.zeros_like(g))
    # The standard density at the quantile is min(p, 1 - p).
    return gi * scale / xp.minimum(ps, 1.0 - ps), gi, gi * _standard_icdf(xp, ps)


@_icdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    # Both sides of the median, not at it (the quantile has a kink there).
    p = rng.uniform(0.05, 0.4, size=5)
    flip = rng.uniform(size=5) < 0.5
    p = p * flip + (1.0 - p) * ~flip
    return (p, loc, scale), {}


class Laplace(LocationScale):
    """Laplace (double exponential) distribution, location ``loc`` and scale ``scale``.

    The density is ``exp(-|x - loc| / scale) / (2 scale)``.  ``rsample`` draws by
    the inverse CDF from ``u`` uniform on the open interval (0, 1) from the key
    (``loc + scale * log(2u)`` below the median, ``loc - scale * log(2(1 - u))``
    above), so every draw is finite and gradients flow to ``loc`` and ``scale``.
    Every method is a primitive with a hand-written VJP (torch autograd, JAX
    transforms, or :func:`diffsample.vjp` on NumPy/CuPy).

    Parameters
    ----------
    loc : array or float
        Location (mean and median), finite.
    scale : array or float
        Scale, > 0.
    validate_args : bool
        Check the parameters (default True), as
        :class:`~diffsample.distributions.base.LocationScale` describes.

    Notes
    -----
    With ``z = (x - loc) / scale``: ``log_prob`` is ``-|z| - log(2 scale)``,
    ``score`` gives ``d/dloc = sign(z) / scale`` and ``d/dscale = (|z| - 1) /
    scale``, the entropy is ``1 + log(2 scale)``, the mean ``loc``, the variance
    ``2 scale**2`` and the standard deviation ``sqrt(2) scale``.

    Support: the real line (``support`` returns ``(-inf, inf)``); ``icdf(0) = -inf``,
    ``icdf(1) = inf``, NaN outside ``[0, 1]``.  Left of ``loc`` ``log_cdf`` is the
    exact line ``z - log 2`` (no underflow however far out), right of it
    ``log1p(-exp(-z) / 2)``.  At ``x = loc`` the gradient of ``log_prob`` with
    respect to ``x`` and ``loc`` is 0 (a subgradient).

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> d = ds.Laplace(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    >>> d.log_cdf(np.array([-50.0, 1.0]))          # -50 - log 2 and log(1/2)
    array([-50.69314718,  -0.69314718])

    Gradient of the draws on NumPy, without any framework, and the score:

    >>> x, pullback = ds.vjp(lambda m, s: ds.Laplace(m, s).rsample(ds.random.key(0), (1000,)),
    ...                      np.zeros(2), np.ones(2))
    >>> pullback(np.ones_like(x))[0]               # d sum(x) / d loc
    array([1000., 1000.])
    >>> d.score(np.array([1.0, 5.0]))["scale"]     # (|z| - 1) / scale
    array([0. , 0.5])
    """

    _to_standard = staticmethod(_standard_icdf)
    _log_prob_partials = staticmethod(_log_prob_partials)
    _log_prob_prim, _cdf_prim, _log_cdf_prim, _icdf_prim = _log_prob, _cdf, _log_cdf, _icdf
    _mean_shift, _variance_factor, _entropy_const = 0.0, 2.0, 1.0 + _LN2
