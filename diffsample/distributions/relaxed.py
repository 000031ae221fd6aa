"""Concrete relaxations: RelaxedOneHotCategorical and RelaxedBernoulli (binary Concrete).

A relaxed draw replaces a discrete choice by a point of the simplex (or of (0, 1))
that depends smoothly on the parameters, so pathwise gradients exist (Maddison, Mnih
and Teh, "The Concrete Distribution", ICLR 2017; Jang, Gu and Poole, ICLR 2017).
The temperature sets how close the draws are to one-hot (or to 0/1).

Both densities are evaluated in log space.  At small temperatures draws contain
exact zeros (and, for the binary case, exact ones) in floating point, where the
density's ``log y`` terms would be infinite; every coordinate (and ``1 - y``) is
therefore clamped below at the smallest normal number of the compute dtype (float32
for float16/bfloat16 inputs) before the log, so ``log_prob`` of a draw is always
finite.  The gradient of ``log_prob`` with respect to a clamped coordinate is 0.
"""

from __future__ import annotations

import math
from typing import Any

from .._lib.namespace import asarray, backend_of, float_dtype, is_concrete, kind_of
from .._lib.validate import broadcast_shapes, shape_of
from ..autodiff import primitive
from ..random.streams import draw
from ..relax.gumbel import _gumbel_softmax
from .base import Distribution
from .bernoulli import _logit, _sigmoid, _sigmoids
from .categorical import _arange_like, _categorical_param, _check_probs, _fails, _logits, _not_nan, _one_of, _positive, _probs, _require

__all__ = ["RelaxedOneHotCategorical", "RelaxedBernoulli"]

_INF = math.inf


def _tiny(xp: Any, dtype: Any) -> float:
    return float(xp.finfo(dtype).smallest_normal)


# --------------------------------------------------------------- small primitives
@primitive(name="relaxed.expand_last")
def _expand_last(xp: Any, t: Any) -> Any:
    # A temperature of shape batch_shape, given a trailing axis to meet the categories.
    return xp.expand_dims(t, axis=-1)


@_expand_last.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return (g[..., 0],)


@_expand_last.example
def _(rng: Any) -> tuple:
    return (rng.uniform(0.5, 2.0, size=(3,)),), {}


# ------------------------------------------------------------ Concrete density
def _concrete_parts(xp: Any, y: Any, logits: Any, tau: Any) -> tuple:
    tiny = _tiny(xp, y.dtype)
    ly = xp.log(xp.clip(y, min=tiny))
    mask = logits > -_INF  # categories of probability 0 are left out of the simplex
    k = xp.sum(xp.astype(mask, logits.dtype), axis=-1, keepdims=True)
    t = xp.expand_dims(tau, axis=-1)
    a = logits - t * ly  # -inf where masked
    amax = xp.max(a, axis=-1, keepdims=True)
    lse = amax + xp.log(xp.sum(xp.exp(a - amax), axis=-1, keepdims=True))
    return tiny, ly, mask, k, t, a, lse


@primitive(name="relaxed_one_hot_categorical.log_prob")
def _concrete_log_prob(xp: Any, y: Any, logits: Any, tau: Any) -> Any:
    _, ly, mask, k, t, _, lse = _concrete_parts(xp, y, logits, tau)
    # log (k - 1)! as sum_{j < k - 1} log(j + 1), per row (k = number of possible categories).
    j = _arange_like(xp, logits, logits.shape[-1])
    log_fact = xp.sum(xp.where(j < k - 1.0, xp.log(j + 1.0), 0.0), axis=-1)
    s1 = xp.sum(xp.where(mask, logits - (t + 1.0) * ly, 0.0), axis=-1)
    k0 = k[..., 0]
    return log_fact + (k0 - 1.0) * xp.log(tau) + s1 - k0 * lse[..., 0]


@_concrete_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, needs: tuple) -> tuple:
    y, logits, tau = inputs
    tiny, ly, mask, k, t, a, lse = _concrete_parts(xp, y, logits, tau)
    s = xp.exp(a - lse)  # softmax of a over the possible categories
    gs = xp.expand_dims(g, axis=-1)
    d_y = d_logits = d_tau = None
    if needs[0]:
        dly = xp.where(mask, -(t + 1.0) + k * t * s, 0.0)
        big = y > tiny
        d_y = gs * xp.where(big, dly / xp.where(big, y, 1.0), 0.0)
    if needs[1]:
        d_logits = gs * (xp.astype(mask, logits.dtype) - k * s)
    if needs[2]:
        k0 = k[..., 0]
        lym = xp.where(mask, ly, 0.0)
        d_tau = g * ((k0 - 1.0) / tau - xp.sum(lym, axis=-1) + k0 * xp.sum(s * lym, axis=-1))
    return d_y, d_logits, d_tau


@_concrete_log_prob.example
def _(rng: Any) -> tuple:
    logits = rng.normal(size=(3, 4))
    g = rng.gumbel(size=(2, 3, 4))
    tau = rng.uniform(0.5, 2.0, size=(3,))
    import numpy as np

    z = (logits + g) / tau[:, None]
    y = np.exp(z - z.max(-1, keepdims=True))
    return (y / y.sum(-1, keepdims=True), logits, tau), {}


# ----------------------------------------------------- binary Concrete pieces
@primitive(name="relaxed_bernoulli.rsample", nondiff=(1,))
def _rb_rsample(xp: Any, logits: Any, noise: Any, tau: Any) -> Any:
    # noise = log u - log(1 - u), a standard logistic draw; sigmoid(z) = exp(-softplus(-z)),
    # which neither overflows nor loses the small values.
    z = (logits + noise) / tau
    zero = _arange_like(xp, z, 1)[0]  # a 0-d zero of z's dtype on z's device
    return xp.exp(-xp.logaddexp(zero, -z))


@_rb_rsample.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, needs: tuple) -> tuple:
    logits, noise, tau = inputs
    w = g * (out * (1.0 - out)) / tau  # the sigmoid's slope y (1 - y), as torch's sigmoid backward
    d_tau = None
    if needs[2]:
        z = (logits + noise) / tau
        d_tau = -w * xp.where(w != 0, z, 0.0)
    return (w if needs[0] else None), None, d_tau


@_rb_rsample.example
def _(rng: Any) -> tuple:
    return (rng.normal(size=(3, 4)), rng.logistic(size=(2, 3, 4)), rng.uniform(0.5, 2.0, size=(4,))), {}


def _binary_parts(xp: Any, y: Any, logits: Any, tau: Any) -> tuple:
    tiny = _tiny(xp, y.dtype)
    fin = xp.isfinite(logits)
    ls = xp.where(fin, logits, 0.0)
    y1 = 1.0 - y
    ly = xp.log(xp.clip(y, min=tiny))
    l1y = xp.log(xp.clip(y1, min=tiny))
    a = ls - tau * ly
    b = -tau * l1y
    return tiny, fin, ls, y1, ly, l1y, a, b


@primitive(name="relaxed_bernoulli.log_prob")
def _binary_concrete_log_prob(xp: Any, y: Any, logits: Any, tau: Any) -> Any:
    _, fin, ls, _, ly, l1y, a, b = _binary_parts(xp, y, logits, tau)
    f = xp.log(tau) + ls - (tau + 1.0) * (ly + l1y) - 2.0 * xp.logaddexp(a, b)
    # logits = -inf (+inf): the relaxed variable is the constant 0 (1); log density 0 there.
    atom = xp.where(logits < 0, y == 0, y == 1)
    return xp.where(fin, f, xp.where(atom, xp.zeros_like(f), -_INF))


@_binary_concrete_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    y, logits, tau = inputs
    tiny, fin, _, y1, ly, l1y, a, b = _binary_parts(xp, y, logits, tau)
    sa, sb = _sigmoids(xp, a - b)
    gf = xp.where(fin, g, 0.0)
    d_logits = gf * (1.0 - 2.0 * sa)
    d_tau = gf * (1.0 / tau - ly - l1y + 2.0 * (sa * ly + sb * l1y))
    big, big1 = y > tiny, y1 > tiny
    dly = -(tau + 1.0) + 2.0 * tau * sa
    dl1y = -(tau + 1.0) + 2.0 * tau * sb
    d_y = gf * (
        xp.where(big, dly / xp.where(big, y, 1.0), 0.0) - xp.where(big1, dl1y / xp.where(big1, y1, 1.0), 0.0)
    )
    return d_y, d_logits, d_tau


@_binary_concrete_log_prob.example
def _(rng: Any) -> tuple:
    logits = rng.normal(size=(3, 4))
    import numpy as np

    tau = rng.uniform(0.5, 2.0, size=(4,))
    y = 1.0 / (1.0 + np.exp(-(logits + rng.logistic(size=(2, 3, 4))) / tau))
    return (y, logits, tau), {}


# ------------------------------------------------------------------ validation
def _check_temperature(b: Any, t: Any, dtype: Any) -> None:
    _positive(b, "temperature", t)
    if kind_of(t) is None:
        tt = asarray(b, t, dtype)  # a Python float must survive the cast to the parameters' dtype
        if _fails(b.xp, (tt > 0) & b.xp.isfinite(tt)):
            raise ValueError(f"temperature {t!r} is not representable as a positive finite {dtype} (it rounds to {float(tt)!r})")


def _broadcast_batch(name: str, theta_batch: tuple, temperature: Any) -> tuple:
    ts = shape_of(temperature)
    n = max(len(ts), len(theta_batch))
    a = (1,) * (n - len(ts)) + tuple(ts)
    c = (1,) * (n - len(theta_batch)) + tuple(theta_batch)
    out = []
    for x, y in zip(a, c):
        if x != y and 1 not in (x, y):
            raise ValueError(
                f"parameter shapes do not broadcast: temperature {tuple(ts)}, batch shape {tuple(theta_batch)} of {name}"
            )
        out.append(max(x, y) if 1 in (x, y) else x)
    return tuple(out)


# ------------------------------------------------------------------- the classes
class RelaxedOneHotCategorical(Distribution):
    """The Concrete (Gumbel-Softmax) distribution on the probability simplex.

    A draw is ``softmax((logits + g) / temperature)`` with ``g ~ Gumbel(0, 1)``
    (computed by the :func:`diffsample.gumbel_softmax` primitive), reparameterized:
    gradients flow to ``logits`` (or ``probs``) and to an array ``temperature``.  As
    the temperature goes to 0 draws become one-hot draws of
    ``Categorical(logits=logits)``.

    Parameters
    ----------
    temperature : float or array
        Positive, broadcast against the batch shape (``logits.shape[:-1]``).
    logits : array, optional
        Unnormalized log-probabilities, categories on the last axis (``-inf``
        allowed: that coordinate is always exactly 0).
    probs : array, optional
        Probabilities summing to 1 along the last axis.
    validate_args : bool
        Check the parameters and the values given to ``log_prob`` (points of the
        simplex).  Skipped under ``jax.jit``/``torch.func``.

    Notes
    -----
    ``log_prob`` is the Concrete log-density of Maddison et al. (2017) with respect
    to Lebesgue measure on the first ``K - 1`` coordinates, the same convention as
    ``torch.distributions.RelaxedOneHotCategorical``::

        log (K-1)! + (K-1) log t + sum_k (l_k - (t+1) log y_k) - K logsumexp_k(l_k - t log y_k)

    Coordinates are clamped below at the dtype's smallest normal number before the
    log (draws at small temperatures hold exact zeros), so ``log_prob`` of a draw is
    never ``±inf``.  Categories with logit ``-inf`` are left out: ``K`` counts only
    the possible categories, and the density is that of the smaller simplex.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.relaxed import RelaxedOneHotCategorical
    >>> d = RelaxedOneHotCategorical(0.5, logits=np.log(np.array([0.2, 0.3, 0.5])))
    >>> y = d.rsample(ds.random.key(0), (4,))
    >>> y.shape, bool(np.allclose(y.sum(-1), 1.0))
    ((4, 3), True)
    >>> bool(np.all(np.isfinite(d.log_prob(y))))
    True

    Pathwise gradient on NumPy, without any framework:

    >>> def draws(l):
    ...     return RelaxedOneHotCategorical(0.5, logits=l).rsample(ds.random.key(0), (100,))
    >>> y, pullback = ds.vjp(draws, np.zeros(3))
    >>> g = pullback(np.ones_like(y) * np.array([1.0, 0.0, 0.0]))[0]  # d sum(y[:, 0]) / d logits
    >>> bool(g[0] > 0 > g[1] and g[2] < 0), bool(abs(g.sum()) < 1e-9)  # the rows stay on the simplex
    (True, True)
    """

    has_rsample = True

    def __init__(self, temperature: Any, logits: Any = None, probs: Any = None, validate_args: bool = True) -> None:
        param, theta, _ = _categorical_param(logits, probs, validate_args)
        b = backend_of(theta, temperature)
        self.dtype = float_dtype(b, theta, temperature)
        if validate_args:
            _check_temperature(b, temperature, self.dtype)
        self._param, self._theta, self.temperature = param, theta, temperature
        self._backend = b
        self._validate_args = validate_args
        self.batch_shape = _broadcast_batch(param, tuple(theta.shape[:-1]), temperature)
        self.event_shape = (int(theta.shape[-1]),)

    @property
    def param_name(self) -> str:
        """``"logits"`` or ``"probs"``."""
        return self._param

    @property
    def logits(self) -> Any:
        """Normalized log-probabilities of the underlying categorical, differentiable."""
        return _logits(self._theta, param=self._param)

    @property
    def probs(self) -> Any:
        """Probabilities of the underlying categorical, differentiable."""
        return _probs(self._theta, param=self._param)

    def _raw_logits(self) -> Any:
        # Softmax and the Concrete density are unchanged by a shift of the logits, so
        # logits are used as given and probs only through their log.
        return self._theta if self._param == "logits" else _logits(self._theta, param="probs")

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Relaxed one-hot draws of shape ``sample_shape + batch_shape + (K,)``, reparameterized.

        Parameters
        ----------
        key : key array, int or generator
            Source of the Gumbel noise.
        sample_shape : int or tuple of int
            Leading shape of the draws.
        """
        b = self._backend
        shape = self._extended_shape(sample_shape)
        g = draw("gumbel", key, shape, b, self.dtype)
        t = self.temperature
        tau = _expand_last(t) if kind_of(t) is not None else t
        return _gumbel_softmax(self._raw_logits(), g, tau, axis=len(shape) - 1, hard=False)

    def log_prob(self, value: Any) -> Any:
        """Concrete log-density at points ``value`` of the simplex (clamped; see the class notes)."""
        b = backend_of(self._theta, self.temperature, value)
        if self._validate_args and kind_of(value) is not None and is_concrete(value):
            if tuple(value.shape[-1:]) != self.event_shape:
                raise ValueError(f"value must have {self.event_shape[0]} categories on its last axis, got shape {tuple(value.shape)}")
            _check_probs(b, "value", value, simplex=True)
        return _concrete_log_prob(value, self._raw_logits(), self.temperature)

    def __repr__(self) -> str:
        return (
            f"RelaxedOneHotCategorical(temperature: shape {shape_of(self.temperature)}, {self._param}: "
            f"shape {tuple(self._theta.shape)}, backend={self._backend.kind})"
        )


class RelaxedBernoulli(Distribution):
    """The binary Concrete (relaxed Bernoulli) distribution on (0, 1).

    A draw is ``sigmoid((logits + log u - log(1 - u)) / temperature)`` with
    ``u ~ Uniform(0, 1)``, reparameterized: gradients flow to ``logits`` (or
    ``probs``) and to an array ``temperature``.  As the temperature goes to 0 draws
    become ``Bernoulli(logits=logits)`` draws.

    Parameters
    ----------
    temperature : float or array
        Positive, broadcast against the parameter.
    logits : array or float, optional
        Log-odds; ``±inf`` allowed (draws are then exactly 0 or 1).
    probs : array or float, optional
        Probability of the underlying Bernoulli being 1, in ``[0, 1]``.
    validate_args : bool
        Check the parameters and the values given to ``log_prob`` (in ``[0, 1]``).

    Notes
    -----
    ``log_prob`` is the binary Concrete log-density (Maddison et al. 2017)::

        log t + l - (t+1) (log y + log(1-y)) - 2 logaddexp(l - t log y, -t log(1-y))

    with ``y`` and ``1 - y`` clamped below at the dtype's smallest normal number
    before the log (at small temperatures draws are exactly 0 or 1 in floating
    point), so ``log_prob`` of a draw is never ``±inf``.  For an infinite logit the
    variable is the constant 0 (``-inf``) or 1 (``+inf``): ``log_prob`` is 0 there and
    ``-inf`` elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.relaxed import RelaxedBernoulli
    >>> d = RelaxedBernoulli(0.5, logits=np.array([-1.0, 0.0, 2.0]))
    >>> y = d.rsample(ds.random.key(0), (5,))
    >>> y.shape, bool(np.all((y > 0) & (y < 1)))
    ((5, 3), True)
    >>> y, pullback = ds.vjp(lambda l: RelaxedBernoulli(0.5, logits=l).rsample(ds.random.key(0), (5,)), np.zeros(3))
    >>> pullback(np.ones_like(y))[0].shape
    (3,)
    """

    has_rsample = True

    def __init__(self, temperature: Any, logits: Any = None, probs: Any = None, validate_args: bool = True) -> None:
        param, theta = _one_of(logits, probs)
        b = backend_of(theta, temperature)
        self.dtype = float_dtype(b, theta, temperature)
        if validate_args:
            if param == "logits":
                _not_nan(b, "logits", theta)
            else:
                _require(b, "probs", theta, lambda b_, v: (v >= 0) & (v <= 1), "in [0, 1]")
            _check_temperature(b, temperature, self.dtype)
        self._param, self._theta, self.temperature = param, theta, temperature
        self._backend = b
        self._validate_args = validate_args
        self.batch_shape = broadcast_shapes(temperature=temperature, **{param: theta})
        self.event_shape = ()

    @property
    def param_name(self) -> str:
        """``"logits"`` or ``"probs"``."""
        return self._param

    @property
    def logits(self) -> Any:
        """Log-odds of the underlying Bernoulli, differentiable."""
        return self._theta if self._param == "logits" else _logit(self._theta)

    @property
    def probs(self) -> Any:
        """Probability of the underlying Bernoulli being 1, differentiable."""
        return self._theta if self._param == "probs" else _sigmoid(self._theta)

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Relaxed draws in [0, 1] of shape ``sample_shape + batch_shape``, reparameterized.

        Parameters
        ----------
        key : key array, int or generator
            Source of the uniform noise.
        sample_shape : int or tuple of int
            Leading shape of the draws.
        """
        b = self._backend
        xp = b.xp
        shape = self._extended_shape(sample_shape)
        u = draw("uniform", key, shape, b, self.dtype)
        noise = xp.log(u) - xp.log1p(-u)  # standard logistic, finite: u lies inside (0, 1)
        return _rb_rsample(self.logits, noise, self.temperature)

    def log_prob(self, value: Any) -> Any:
        """Binary Concrete log-density at ``value`` in [0, 1] (clamped; see the class notes)."""
        b = backend_of(self._theta, self.temperature, value)
        if self._validate_args and is_concrete(value):
            _require(b, "value", value, lambda b_, v: (v >= 0) & (v <= 1), "in [0, 1]")
        return _binary_concrete_log_prob(value, self.logits, self.temperature)

    def __repr__(self) -> str:
        return (
            f"RelaxedBernoulli(temperature: shape {shape_of(self.temperature)}, {self._param}: "
            f"shape {shape_of(self._theta)}, backend={self._backend.kind})"
        )
