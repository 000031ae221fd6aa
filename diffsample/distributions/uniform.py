"""The continuous Uniform distribution, every method a primitive with a hand-written VJP.

This module also holds the few helpers that the continuous family (``Uniform``,
``Exponential``, ``Gumbel``, ``Laplace``, ``Cauchy``) shares: the per-sample score,
the saturation bound of narrow dtypes, and the edge handling of inverse CDFs.
"""

from __future__ import annotations

import math
from typing import Any


from .._lib.namespace import Backend, asarray, float_dtype, is_concrete, kind_of
from .._lib.ops import sum_to_shape
from .._lib.validate import check_finite
from ..autodiff import primitive
from ..random.streams import draw
from .base import Distribution, _full, _score, _times

__all__ = ["Uniform"]

_INF = math.inf
_NAN = math.nan


# ------------------------------------------------------------------ Uniform itself
def _params(rng: Any, n: int = 5) -> tuple:
    low = rng.normal(size=n)
    return low, low + rng.uniform(0.5, 2.0, size=n)


def _inner(rng: Any, low: Any, high: Any, margin: float = 0.05) -> Any:
    """Points inside ``(low, high)``, at least ``margin`` widths from either end."""
    return low + (high - low) * rng.uniform(margin, 1.0 - margin, size=getattr(low, "shape", ()))


@primitive(name="uniform.rsample", nondiff=(2,), trust_autodiff=True)
def _rsample(xp: Any, low: Any, high: Any, u: Any) -> Any:
    return low + (high - low) * u


@_rsample.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, needs: tuple) -> tuple:
    low, high, u = inputs
    gu = g * u
    if needs[0] and tuple(low.shape) == tuple(high.shape):
        # Reduce first, subtract after: d/dlow = sum(g) - sum(g u), one full-size pass less.
        dhigh = sum_to_shape(gu, tuple(high.shape))
        return sum_to_shape(g, tuple(low.shape)) - dhigh, (dhigh if needs[1] else None), None
    return (g - gu if needs[0] else None), (gu if needs[1] else None), None


@_rsample.example
def _(rng: Any) -> tuple:
    low, high = _params(rng)
    return (low, high, rng.uniform(size=(3, 5))), {}


@_rsample.example
def _(rng: Any) -> tuple:  # low and high of different shapes
    low, high = _params(rng)
    return (low[:1] - 2.0, high, rng.uniform(size=(3, 5))), {}


def _log_prob_partials(xp: Any, x: Any, low: Any, high: Any) -> tuple:
    # log_prob = -log(high - low) on the support and -inf (a constant) off it.
    inside = (x >= low) & (x <= high)
    r = 1.0 / (high - low)
    d = xp.where(inside, r, xp.zeros_like(r))
    return None, d, -d


@primitive(name="uniform.log_prob")
def _log_prob(xp: Any, x: Any, low: Any, high: Any) -> Any:
    lp = 0.0 - xp.log(high - low)  # (0 - log 1 is +0, not -0)
    inside = (x >= low) & (x <= high)
    return xp.where(inside, lp, _full(xp, lp, -_INF))


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return _times(g, _log_prob_partials(xp, *inputs))


@_log_prob.example
def _(rng: Any) -> tuple:
    low, high = _params(rng)
    return (_inner(rng, low, high), low, high), {}


@primitive(name="uniform.cdf")
def _cdf(xp: Any, x: Any, low: Any, high: Any) -> Any:
    return xp.clip((x - low) / (high - low), min=0.0, max=1.0)


@_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, low, high = inputs
    w = high - low
    z = (x - low) / w
    inside = (z > 0) & (z < 1)
    k = xp.where(inside, g / w, xp.zeros_like(g))
    return k, k * (z - 1.0), -k * z


@_cdf.example
def _(rng: Any) -> tuple:
    low, high = _params(rng)
    return (_inner(rng, low, high), low, high), {}


@primitive(name="uniform.log_cdf")
def _log_cdf(xp: Any, x: Any, low: Any, high: Any) -> Any:
    w = high - low
    d = x - low
    z = d / w
    # Lower half: log(z).  Upper half: log1p(-(high - x)/w), where high - x is exact,
    # so log_cdf stays accurate as it approaches 0.
    lower = xp.log(xp.where(d > 0, z, xp.ones_like(z)))
    upper = xp.log1p(-xp.clip((high - x) / w, min=0.0, max=0.5))
    out = xp.where(z < 0.5, lower, upper)
    return xp.where(d > 0, out, _full(xp, out, -_INF))


@_log_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, low, high = inputs
    w = high - low
    d = x - low
    inside = (d > 0) & (x < high)
    k = xp.where(inside, g / xp.where(inside, d, w), xp.zeros_like(g))  # g / (x - low)
    # d/dlow = -1/(x - low) + 1/w = -(high - x) / ((x - low) w)
    return k, -k * (high - x) / w, xp.where(inside, -g / w, xp.zeros_like(g))


@_log_cdf.example
def _(rng: Any) -> tuple:
    low, high = _params(rng)
    return (_inner(rng, low, high), low, high), {}


@primitive(name="uniform.icdf")
def _icdf(xp: Any, p: Any, low: Any, high: Any) -> Any:
    # Kept inside [low, high]: the rounding of low + (high - low) p can pass the end by
    # an ulp (0.1 + (0.3 - 0.1) * 1 == 0.30000000000000004), where the density is 0.
    out = xp.minimum(xp.maximum(low + (high - low) * p, low), high)
    return xp.where((p >= 0) & (p <= 1), out, _full(xp, out, _NAN))


@_icdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    p, low, high = inputs
    k = xp.where((p >= 0) & (p <= 1), g, xp.zeros_like(g))
    return k * (high - low), k * (1.0 - p), k * p


@_icdf.example
def _(rng: Any) -> tuple:
    low, high = _params(rng)
    return (rng.uniform(0.05, 0.95, size=5), low, high), {}


@primitive(name="uniform.entropy")
def _entropy(xp: Any, low: Any, high: Any) -> Any:
    return xp.log(high - low)


@_entropy.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    low, high = inputs
    k = g / (high - low)
    return -k, k


@_entropy.example
def _(rng: Any) -> tuple:
    return _params(rng), {}


@primitive(name="uniform.mean")
def _mean(xp: Any, low: Any, high: Any) -> Any:
    return 0.5 * low + 0.5 * high


@_mean.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return 0.5 * g, 0.5 * g


@_mean.example
def _(rng: Any) -> tuple:
    return _params(rng), {}


@primitive(name="uniform.variance")
def _variance(xp: Any, low: Any, high: Any) -> Any:
    w = high - low
    return w * w / 12.0


@_variance.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    low, high = inputs
    k = g * (high - low) / 6.0
    return -k, k


@_variance.example
def _(rng: Any) -> tuple:
    return _params(rng), {}


_INV_SQRT12 = 1.0 / math.sqrt(12.0)


@primitive(name="uniform.stddev")
def _stddev(xp: Any, low: Any, high: Any) -> Any:
    return (high - low) * _INV_SQRT12


@_stddev.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    k = g * _INV_SQRT12
    return -k, k


@_stddev.example
def _(rng: Any) -> tuple:
    return _params(rng), {}


def _check_less(b: Backend, low: Any, high: Any) -> None:
    """Raise ``ValueError`` unless ``low < high`` everywhere (values read when concrete)."""
    if kind_of(low) is None and kind_of(high) is None:
        if not float(low) < float(high):
            raise ValueError(f"low must be less than high, got low={low!r} and high={high!r}")
        return
    if not (is_concrete(low) and is_concrete(high)):
        return
    xp = b.xp
    dt = float_dtype(b, low, high)
    lo, hi = asarray(b, low, dt), asarray(b, high, dt)
    ok = lo < hi
    if bool(xp.all(ok)):
        return
    shape = tuple(ok.shape)
    flat_bad = xp.reshape(xp.astype(~ok, xp.int32), (-1,))
    idx = int(xp.argmax(flat_bad))
    lo_b = xp.reshape(xp.broadcast_to(lo, shape), (-1,))
    hi_b = xp.reshape(xp.broadcast_to(hi, shape), (-1,))
    raise ValueError(
        f"low must be less than high, got low={float(lo_b[idx])!r} and high={float(hi_b[idx])!r} "
        f"(at flat index {idx} of the batch shape {shape})"
    )


class Uniform(Distribution):
    """Continuous uniform distribution on ``[low, high]``, reparameterized.

    ``rsample`` draws ``low + (high - low) * u`` with ``u`` uniform on the open
    interval (0, 1) from the key, so gradients flow to ``low`` and ``high``.  Every
    method is a primitive with a hand-written VJP (torch autograd, JAX transforms,
    or :func:`diffsample.vjp` on NumPy/CuPy).

    Parameters
    ----------
    low : array or float
        Lower end of the support, finite.
    high : array or float
        Upper end of the support, finite, ``> low``.
    validate_args : bool
        Check the parameters (default True).  The check reads values; it is skipped
        under ``jax.jit`` and ``torch.func`` transforms, where invalid parameters
        give NaN or meaningless values instead.

    Raises
    ------
    ValueError
        ``low >= high``, NaN or infinite parameters, shapes that do not broadcast.

    Notes
    -----
    Support: the closed interval ``[low, high]`` (``support`` returns
    ``(low, high)``).  Off it ``log_prob`` is ``-inf``, and the gradients of
    ``log_prob``, ``cdf`` and ``log_cdf`` there are 0 (the value is locally
    constant).  ``icdf(p)`` is NaN for ``p`` outside ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.uniform import Uniform
    >>> d = Uniform(np.array([0.0, -1.0]), np.array([1.0, 3.0]))
    >>> x = d.rsample(ds.random.key(0), (100,))
    >>> x.shape
    (100, 2)
    >>> d.log_prob(np.array([0.5, 0.0]))
    array([ 0.        , -1.38629436])
    >>> d.score(np.array([0.5, 0.0]))["high"]
    array([-1.  , -0.25])

    Gradient of the draws on NumPy, without any framework:

    >>> x, pullback = ds.vjp(lambda lo, hi: Uniform(lo, hi).rsample(ds.random.key(0), (1000,)),
    ...                      np.zeros(2), np.ones(2))
    >>> d_low, d_high = pullback(np.ones_like(x))
    >>> np.allclose(d_low + d_high, 1000.0)
    True
    """

    _params = ("low", "high")

    def __init__(self, low: Any, high: Any, validate_args: bool = True) -> None:
        super().__init__(validate_args, low=low, high=high)

    def _validate(self) -> None:
        b = self._backend
        check_finite(b, "low", self.low)
        check_finite(b, "high", self.high)
        _check_less(b, self.low, self.high)

    @property
    def support(self) -> tuple[Any, Any]:
        """``(low, high)``: the closed interval the draws lie in."""
        return self.low, self.high

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Reparameterized draws of shape ``sample_shape + batch_shape``.

        Parameters
        ----------
        key : key array, int or generator
            Source of noise (:func:`diffsample.random.key`, an int seed, or the
            backend's own generator).
        sample_shape : int or tuple of int
            Leading shape of the draws.
        """
        shape = self._extended_shape(sample_shape)
        u = draw("uniform", key, shape, self._backend, self.dtype)
        return _rsample.apply(self._backend, self.dtype, self.low, self.high, u)

    def log_prob(self, x: Any) -> Any:
        """Log density at ``x``: ``-log(high - low)`` on the support, ``-inf`` off it."""
        return _log_prob(x, self.low, self.high)

    def score(self, x: Any) -> dict[str, Any]:
        """Per-sample gradients of ``log_prob(x)``: ``{"low": ..., "high": ...}``.

        Each of shape ``broadcast(x.shape, batch_shape)``; 0 off the support.
        """
        return _score(self, x, _log_prob_partials, self._params)

    def cdf(self, x: Any) -> Any:
        """Cumulative distribution function at ``x``."""
        return _cdf(x, self.low, self.high)

    def log_cdf(self, x: Any) -> Any:
        """Log of the CDF, accurate near both ends (``-inf`` below ``low``)."""
        return _log_cdf(x, self.low, self.high)

    def icdf(self, p: Any) -> Any:
        """Inverse CDF (quantile function) at probabilities ``p`` in ``[0, 1]``."""
        return _icdf(p, self.low, self.high)

    def entropy(self) -> Any:
        """Differential entropy ``log(high - low)``, of shape ``batch_shape``."""
        return _entropy(self.low, self.high)

    @property
    def mean(self) -> Any:
        """Mean ``(low + high) / 2``, of shape ``batch_shape``."""
        return _mean(self.low, self.high)

    @property
    def variance(self) -> Any:
        """Variance ``(high - low)**2 / 12``, of shape ``batch_shape``."""
        return _variance(self.low, self.high)

    @property
    def stddev(self) -> Any:
        """Standard deviation ``(high - low) / sqrt(12)``, of shape ``batch_shape``."""
        return _stddev(self.low, self.high)
