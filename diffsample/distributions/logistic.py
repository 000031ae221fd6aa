"""The Logistic distribution, every method a primitive with a hand-written VJP.

The standard logistic has CDF ``sigmoid(z)`` and quantile ``logit(p) = log p -
log(1 - p)``, both in closed form, so ``rsample`` is plain inverse-transform
sampling: ``x = loc + scale * (log u - log1p(-u))`` with ``u`` uniform on (0, 1).

The helpers ``_softplus``, ``_std_log_pdf`` and friends below work on standardized
values ``z = (x - loc) / scale`` and are shared with the truncated logistic in
:mod:`diffsample.distributions.truncated`.
"""

from __future__ import annotations

import math
from typing import Any


from .._lib.ops import quiet as _quiet
from ..autodiff import primitive
from .base import LocationScale

__all__ = ["Logistic"]

_PI2_3 = math.pi**2 / 3.0


# ------------------------------------------------------------ standardized helpers
def _softplus(xp: Any, t: Any) -> Any:
    """``log(1 + exp(t))`` without overflow, to full relative accuracy for any ``t``."""
    return xp.maximum(t, xp.zeros_like(t)) + xp.log1p(xp.exp(-xp.abs(t)))


def _std_log_pdf(xp: Any, z: Any) -> Any:
    """``log(sigmoid(z) * sigmoid(-z))``: the standard logistic log density (symmetric)."""
    a = xp.abs(z)
    return -a - 2.0 * xp.log1p(xp.exp(-a))


def _std_log_cdf(xp: Any, z: Any) -> Any:
    """``log sigmoid(z) = -softplus(-z)``: accurate in both tails."""
    return -_softplus(xp, -z)


def _std_cdf(xp: Any, z: Any) -> Any:
    """``sigmoid(z)`` without overflow in either tail."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _std_logit(xp: Any, p: Any) -> Any:
    """The standard logistic quantile ``log p - log1p(-p)``."""
    return xp.log(p) - xp.log1p(-p)


def _psi(xp: Any, z: Any) -> Any:
    """``d/dz log pdf(z) = -tanh(z / 2)``."""
    return -xp.tanh(0.5 * z)


def _dpsi(xp: Any, z: Any) -> Any:
    """``d^2/dz^2 log pdf(z) = -(1 - tanh(z/2)^2) / 2``."""
    t = xp.tanh(0.5 * z)
    return -0.5 * (1.0 - t * t)


def _params(rng: Any, n: int = 5) -> tuple:
    return rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)


# ---------------------------------------------------------------------- log_prob
@primitive(name="logistic.log_prob")
@_quiet
def _log_prob(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return _std_log_pdf(xp, (x - loc) / scale) - xp.log(scale)


@_log_prob.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    dz = g * _psi(xp, z) / scale
    return dz, -dz, -g * (1.0 + z * _psi(xp, z)) / scale


@_log_prob.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {}


# --------------------------------------------------------------------------- cdf
@primitive(name="logistic.cdf")
@_quiet
def _cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return _std_cdf(xp, (x - loc) / scale)


@_cdf.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    d = g * xp.exp(_std_log_pdf(xp, z)) / scale
    return d, -d, -d * z


@_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {}


# ----------------------------------------------------------------------- log_cdf
@primitive(name="logistic.log_cdf")
@_quiet
def _log_cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return _std_log_cdf(xp, (x - loc) / scale)


@_log_cdf.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    # d/dz log sigmoid(z) = sigmoid(-z): bounded, exact in both tails.
    d = g * _std_cdf(xp, -z) / scale
    return d, -d, -d * z


@_log_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 10, loc, scale), {}


# -------------------------------------------------------------------------- icdf
@primitive(name="logistic.icdf")
@_quiet
def _icdf(xp: Any, p: Any, loc: Any, scale: Any, bound: float | None = None) -> Any:
    x = loc + scale * _std_logit(xp, p)
    return x if bound is None else xp.clip(x, min=-bound, max=bound)


@_icdf.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any, bound: float | None = None) -> tuple:
    p, loc, scale = inputs
    # d logit(p) / dp = 1 / (p (1 - p)); 1 - p is exact for p >= 1/2 and has
    # relative error <= eps below.
    return g * scale / (p * (1.0 - p)), g, g * _std_logit(xp, p)


@_icdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.uniform(0.05, 0.95, size=5), loc, scale), {}


# ------------------------------------------------------------------------- score
@primitive(name="logistic.score")
@_quiet
def _score(xp: Any, x: Any, loc: Any, scale: Any, wrt: str = "loc") -> Any:
    """``d log_prob(x) / d wrt`` for ``wrt`` in {"loc", "scale"}."""
    z = (x - loc) / scale
    t = xp.tanh(0.5 * z)
    q = t if wrt == "loc" else z * t - 1.0
    return q / scale


@_score.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any, wrt: str = "loc") -> tuple:
    # score = Q(z) / scale with z = (x - loc) / scale, so
    # d/dx = Q'(z) / s^2, d/dloc = -Q'(z) / s^2, d/dscale = -(Q + z Q') / s^2.
    x, loc, scale = inputs
    z = (x - loc) / scale
    t = xp.tanh(0.5 * z)
    dt = 0.5 * (1.0 - t * t)
    if wrt == "loc":
        q, dq = t, dt
    else:
        q, dq = z * t - 1.0, t + z * dt
    s2 = scale * scale
    gx = g * dq / s2
    return gx, -gx, -g * (q + z * dq) / s2


@_score.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {"wrt": "loc"}


@_score.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {"wrt": "scale"}


class Logistic(LocationScale):
    """Logistic distribution with location ``loc`` and scale ``scale``, reparameterized.

    The density is ``sigmoid(z) * sigmoid(-z) / scale`` with ``z = (x - loc) / scale``;
    the mean is ``loc`` and the variance ``scale**2 * pi**2 / 3``.  ``rsample`` is
    inverse-transform sampling, ``loc + scale * (log u - log1p(-u))`` with ``u``
    uniform on (0, 1), so gradients flow to ``loc`` and ``scale`` (torch autograd,
    JAX transforms, or :func:`diffsample.vjp` on NumPy/CuPy).  Every method is a
    primitive with a hand-written VJP.

    The logistic has exponential tails: its density falls like ``exp(-|z|)``, far
    slower than the normal's ``exp(-z**2/2)``, which is why its inverse-CDF pathwise
    gradient ``1 / pdf`` stays small far out (see
    :class:`~diffsample.distributions.truncated.TruncatedLogistic`).

    Parameters
    ----------
    loc : array or float
        Location (mean and median).
    scale : array or float
        Scale, > 0.
    validate_args : bool
        Check that ``loc`` is finite and ``scale > 0`` (default True); the check and
        its errors are those of :class:`~diffsample.distributions.base.LocationScale`.

    Notes
    -----
    With ``z = (x - loc) / scale``: ``cdf`` is ``sigmoid(z)``, ``log_cdf`` is
    ``-softplus(-z)`` (accurate in both tails), ``icdf`` is ``loc + scale *
    logit(p)``, the entropy ``log(scale) + 2``, the standard deviation ``scale *
    pi / sqrt(3)``.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.logistic import Logistic
    >>> d = Logistic(np.zeros(2), np.array([1.0, 2.0]))
    >>> [float(v) for v in d.log_cdf(np.array([-800.0, 800.0]))]  # exact far in both tails
    [-800.0, -1.9151695967140057e-174]

    Gradient on NumPy, without any framework:

    >>> x, pullback = ds.vjp(lambda m, s: Logistic(m, s).rsample(ds.random.key(0), (1000,)),
    ...                      np.zeros(2), np.ones(2))
    >>> pullback(np.ones_like(x))[0]               # d sum(x) / d loc
    array([1000., 1000.])
    >>> d.score(np.array([1.0, 1.0]))["loc"].round(6)
    array([0.462117, 0.122459])
    """

    _to_standard = staticmethod(_std_logit)
    _log_prob_prim, _cdf_prim, _log_cdf_prim, _icdf_prim = _log_prob, _cdf, _log_cdf, _icdf
    _mean_shift, _variance_factor, _entropy_const = 0.0, _PI2_3, 2.0

    def score(self, x: Any) -> dict[str, Any]:
        """Per-sample gradient of ``log_prob(x)``: ``{"loc": ..., "scale": ...}``.

        ``d/dloc = tanh(z/2) / scale`` and ``d/dscale = (z tanh(z/2) - 1) / scale``
        with ``z = (x - loc) / scale``; each of shape ``broadcast(x.shape,
        batch_shape)`` and itself differentiable (a primitive with a VJP).
        """
        return {w: _score(x, self.loc, self.scale, wrt=w) for w in ("loc", "scale")}
