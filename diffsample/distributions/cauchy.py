"""The Cauchy (Lorentz) distribution, every method a primitive with a hand-written VJP."""

from __future__ import annotations

import math
from typing import Any

from ..autodiff import primitive
from .base import LocationScale, _clip_bound, _full, _icdf_edges, _times

__all__ = ["Cauchy"]

_INF = math.inf
_PI = math.pi
_LOG_PI = math.log(math.pi)
_LOG_4PI = math.log(4.0 * math.pi)


def _params(rng: Any, n: int = 5) -> tuple:
    return rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)


def _big(xp: Any, z: Any) -> float:
    """``1/sqrt(eps)``: beyond it ``1 + z**2`` rounds to ``z**2``."""
    return 1.0 / math.sqrt(float(xp.finfo(z.dtype).eps))


def _inv_1p_sq(xp: Any, z: Any) -> tuple[Any, Any, Any]:
    """``(1 / (1 + z**2), big, zb)`` without overflowing ``z**2``.

    ``big`` marks ``|z| > 1/sqrt(eps)``, where the result is ``(1/z)**2``; ``zb`` is
    ``z`` there and a safe stand-in elsewhere (so ``1 / zb`` never divides by 0).
    """
    t = _big(xp, z)
    big = xp.abs(z) > t
    zc = xp.clip(z, min=-t, max=t)
    zb = xp.where(big, z, _full(xp, z, t))
    iz = 1.0 / zb
    return xp.where(big, iz * iz, 1.0 / (1.0 + zc * zc)), big, zb


def _log1p_sq(xp: Any, z: Any) -> Any:
    """``log(1 + z**2)`` without overflowing ``z**2`` (``2 log|z|`` for huge ``|z|``)."""
    t = _big(xp, z)
    az = xp.abs(z)
    zc = xp.clip(az, max=t)
    return xp.where(az > t, 2.0 * xp.log(xp.clip(az, min=t)), xp.log1p(zc * zc))


def _standard_icdf(xp: Any, p: Any) -> Any:
    """Standard Cauchy quantile ``tan(pi (p - 1/2))`` for ``p`` in (0, 1), accurate in both tails.

    With ``c = p - 1/2`` and ``r = min(p, 1 - p)`` (``|c| + r = 1/2``; ``r`` is exact
    and so is ``c`` in the middle), the magnitude is ``tan(pi |c|)`` in the middle
    (``|c| <= r``) and ``1 / tan(pi r)`` in the tails, so a tiny ``p`` or ``1 - p``
    keeps its digits instead of being rounded away in ``p - 1/2``.  Both come from
    ``tan(pi s)`` with ``s = min(|c|, r)``, so one ``tan`` serves every element; the
    two cases are blended arithmetically (``torch.where`` with a random mask is slow
    on CPU), and the sign is copied from ``c``.
    """
    c = p - 0.5
    ac = xp.abs(c)
    r = xp.minimum(p, 1.0 - p)
    t = xp.tan(_PI * xp.minimum(ac, r))
    m = xp.astype(ac <= r, t.dtype)  # 1 in the middle, 0 in the tails
    # middle: t (t + 1 keeps the unused reciprocal finite at p = 1/2, where t = 0)
    return xp.copysign(m * t + (1.0 - m) / (t + m), c)


def _log_prob_partials(xp: Any, x: Any, loc: Any, scale: Any) -> tuple:
    # log_prob = -log(pi scale) - log(1 + z^2): d/dz = -2z / (1 + z^2),
    # d/dscale = (z^2 - 1) / ((1 + z^2) scale) = (1 - 2 / (1 + z^2)) / scale.
    z = (x - loc) / scale
    q, big, zb = _inv_1p_sq(xp, z)
    t = _big(xp, z)
    dz = xp.where(big, -2.0 / zb, -2.0 * xp.clip(z, min=-t, max=t) * q) / scale
    return dz, -dz, (1.0 - 2.0 * q) / scale


@primitive(name="cauchy.log_prob")
def _log_prob(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    z = (x - loc) / scale
    return -_log1p_sq(xp, z) - (_LOG_PI + xp.log(scale))


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return _times(g, _log_prob_partials(xp, *inputs))


@_log_prob.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {}


def _pi_cdf(xp: Any, z: Any) -> Any:
    """``pi * CDF(z) = atan2(1, -z)``: in (0, pi) for every z, accurate in both tails.

    (For ``z < 0`` it is ``atan(1/|z|)``, so the far left tail loses nothing to the
    cancellation in ``1/2 + atan(z)/pi``.)
    """
    return xp.atan2(xp.ones_like(z), -z)


@primitive(name="cauchy.cdf")
def _cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return _pi_cdf(xp, (x - loc) / scale) / _PI


@_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    q, _, _ = _inv_1p_sq(xp, z)
    k = g * q / (_PI * scale)  # g * pdf
    return k, -k, -k * z


@_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {}


@primitive(name="cauchy.log_cdf")
def _log_cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    z = (x - loc) / scale
    # Left of loc: log(atan2(1, -z) / pi), no cancellation.  Right of it the CDF is
    # 1 - S with S = atan2(1, z) / pi small: log1p(-S) keeps the digits near 0.
    left = xp.log(_pi_cdf(xp, xp.clip(z, max=0.0)) / _PI)
    right = xp.log1p(-_pi_cdf(xp, -xp.clip(z, min=0.0)) / _PI)
    return xp.where(z < 0, left, right)


@_log_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    a = _pi_cdf(xp, z)  # pi * CDF
    q, big, zb = _inv_1p_sq(xp, z)
    # d/dz log CDF = 1 / ((1 + z^2) a); for huge |z| as (1/z) ((1/z) / a), which
    # neither underflows nor overflows (a ~ 1/|z| in the far left tail).
    iz = 1.0 / zb
    dz = xp.where(big, iz * (iz / a), q / a)
    k = g * dz / scale
    return k, -k, -k * z


@_log_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {}


@primitive(name="cauchy.icdf")
def _icdf(xp: Any, p: Any, loc: Any, scale: Any, bound: float | None = None) -> Any:
    std = _icdf_edges(xp, p, lambda q: _standard_icdf(xp, q), -_INF, _INF)
    return _clip_bound(xp, loc + scale * std, bound)


@_icdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, bound: float | None = None) -> tuple:
    p, loc, scale = inputs
    inside = (p > 0) & (p < 1)
    ps = xp.where(inside, p, _full(xp, p, 0.5))
    gi = xp.where(inside, g, xp.zeros_like(g))
    # d/dp tan(pi (p - 1/2)) = pi / sin(pi p)^2, with sin(pi p) = sin(pi min(p, 1-p)).
    sn = xp.sin(_PI * xp.minimum(ps, 1.0 - ps))
    return gi * scale * (_PI / sn) / sn, gi, gi * _standard_icdf(xp, ps)


@_icdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.uniform(0.05, 0.95, size=5), loc, scale), {}


class Cauchy(LocationScale):
    """Cauchy (Lorentz) distribution, location ``loc`` and scale ``scale``.

    The density is ``1 / (pi scale (1 + z**2))`` with ``z = (x - loc) / scale``.
    ``rsample`` draws by the inverse CDF, ``loc + scale * tan(pi (u - 1/2))`` with
    ``u`` uniform on the open interval (0, 1) from the key (the tails through
    ``1 / tan(pi u)``, so tiny ``u`` keep their digits and no draw is infinite), and
    gradients flow to ``loc`` and ``scale``.  Every method is a primitive with a
    hand-written VJP (torch autograd, JAX transforms, or :func:`diffsample.vjp`
    on NumPy/CuPy).

    Parameters
    ----------
    loc : array or float
        Location (the median and mode), finite.
    scale : array or float
        Scale (half the interquartile range), > 0.
    validate_args : bool
        Check that ``loc`` is finite and ``scale`` positive (default True); see
        :class:`~diffsample.distributions.base.LocationScale`.

    Notes
    -----
    With ``z = (x - loc) / scale``: ``log_prob`` is ``-log(pi scale) - log1p(z**2)``,
    ``score`` gives ``d/dloc = 2z / ((1 + z**2) scale)`` and ``d/dscale = (z**2 - 1)
    / ((1 + z**2) scale)``, ``cdf`` is ``atan2(1, -z) / pi``, ``icdf`` is ``loc +
    scale * tan(pi (p - 1/2))`` and the entropy ``log(4 pi scale)``.

    Support: the real line (``support`` returns ``(-inf, inf)``).  The Cauchy
    distribution has no mean and no variance: ``mean``, ``variance`` and ``stddev``
    are NaN arrays of shape ``batch_shape`` (as in ``torch.distributions``), with no
    gradient.  They are the only NaN any method returns for valid input.
    ``cdf``/``log_cdf`` use ``atan2(1, -z)``, accurate in both tails; ``log_prob``
    and the gradients avoid squaring huge ``z``.  ``icdf(0) = -inf``,
    ``icdf(1) = inf``, NaN outside ``[0, 1]``.  With float16/bfloat16 parameters,
    draws beyond the dtype's range (a heavy tail reaches it) saturate at its largest
    finite value.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> d = ds.Cauchy(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    >>> d.cdf(np.array([-1e12, 1.0]))              # 1 / (pi 1e12): no cancellation
    array([3.18309886e-13, 5.00000000e-01])

    Gradient of the draws on NumPy, without any framework:

    >>> x, pullback = ds.vjp(lambda m, s: ds.Cauchy(m, s).rsample(ds.random.key(0), (1000,)),
    ...                      np.zeros(2), np.ones(2))
    >>> pullback(np.ones_like(x))[0]               # d sum(x) / d loc
    array([1000., 1000.])
    >>> d.mean                                     # undefined
    array([nan, nan])
    """

    _to_standard = staticmethod(_standard_icdf)
    _log_prob_partials = staticmethod(_log_prob_partials)
    _log_prob_prim, _cdf_prim, _log_cdf_prim, _icdf_prim = _log_prob, _cdf, _log_cdf, _icdf
    _mean_shift, _variance_factor, _entropy_const = math.nan, math.nan, _LOG_4PI
