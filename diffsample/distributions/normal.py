"""The Normal distribution, every method a primitive with a hand-written VJP."""

from __future__ import annotations

import math
from typing import Any

from .._lib import special
from ..autodiff import primitive
from .base import LocationScale, _times

__all__ = ["Normal"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _params(rng: Any, n: int = 5) -> tuple:
    return rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)


# ---------------------------------------------------------------------- log_prob
@primitive(name="normal.log_prob")
def _log_prob(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    z = (x - loc) / scale
    return -0.5 * z * z - xp.log(scale) - _LOG_SQRT_2PI


def _log_prob_partials(xp: Any, x: Any, loc: Any, scale: Any) -> tuple:
    """``d log_prob / d (x, loc, scale)``: the VJP of ``log_prob`` and the score."""
    z = (x - loc) / scale
    return -z / scale, z / scale, (z * z - 1.0) / scale


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return _times(g, _log_prob_partials(xp, *inputs))


@_log_prob.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 2, loc, scale), {}


# --------------------------------------------------------------------------- cdf
@primitive(name="normal.cdf")
def _cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return special.ndtr((x - loc) / scale)


@_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    d = g * xp.exp(-0.5 * z * z) / (_SQRT_2PI * scale)
    return d, -d, -d * z


@_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5), loc, scale), {}


# ----------------------------------------------------------------------- log_cdf
@primitive(name="normal.log_cdf")
def _log_cdf(xp: Any, x: Any, loc: Any, scale: Any) -> Any:
    return special.log_ndtr((x - loc) / scale)


@_log_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, loc, scale = inputs
    z = (x - loc) / scale
    # d/dz log Phi(z) = phi(z) / Phi(z), formed in log space so it stays finite far
    # in the left tail (where it grows like -z).
    d = g * xp.exp(-0.5 * z * z - _LOG_SQRT_2PI - out) / scale
    return d, -d, -d * z


@_log_cdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.normal(size=5) * 3, loc, scale), {}


# -------------------------------------------------------------------------- icdf
@primitive(name="normal.icdf")
def _icdf(xp: Any, p: Any, loc: Any, scale: Any) -> Any:
    return loc + scale * special.ndtri(p)


@_icdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    p, loc, scale = inputs
    z = (out - loc) / scale
    return g * scale * _SQRT_2PI * xp.exp(0.5 * z * z), g, g * z


@_icdf.example
def _(rng: Any) -> tuple:
    loc, scale = _params(rng)
    return (rng.uniform(0.05, 0.95, size=5), loc, scale), {}


class Normal(LocationScale):
    """Normal (Gaussian) distribution ``N(loc, scale**2)``, reparameterized.

    ``rsample`` draws ``loc + scale * eps`` with ``eps ~ N(0, 1)`` from the key, so
    gradients flow to ``loc`` and ``scale`` (torch autograd, JAX transforms, or
    :func:`diffsample.vjp` on NumPy/CuPy).  Every method is a primitive with a
    hand-written VJP; double backward works on torch.

    Parameters
    ----------
    loc : array or float
        Mean.
    scale : array or float
        Standard deviation, > 0.
    validate_args : bool
        Check that ``scale > 0`` and that no parameter is NaN (default True).  The
        check reads values, so under ``jax.jit`` and ``torch.func`` transforms it
        is skipped and an invalid scale gives NaN.

    Raises
    ------
    ValueError
        ``scale <= 0``, NaN or infinite parameters, shapes that do not broadcast.

    Notes
    -----
    Support: the real line.  With ``z = (x - loc) / scale``, ``score`` gives
    ``{"loc": z / scale, "scale": (z**2 - 1) / scale}`` per sample; ``log_cdf`` is
    ``log_ndtr(z)``, accurate far in the left tail; the standard deviation is
    ``scale``.  With float16/bfloat16 parameters the noise is drawn in float32 and
    draws beyond the dtype's range saturate at its largest finite value.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> d = ds.Normal(np.zeros(3), np.ones(3))
    >>> x = d.rsample(ds.random.key(0), (100,))
    >>> x.shape
    (100, 3)
    >>> float(d.log_prob(np.float64(0.0))[0])  # -log(sqrt(2 pi))
    -0.9189385332046727

    Gradient on NumPy, without any framework:

    >>> def draws(m, s):
    ...     return ds.Normal(m, s).rsample(ds.random.key(0), (1000,))
    >>> x, pullback = ds.vjp(draws, np.zeros(3), np.ones(3))
    >>> d_loc, d_scale = pullback(np.ones_like(x))
    >>> d_loc
    array([1000., 1000., 1000.])
    """

    _noise = "normal"  # standard already: no _to_standard
    _log_prob_partials = staticmethod(_log_prob_partials)
    _log_prob_prim, _cdf_prim, _log_cdf_prim = _log_prob, _cdf, _log_cdf
    _mean_shift, _variance_factor, _entropy_const = 0.0, 1.0, 0.5 + _LOG_SQRT_2PI

    def icdf(self, p: Any) -> Any:
        """Inverse CDF ``loc + scale * ndtri(p)`` at probabilities ``p`` in ``[0, 1]``.

        Unlike the base class, float16/bfloat16 results are not clipped:
        ``icdf(0) = -inf`` and ``icdf(1) = inf`` in every dtype.
        """
        return _icdf(p, self.loc, self.scale)
