"""Bernoulli: exact 0/1 draws, stable log-probabilities and entropy with hand-written VJPs.

Given ``logits`` (``±inf`` allowed: probability 0 or 1) or ``probs`` in ``[0, 1]``.
Everything is computed from the parameter given, in the stable forms
``log p = -softplus(-logits)`` and ``log(1 - p) = -softplus(logits)``, so no
quantity of a valid parameter is NaN.
"""

from __future__ import annotations

import math
from typing import Any

from .._lib.namespace import asarray, backend_of, float_dtype, is_concrete
from .._lib.ops import stop_gradient
from .._lib.validate import broadcast_shapes
from ..autodiff import primitive
from ..random.streams import draw
from .base import Distribution
from .categorical import _div, _mul, _not_nan, _one_of, _require, _safe_log, _safe_log1m

__all__ = ["Bernoulli"]

_INF = math.inf


# ------------------------------------------------------------------ stable pieces
def _sigmoids(xp: Any, x: Any) -> tuple[Any, Any]:
    """``(sigmoid(x), sigmoid(-x))`` without overflow (``exp`` only of ``-|x|``)."""
    e = xp.exp(-xp.abs(x))
    r = 1.0 / (1.0 + e)
    er = e * r
    pos = x >= 0
    return xp.where(pos, r, er), xp.where(pos, er, r)


def _softplus(xp: Any, x: Any) -> Any:
    return xp.logaddexp(x, xp.zeros_like(x))


def _log_p_pair(xp: Any, theta: Any, param: str) -> tuple[Any, Any]:
    """``(log p, log(1 - p))``; ``-inf`` where that outcome is impossible."""
    if param == "logits":
        return -_softplus(xp, -theta), -_softplus(xp, theta)
    return _safe_log(xp, theta), _safe_log1m(xp, theta)


def _examples(prim: Any, with_value: bool = False) -> None:
    for p in ("logits", "probs"):

        @prim.example
        def _(rng: Any, _p: str = p) -> tuple:
            theta = rng.normal(size=(3, 4)) * 2 if _p == "logits" else rng.uniform(0.1, 0.9, size=(3, 4))
            if with_value:
                return (theta, rng.integers(0, 2, size=(2, 3, 4)).astype(float)), {"param": _p}
            return (theta,), {"param": _p}


# ------------------------------------------------------------------- primitives
@primitive(name="bernoulli.log_prob", nondiff=(1,))
def _log_prob(xp: Any, theta: Any, x: Any, *, param: str) -> Any:
    # x log p + (1 - x) log(1 - p), each term 0 where its weight is 0 (0 * -inf = 0).
    lp1, lp0 = _log_p_pair(xp, theta, param)
    return x * xp.where(x != 0, lp1, 0.0) + (1.0 - x) * xp.where(x != 1, lp0, 0.0)


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    theta, x = inputs
    if param == "logits":
        return g * (x - _sigmoids(xp, theta)[0]), None
    return _mul(xp, g, _div(xp, x, theta) - _div(xp, 1.0 - x, 1.0 - theta)), None


_examples(_log_prob, with_value=True)


@primitive(name="bernoulli.entropy")
def _entropy(xp: Any, theta: Any, *, param: str) -> Any:
    lp1, lp0 = _log_p_pair(xp, theta, param)
    if param == "logits":
        p1, p0 = _sigmoids(xp, theta)
    else:
        p1, p0 = theta, 1.0 - theta
    return 0.0 - (p1 * xp.where(p1 > 0, lp1, 0.0) + p0 * xp.where(p0 > 0, lp0, 0.0))  # 0 - : no -0.0


@_entropy.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    (theta,) = inputs
    if param == "logits":
        # dH/dl = -l p (1 - p): 0 at l = ±inf.
        p1, p0 = _sigmoids(xp, theta)
        w = p1 * p0
        return (0.0 - g * w * xp.where(w > 0, theta, 0.0),)  # 0 - : no -0.0
    # dH/dp = log(1 - p) - log p: ±inf at p = 0 or 1.
    return (_mul(xp, g, _safe_log1m(xp, theta) - _safe_log(xp, theta)),)


_examples(_entropy)


@primitive(name="bernoulli.sigmoid")
def _sigmoid(xp: Any, logits: Any) -> Any:
    return _sigmoids(xp, logits)[0]


@_sigmoid.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    p1, p0 = _sigmoids(xp, inputs[0])
    return (g * p1 * p0,)


@_sigmoid.example
def _(rng: Any) -> tuple:
    return (rng.normal(size=(3, 4)) * 3,), {}


@primitive(name="bernoulli.logit")
def _logit(xp: Any, probs: Any) -> Any:
    return _safe_log(xp, probs) - _safe_log1m(xp, probs)


@_logit.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    (p,) = inputs
    return (_div(xp, g, p * (1.0 - p)),)


@_logit.example
def _(rng: Any) -> tuple:
    return (rng.uniform(0.05, 0.95, size=(3, 4)),), {}


@primitive(name="bernoulli.variance")
def _variance(xp: Any, theta: Any, *, param: str) -> Any:
    if param == "logits":
        p1, p0 = _sigmoids(xp, theta)
        return p1 * p0
    return theta * (1.0 - theta)


@_variance.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    (theta,) = inputs
    if param == "logits":
        p1, p0 = _sigmoids(xp, theta)
        return (g * p1 * p0 * (p0 - p1),)
    return (g * (1.0 - 2.0 * theta),)


_examples(_variance)


# ------------------------------------------------------------------ the class
class Bernoulli(Distribution):
    """Bernoulli distribution over ``{0, 1}``.

    Give exactly one of ``logits`` and ``probs``.  Draws are exact and carry no
    gradient; ``log_prob``, ``entropy``, ``mean``, ``variance`` and the
    ``probs``/``logits`` properties are primitives with hand-written VJPs with respect
    to the parameter given; :meth:`score` returns the per-sample score for
    score-function estimators.

    Parameters
    ----------
    logits : array or float, optional
        Log-odds ``log(p / (1 - p))``.  ``-inf`` (``p = 0``) and ``+inf`` (``p = 1``)
        are allowed; NaN raises.
    probs : array or float, optional
        Probability of a 1, in ``[0, 1]``.
    validate_args : bool
        Check the parameter and the values given to ``log_prob``/``score`` (0 or 1).
        Skipped under ``jax.jit``/``torch.func``, where ``log_prob`` then evaluates
        ``x log p + (1 - x) log(1 - p)`` for any ``x``.

    Notes
    -----
    Samples are 0.0/1.0 in the parameter's floating dtype (as in torch), drawn as
    ``logit(u) < logits`` (or ``u < probs``) from uniforms ``u`` strictly inside
    (0, 1), so ``p = 0`` never gives a 1 and ``p = 1`` never a 0.  With ``probs``,
    gradients at ``p = 0`` or ``p = 1`` may be ``±inf`` where the slope is infinite.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.bernoulli import Bernoulli
    >>> d = Bernoulli(logits=np.array([0.0, 2.0, -np.inf]))
    >>> d.sample(ds.random.key(0), (4,)).shape
    (4, 3)
    >>> d.log_prob(np.array([1.0, 1.0, 0.0]))
    array([-0.69314718, -0.12692801,  0.        ])
    >>> _, pullback = ds.vjp(lambda l: Bernoulli(logits=l).entropy(), np.array([0.0, 2.0]))
    >>> pullback(np.ones(2))[0]  # -l p (1 - p)
    array([ 0.        , -0.20998717])
    """

    has_rsample = False

    def __init__(self, logits: Any = None, probs: Any = None, validate_args: bool = True) -> None:
        param, theta = _one_of(logits, probs)
        b = backend_of(theta)
        if validate_args:
            if param == "logits":
                _not_nan(b, "logits", theta)
            else:
                _require(b, "probs", theta, lambda b_, v: (v >= 0) & (v <= 1), "in [0, 1]")
        self._param, self._theta = param, theta
        self._backend = b
        self._validate_args = validate_args
        self.batch_shape = broadcast_shapes(**{param: theta})
        self.event_shape = ()
        self.dtype = float_dtype(b, theta)

    @property
    def param_name(self) -> str:
        """``"logits"`` or ``"probs"``: the parameter this distribution was built with."""
        return self._param

    @property
    def logits(self) -> Any:
        """Log-odds (the ``logits`` given, or ``logit(probs)``), differentiable."""
        return self._theta if self._param == "logits" else _logit(self._theta)

    @property
    def probs(self) -> Any:
        """Probability of a 1 (the ``probs`` given, or ``sigmoid(logits)``), differentiable."""
        return self._theta if self._param == "probs" else _sigmoid(self._theta)

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Not available: a discrete draw has no pathwise gradient.

        Raises
        ------
        NotImplementedError
            Always; use :meth:`sample` with :meth:`score`, or ``RelaxedBernoulli``.
        """
        raise NotImplementedError(
            "Bernoulli has no reparameterized sampler: use sample() with a score-function estimator "
            "(see score()), or RelaxedBernoulli for a relaxed draw"
        )

    def sample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Exact 0/1 draws of shape ``sample_shape + batch_shape`` in the parameter's dtype.

        Parameters
        ----------
        key : key array, int or generator
            Source of noise.
        sample_shape : int or tuple of int
            Leading shape of the draws.
        """
        b = self._backend
        xp = b.xp
        shape = self._extended_shape(sample_shape)
        u = draw("uniform", key, shape, b, self.dtype)
        theta = stop_gradient(asarray(b, self._theta, u.dtype))
        hit = (xp.log(u) - xp.log1p(-u) < theta) if self._param == "logits" else (u < theta)
        return xp.astype(hit, self.dtype)

    def _value(self, value: Any) -> Any:
        b = backend_of(self._theta, value)
        if self._validate_args and is_concrete(value):
            _require(b, "value", value, lambda b_, v: (v == 0) | (v == 1), "0 or 1")
        return value

    def log_prob(self, value: Any) -> Any:
        """Log-probability of ``value`` (0 or 1, broadcast against ``batch_shape``).

        ``-inf`` for an impossible outcome (``p = 0`` and a 1, ``p = 1`` and a 0).
        """
        return _log_prob(self._theta, self._value(value), param=self._param)

    def score(self, value: Any) -> dict[str, Any]:
        """Per-sample score ``d log_prob(value) / d parameter``, without gradient.

        Returns
        -------
        dict
            ``{name: array}`` keyed by the parameter given: for ``logits``,
            ``value - sigmoid(logits)``; for ``probs``,
            ``value / p - (1 - value) / (1 - p)``.
        """
        b = backend_of(self._theta, value)
        xp = b.xp
        value = self._value(value)
        theta = stop_gradient(asarray(b, self._theta, self.dtype))
        value = asarray(b, value, self.dtype)
        if self._param == "logits":
            return {"logits": value - _sigmoids(xp, theta)[0]}
        return {"probs": _div(xp, value, theta) - _div(xp, 1.0 - value, 1.0 - theta)}

    def entropy(self) -> Any:
        """Entropy in nats (``0 log 0 = 0``), of shape ``batch_shape``."""
        return _entropy(self._theta, param=self._param)

    @property
    def mean(self) -> Any:
        """Mean: the probability of a 1."""
        return self.probs

    @property
    def variance(self) -> Any:
        """Variance ``p (1 - p)``."""
        return _variance(self._theta, param=self._param)

    def enumerate_support(self, expand: bool = True) -> Any:
        """``[0., 1.]`` in the parameter's dtype, shape ``(2,) + batch_shape`` (or ones for the batch).

        Examples
        --------
        >>> import numpy as np
        >>> from diffsample.distributions.bernoulli import Bernoulli
        >>> Bernoulli(probs=np.array([0.1, 0.7])).enumerate_support()
        array([[0., 0.],
               [1., 1.]])
        """
        b = self._backend
        xp = b.xp
        v = xp.reshape(asarray(b, [0.0, 1.0], self.dtype), (2,) + (1,) * len(self.batch_shape))
        return xp.broadcast_to(v, (2,) + self.batch_shape) if expand else v

    def __repr__(self) -> str:
        shape = tuple(getattr(self._theta, "shape", ()))
        return f"Bernoulli({self._param}: shape {shape}, backend={self._backend.kind})"
