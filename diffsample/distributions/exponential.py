"""The Exponential distribution, every method a primitive with a hand-written VJP."""

from __future__ import annotations

import math
from typing import Any

from .._lib import special
from .._lib.namespace import backend_of, float_dtype
from .._lib.ops import sum_to_shape
from .._lib.validate import check_positive
from ..autodiff import primitive
from ..random.streams import draw
from .base import Distribution, _clip_bound, _full, _icdf_edges, _narrow_bound, _score, _times

__all__ = ["Exponential"]

_INF = math.inf


def _params(rng: Any, n: int = 5) -> tuple:
    return (rng.uniform(0.5, 2.0, size=n),)


def _standard_icdf(xp: Any, p: Any) -> Any:
    """Standard exponential quantile ``-log(1 - p)`` for ``p`` in (0, 1).

    ``log1p`` keeps it exact for small ``p``; for ``p >= 1/2`` the subtraction
    ``1 - p`` inside is exact, so it is accurate up to the largest ``p < 1``.
    """
    return -xp.log1p(-p)


@primitive(name="exponential.rsample", nondiff=(1,), trust_autodiff=True)
def _rsample(xp: Any, rate: Any, eps: Any, bound: float | None = None) -> Any:
    return _clip_bound(xp, eps / rate, bound, lower=False)


@_rsample.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, bound: float | None = None) -> tuple:
    rate, eps = inputs
    # d x / d rate = -eps / rate**2: reduce g * eps to rate's shape first (one full-size pass).
    return -(sum_to_shape(g * eps, tuple(rate.shape)) / rate) / rate, None


@_rsample.example
def _(rng: Any) -> tuple:
    return (*_params(rng), rng.exponential(size=(3, 5))), {}


def _log_prob_partials(xp: Any, x: Any, rate: Any) -> tuple:
    inside = x >= 0
    zero = xp.zeros_like(x + rate)
    return xp.where(inside, -rate + zero, zero), xp.where(inside, 1.0 / rate - x, zero)


@primitive(name="exponential.log_prob")
def _log_prob(xp: Any, x: Any, rate: Any) -> Any:
    lp = xp.log(rate) - rate * xp.clip(x, min=0.0)
    return xp.where(x >= 0, lp, _full(xp, lp, -_INF))


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return _times(g, _log_prob_partials(xp, *inputs))


@_log_prob.example
def _(rng: Any) -> tuple:
    return (rng.uniform(0.1, 3.0, size=5), *_params(rng)), {}


@primitive(name="exponential.cdf")
def _cdf(xp: Any, x: Any, rate: Any) -> Any:
    return -xp.expm1(-rate * xp.clip(x, min=0.0))


@_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, rate = inputs
    xc = xp.clip(x, min=0.0)
    k = g * xp.exp(-rate * xc)
    return xp.where(x > 0, k * rate, xp.zeros_like(k)), k * xc


@_cdf.example
def _(rng: Any) -> tuple:
    return (rng.uniform(0.1, 3.0, size=5), *_params(rng)), {}


@primitive(name="exponential.log_cdf")
def _log_cdf(xp: Any, x: Any, rate: Any) -> Any:
    # log(1 - exp(-rate x)): log(-expm1) near x = 0 (no cancellation, exact for tiny
    # x), log1p(-exp) in the upper tail; -inf for x <= 0.
    pos = x > 0
    xs = xp.where(pos, x, xp.ones_like(x))
    out = special.log1mexp(-rate * xs)
    return xp.where(pos, out, _full(xp, out, -_INF))


@_log_cdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, rate = inputs
    pos = x > 0
    xs = xp.where(pos, x, xp.ones_like(x))
    outs = xp.where(pos, out, xp.zeros_like(out))
    # d/d(rate x) log(1 - e^{-rate x}) = e^{-rate x} / (1 - e^{-rate x}) = exp(-rate x - out)
    k = xp.where(pos, g * xp.exp(-rate * xs - outs), xp.zeros_like(g))
    return k * rate, k * xs


@_log_cdf.example
def _(rng: Any) -> tuple:
    return (rng.uniform(0.1, 3.0, size=5), *_params(rng)), {}


@primitive(name="exponential.icdf")
def _icdf(xp: Any, p: Any, rate: Any, bound: float | None = None) -> Any:
    std = _icdf_edges(xp, p, lambda q: _standard_icdf(xp, q), 0.0, _INF)
    return _clip_bound(xp, std / rate, bound, lower=False)


@_icdf.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, bound: float | None = None) -> tuple:
    p, rate = inputs
    inside = (p > 0) & (p < 1)
    ps = xp.where(inside, p, _full(xp, p, 0.5))
    k = xp.where(inside, g / rate, xp.zeros_like(g))
    return k / (1.0 - ps), -k * _standard_icdf(xp, ps) / rate


@_icdf.example
def _(rng: Any) -> tuple:
    return (rng.uniform(0.05, 0.95, size=5), *_params(rng)), {}


@primitive(name="exponential.entropy")
def _entropy(xp: Any, rate: Any) -> Any:
    return 1.0 - xp.log(rate)


@_entropy.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return (-g / inputs[0],)


@_entropy.example
def _(rng: Any) -> tuple:
    return _params(rng), {}


@primitive(name="exponential.mean")
def _mean(xp: Any, rate: Any) -> Any:
    return 1.0 / rate


@_mean.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    rate = inputs[0]
    return (-(g / rate) / rate,)


@_mean.example
def _(rng: Any) -> tuple:
    return _params(rng), {}


@primitive(name="exponential.variance")
def _variance(xp: Any, rate: Any) -> Any:
    m = 1.0 / rate
    return m * m


@_variance.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    rate = inputs[0]
    m = 1.0 / rate
    return (-2.0 * g * m * m * m,)


@_variance.example
def _(rng: Any) -> tuple:
    return _params(rng), {}


class Exponential(Distribution):
    """Exponential distribution with rate ``rate`` (mean ``1 / rate``), reparameterized.

    ``rsample`` draws by the inverse CDF, ``-log1p(-u) / rate`` with ``u`` uniform
    on the open interval (0, 1) from the key, so every draw is finite and gradients
    flow to ``rate``.  Every method is a primitive with a hand-written VJP (torch
    autograd, JAX transforms, or :func:`diffsample.vjp` on NumPy/CuPy).

    Parameters
    ----------
    rate : array or float
        Rate (inverse scale), > 0.
    validate_args : bool
        Check that ``rate > 0`` and finite, NaN included (default True).  The check
        reads values; it is skipped under ``jax.jit`` and ``torch.func`` transforms,
        where an invalid rate gives NaN instead.

    Raises
    ------
    ValueError
        ``rate <= 0``, NaN or infinite ``rate``.

    Notes
    -----
    Support: ``[0, inf)`` (``support`` returns ``(0.0, inf)``).  For ``x < 0``
    ``log_prob`` is ``-inf``, ``cdf`` 0 and ``log_cdf`` ``-inf``, with gradient 0.
    ``log_cdf`` is ``log1mexp(-rate * x)``: exact near ``x = 0`` and in the upper
    tail.  ``icdf(0) = 0``, ``icdf(1) = inf``, NaN outside ``[0, 1]``.  With
    float16/bfloat16 parameters, draws and quantiles beyond the dtype's range
    saturate at its largest finite value.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.exponential import Exponential
    >>> d = Exponential(np.array([1.0, 4.0]))
    >>> d.rsample(ds.random.key(0), (100,)).shape
    (100, 2)
    >>> d.log_cdf(np.array([1e-12, 1e-12]))          # log(rate * x), no cancellation
    array([-27.63102112, -26.24472675])
    >>> d.score(np.array([0.5, 0.5]))["rate"]        # 1/rate - x
    array([ 0.5 , -0.25])

    Gradient of the draws on NumPy, without any framework:

    >>> x, pullback = ds.vjp(lambda r: Exponential(r).rsample(ds.random.key(0), (1000,)), np.array([2.0]))
    >>> (d_rate,) = pullback(np.ones_like(x))
    >>> bool(np.isclose(d_rate[0], -x.sum() / 2.0))  # d x / d rate = -x / rate
    True
    """

    _params = ("rate",)

    def __init__(self, rate: Any, validate_args: bool = True) -> None:
        super().__init__(validate_args, rate=rate)

    def _validate(self) -> None:
        check_positive(self._backend, "rate", self.rate)

    @property
    def support(self) -> tuple[float, float]:
        """``(0.0, inf)``."""
        return 0.0, _INF

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
        b = self._backend
        shape = self._extended_shape(sample_shape)
        eps = _standard_icdf(b.xp, draw("uniform", key, shape, b, self.dtype))
        bound = _narrow_bound(b, self.dtype)
        if bound is None:
            return _rsample.apply(self._backend, self.dtype, self.rate, eps)
        return _rsample.apply(self._backend, self.dtype, self.rate, eps, bound=bound)

    def log_prob(self, x: Any) -> Any:
        """Log density ``log(rate) - rate * x`` at ``x`` (``-inf`` for ``x < 0``)."""
        return _log_prob(x, self.rate)

    def score(self, x: Any) -> dict[str, Any]:
        """Per-sample gradient of ``log_prob(x)``: ``{"rate": 1/rate - x}`` (0 for ``x < 0``).

        Of shape ``broadcast(x.shape, batch_shape)``.
        """
        return _score(self, x, _log_prob_partials, self._params)

    def cdf(self, x: Any) -> Any:
        """Cumulative distribution function ``-expm1(-rate * x)`` at ``x``."""
        return _cdf(x, self.rate)

    def log_cdf(self, x: Any) -> Any:
        """Log of the CDF, accurate near ``x = 0`` and in the upper tail."""
        return _log_cdf(x, self.rate)

    def icdf(self, p: Any) -> Any:
        """Inverse CDF ``-log1p(-p) / rate`` at probabilities ``p`` in ``[0, 1]``."""
        b = backend_of(p, self.rate)
        bound = _narrow_bound(b, float_dtype(b, p, self.rate))
        if bound is None:
            return _icdf(p, self.rate)
        return _icdf(p, self.rate, bound=bound)

    def entropy(self) -> Any:
        """Differential entropy ``1 - log(rate)``, of shape ``batch_shape``."""
        return _entropy(self.rate)

    @property
    def mean(self) -> Any:
        """Mean ``1 / rate``, of shape ``batch_shape``."""
        return _mean(self.rate)

    @property
    def variance(self) -> Any:
        """Variance ``1 / rate**2``, of shape ``batch_shape``."""
        return _variance(self.rate)

    @property
    def stddev(self) -> Any:
        """Standard deviation ``1 / rate``, of shape ``batch_shape``."""
        return _mean(self.rate)
