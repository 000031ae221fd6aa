"""Categorical and OneHotCategorical: exact discrete draws, log-probabilities with VJPs.

The parameter is either ``logits`` (unnormalized log-probabilities, ``-inf`` allowed)
or ``probs`` (non-negative, summing to one along the last axis).  Every quantity that
depends on it (``log_prob``, ``entropy``, ``mean``, ``variance``, the ``probs`` and
``logits`` properties) is a primitive with a hand-written VJP with respect to the
parameter the distribution was built with, so gradients reach it through torch
autograd, JAX transforms or :func:`diffsample.vjp` on NumPy.

Draws themselves are discrete and carry no gradient; use :meth:`Categorical.score`
(the per-sample score ``d log_prob(x) / d parameter``) in a score-function estimator,
or :class:`~diffsample.distributions.relaxed.RelaxedOneHotCategorical` for a
reparameterized relaxation.

The helpers at the top of this module compute products and quotients in which
``0 * inf`` means 0 and ``x / 0`` means ``±inf`` without ever evaluating an
expression that warns (NaN never appears, not even in a discarded ``where`` branch).
"""

from __future__ import annotations

import math
from typing import Any

from .._lib.namespace import backend_of, float_dtype, is_concrete, kind_of
from .._lib.ops import softmax_vjp, stop_gradient
from .._lib.validate import _check, check_not_nan, check_positive
from ..autodiff import primitive
from ..random.streams import draw
from .base import Distribution

__all__ = ["Categorical", "OneHotCategorical"]

_INF = math.inf


# ----------------------------------------------------------- warning-free helpers
def _safe_log(xp: Any, x: Any) -> Any:
    """``log(x)`` for ``x >= 0``; ``-inf`` at 0 without a divide-by-zero warning."""
    pos = x > 0
    return xp.where(pos, xp.log(xp.where(pos, x, xp.ones_like(x))), -_INF)


def _safe_log1m(xp: Any, x: Any) -> Any:
    """``log(1 - x)`` for ``x <= 1``; ``-inf`` at 1 without a warning."""
    ok = x < 1
    return xp.where(ok, xp.log1p(-xp.where(ok, x, xp.zeros_like(x))), -_INF)


def _div(xp: Any, n: Any, d: Any) -> Any:
    """``n / d`` for ``d >= 0`` with ``0 / 0 = 0`` and ``n / 0 = copysign(inf, n)``."""
    pos = d > 0
    q = n / xp.where(pos, d, xp.ones_like(d))
    inf = xp.copysign(xp.full_like(q, _INF), n)
    return xp.where(pos, q, xp.where(n == 0, 0.0, inf))


def _mul(xp: Any, g: Any, a: Any) -> Any:
    """``g * a`` where ``a`` may hold ``±inf`` (never NaN) and ``0 * inf = 0``."""
    fin = xp.isfinite(a)
    finite_part = g * xp.where(fin, a, 0.0)
    sign_g = xp.where(g == 0, 1.0, xp.sign(g))
    inf_part = xp.where(fin, 0.0, a) * sign_g
    return xp.where(fin, finite_part, xp.where(g == 0, 0.0, inf_part))


def _arange_like(xp: Any, x: Any, n: int) -> Any:
    """``arange(n)`` in ``x``'s dtype, on ``x``'s device (inside primitives: no Backend there)."""
    try:
        dev = x.device
    except Exception:  # a JAX tracer has no device; JAX places the result itself
        dev = None
    return xp.arange(n, dtype=x.dtype, device=dev) if dev is not None else xp.arange(n, dtype=x.dtype)


def _arange(b: Any, n: int, dtype: Any) -> Any:
    xp = b.xp
    return xp.arange(n, dtype=dtype, device=b.device) if b.device is not None else xp.arange(n, dtype=dtype)


def _normalize(xp: Any, theta: Any, param: str) -> tuple[Any, Any, Any]:
    """``(log q, q, S)``: normalized log-probabilities and probabilities of the parameter.

    ``S`` is the sum of ``probs`` along the last axis (kept), or ``None`` for logits.
    Entries of probability 0 have ``log q = -inf`` and ``q = 0``.
    """
    if param == "logits":
        m = xp.max(theta, axis=-1, keepdims=True)
        e = xp.exp(theta - m)
        s = xp.sum(e, axis=-1, keepdims=True)
        return theta - (m + xp.log(s)), e / s, None
    s = xp.sum(theta, axis=-1, keepdims=True)
    q = theta / s
    return _safe_log(xp, q), q, s


def _finite_or_zero(xp: Any, x: Any) -> Any:
    return xp.where(xp.isfinite(x), x, 0.0)


# ------------------------------------------------------------------- primitives
def _example_theta(rng: Any, param: str, shape: tuple = (3, 4)) -> Any:
    if param == "logits":
        return rng.normal(size=shape)
    p = rng.uniform(0.2, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def _example_mask(rng: Any, shape: tuple = (2, 3, 4)) -> Any:
    idx = rng.integers(0, shape[-1], size=shape[:-1])
    return (idx[..., None] == range(shape[-1])).astype(float)


@primitive(name="categorical.log_prob", nondiff=(1,))
def _log_prob(xp: Any, theta: Any, mask: Any, *, param: str) -> Any:
    # ``mask`` is the one-hot encoding of the value (a row of zeros: outside the support).
    logq, _, _ = _normalize(xp, theta, param)
    sel = mask != 0
    val = xp.sum(mask * xp.where(sel, logq, 0.0), axis=-1)
    return xp.where(xp.any(sel, axis=-1), val, -_INF)


@_log_prob.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    theta, mask = inputs
    _, q, s = _normalize(xp, theta, param)
    gs = xp.expand_dims(g, axis=-1)
    tot = xp.sum(mask, axis=-1, keepdims=True)
    if param == "logits":
        return gs * (mask - tot * q), None
    return _mul(xp, gs, _div(xp, mask, theta) - tot / s), None


for _p in ("logits", "probs"):

    @_log_prob.example
    def _(rng: Any, _p: str = _p) -> tuple:
        return (_example_theta(rng, _p), _example_mask(rng)), {"param": _p}


@primitive(name="categorical.entropy")
def _entropy(xp: Any, theta: Any, *, param: str) -> Any:
    logq, q, _ = _normalize(xp, theta, param)
    return 0.0 - xp.sum(q * _finite_or_zero(xp, logq), axis=-1)  # 0 - : no -0.0


@_entropy.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    (theta,) = inputs
    logq, q, s = _normalize(xp, theta, param)
    gs = xp.expand_dims(g, axis=-1)
    h = xp.expand_dims(out, axis=-1)
    if param == "logits":
        # dH/dl_j = -q_j (log q_j + H): 0 where q_j = 0.
        return (-gs * q * (_finite_or_zero(xp, logq) + h),)
    # dH/dp_j = -(log q_j + H) / S: +inf where p_j = 0 (the slope of -q log q at 0).
    return (_mul(xp, gs, -(logq + h) / s),)


def _moment_examples(prim: Any) -> None:
    for p in ("logits", "probs"):

        @prim.example
        def _(rng: Any, _p: str = p) -> tuple:
            return (_example_theta(rng, _p),), {"param": _p}


_moment_examples(_entropy)


def _index_moments(xp: Any, theta: Any, param: str) -> tuple[Any, Any, Any, Any]:
    _, q, s = _normalize(xp, theta, param)
    k = _arange_like(xp, theta, theta.shape[-1])
    m = xp.sum(q * k, axis=-1, keepdims=True)
    d = k - m
    return q, s, d, xp.sum(q * d * d, axis=-1, keepdims=True)


@primitive(name="categorical.mean")
def _mean(xp: Any, theta: Any, *, param: str) -> Any:
    _, q, _ = _normalize(xp, theta, param)
    return xp.sum(q * _arange_like(xp, theta, theta.shape[-1]), axis=-1)


@_mean.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    q, s, d, _ = _index_moments(xp, inputs[0], param)
    gs = xp.expand_dims(g, axis=-1)
    return (gs * q * d if param == "logits" else gs * d / s,)


_moment_examples(_mean)


@primitive(name="categorical.variance")
def _variance(xp: Any, theta: Any, *, param: str) -> Any:
    return _index_moments(xp, theta, param)[3][..., 0]


@_variance.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    q, s, d, v = _index_moments(xp, inputs[0], param)
    gs = xp.expand_dims(g, axis=-1)
    a = d * d - v
    return (gs * q * a if param == "logits" else gs * a / s,)


_moment_examples(_variance)


def _pull_q(xp: Any, theta: Any, q: Any, s: Any, h: Any, param: str) -> Any:
    """Cotangent on the parameter from a cotangent ``h`` on the normalized probabilities."""
    if param == "logits":
        return softmax_vjp(q, h, -1)
    return (h - xp.sum(h * q, axis=-1, keepdims=True)) / s


@primitive(name="categorical.probs")
def _probs(xp: Any, theta: Any, *, param: str) -> Any:
    return _normalize(xp, theta, param)[1]


@_probs.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    (theta,) = inputs
    s = xp.sum(theta, axis=-1, keepdims=True) if param == "probs" else None
    return (_pull_q(xp, theta, out, s, g, param),)


_moment_examples(_probs)


@primitive(name="categorical.logits")
def _logits(xp: Any, theta: Any, *, param: str) -> Any:
    return _normalize(xp, theta, param)[0]


@_logits.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    (theta,) = inputs
    gsum = xp.sum(g, axis=-1, keepdims=True)
    if param == "logits":
        return (g - xp.exp(out) * gsum,)
    s = xp.sum(theta, axis=-1, keepdims=True)
    return (_div(xp, g, theta) - gsum / s,)


_moment_examples(_logits)


@primitive(name="onehot_categorical.variance")
def _onehot_variance(xp: Any, theta: Any, *, param: str) -> Any:
    q = _normalize(xp, theta, param)[1]
    return q * (1.0 - q)


@_onehot_variance.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, *, param: str) -> tuple:
    (theta,) = inputs
    _, q, s = _normalize(xp, theta, param)
    return (_pull_q(xp, theta, q, s, g * (1.0 - 2.0 * q), param),)


_moment_examples(_onehot_variance)


# ------------------------------------------------------------------- validation
def _fails(xp: Any, ok: Any) -> bool:
    """True when the concrete boolean array ``ok`` is not all true.

    False when ``ok`` is traced: inside ``jax.jit`` even a closed-over concrete
    input gives traced results, and no Python branch may read them.
    """
    return is_concrete(ok) and not bool(xp.all(ok))


# The shared checks (``ValueError`` naming the parameter and the first bad value;
# skipped for traced values) live in diffsample._lib.validate.
_require = _check
_not_nan = check_not_nan
_positive = check_positive


def _prob_tolerance(xp: Any, dtype: Any, k: int) -> float:
    """How far a row of ``probs`` may sum from 1: ``max(1e-6, 2 K eps)`` of its dtype."""
    try:
        eps = float(xp.finfo(dtype).eps)
    except Exception:
        eps = 2.0**-52
    return max(1e-6, 2.0 * k * eps)


def _check_probs(b: Any, name: str, p: Any, simplex: bool) -> None:
    """``0 <= p <= 1`` (no NaN) and, for a simplex, rows summing to 1 within tolerance."""
    _require(b, name, p, lambda b_, v: (v >= 0) & (v <= 1), "in [0, 1]")
    if not simplex or not is_concrete(p):
        return
    xp = b.xp
    k = int(p.shape[-1])
    tol = _prob_tolerance(xp, p.dtype, k)
    # Sum in float64 where the row is float64, else in float32 (float16 rows would round).
    wide = p if p.dtype in (xp.float32, xp.float64) else xp.astype(p, xp.float32)
    sums = xp.sum(wide, axis=-1)
    ok = xp.abs(sums - 1.0) <= tol
    if _fails(xp, ok):
        flat, bad = xp.reshape(sums, (-1,)), xp.reshape(~ok, (-1,))
        v = float(flat[int(xp.argmax(xp.astype(bad, xp.int32)))])
        raise ValueError(
            f"{name} must sum to 1 along the last axis (within {tol:.3g}), got a row summing to {v!r} "
            f"(in an array of shape {tuple(p.shape)})"
        )


def _check_logits(b: Any, logits: Any) -> None:
    """No NaN, no ``+inf``, no row that is all ``-inf``."""
    _not_nan(b, "logits", logits)
    _require(b, "logits", logits, lambda b_, v: v < _INF, "less than +inf")
    if is_concrete(logits):
        xp = b.xp
        dead = xp.all(logits == -_INF, axis=-1)
        if _fails(xp, ~dead):
            raise ValueError(
                "logits has a row whose entries are all -inf (no category has positive probability), "
                f"in an array of shape {tuple(logits.shape)}"
            )


def _one_of(logits: Any, probs: Any) -> tuple[str, Any]:
    if (logits is None) == (probs is None):
        given = "both" if logits is not None else "neither"
        raise ValueError(f"exactly one of logits and probs must be given, got {given}")
    return ("logits", logits) if logits is not None else ("probs", probs)


def _categorical_param(logits: Any, probs: Any, validate_args: bool) -> tuple[str, Any, Any]:
    param, theta = _one_of(logits, probs)
    if kind_of(theta) is None:
        raise TypeError(f"{param} must be an array with the categories on its last axis, got {type(theta).__name__}")
    b = backend_of(theta)
    if theta.ndim == 0 or theta.shape[-1] == 0:
        raise ValueError(f"{param} needs at least one category on its last axis, got shape {tuple(theta.shape)}")
    if validate_args:
        if param == "logits":
            _check_logits(b, theta)
        else:
            _check_probs(b, "probs", theta, simplex=True)
    return param, theta, b


# ------------------------------------------------------------------ the classes
class Categorical(Distribution):
    """Categorical distribution over ``{0, ..., K-1}``, categories on the last axis.

    Give exactly one of ``logits`` and ``probs``.  Draws are exact and
    carry no gradient; ``log_prob``, ``entropy``, ``mean``, ``variance`` and the
    ``probs``/``logits`` properties are primitives with hand-written VJPs with respect
    to the parameter given, and :meth:`score` returns the per-sample score for
    score-function (REINFORCE) estimators.  Draws use the inverse CDF, one uniform
    per draw.

    Parameters
    ----------
    logits : array, optional
        Unnormalized log-probabilities, shape ``batch_shape + (K,)``.  ``-inf`` marks
        a category of probability 0 (never drawn; its ``log_prob`` is ``-inf``; it
        gets gradient 0).  NaN, ``+inf`` and rows that are all ``-inf`` raise.
    probs : array, optional
        Probabilities in ``[0, 1]``, each row summing to 1 within
        ``max(1e-6, 2 K eps)`` of its dtype (rows are renormalized exactly inside).
    validate_args : bool
        Check the parameter (and the values given to ``log_prob``/``score``).  The
        checks read values, so they are skipped under ``jax.jit``/``torch.func``;
        there invalid input gives NaN or ``-inf`` instead.

    Attributes
    ----------
    batch_shape : tuple of int
        The parameter's shape without its last axis.
    event_shape : tuple
        ``()``.

    Notes
    -----
    Samples are integer indices of dtype int64 (on JAX, int32 unless
    ``jax_enable_x64`` is on), like ``torch.distributions.Categorical``.  ``mean`` and
    ``variance`` are the moments of the index ``k`` itself (``sum_k k p_k`` and its
    spread); torch returns NaN there instead.  With ``probs``, gradients at a
    category of probability 0 may be ``±inf`` where the function's slope is infinite
    (``entropy``, ``log_prob`` of that category); with ``logits`` they stay finite.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.categorical import Categorical
    >>> d = Categorical(logits=np.log(np.array([0.2, 0.3, 0.5])))
    >>> x = d.sample(ds.random.key(0), (1000,))
    >>> x.shape, x.dtype
    ((1000,), dtype('int64'))
    >>> float(d.log_prob(np.array(2)))  # log 0.5
    -0.6931471805599453

    The gradient of a log-probability with respect to the logits, without any framework:

    >>> lp, pullback = ds.vjp(lambda l: Categorical(logits=l).log_prob(np.array([2, 0])), np.zeros(3))
    >>> pullback(np.ones(2))[0].round(6)  # one_hot(2) + one_hot(0) - 2 softmax(logits)
    array([ 0.333333, -0.666667,  0.333333])
    """

    has_rsample = False

    def __init__(self, logits: Any = None, probs: Any = None, validate_args: bool = True) -> None:
        param, theta, b = _categorical_param(logits, probs, validate_args)
        self._param, self._theta = param, theta
        self._backend = b
        self._validate_args = validate_args
        self.batch_shape = tuple(theta.shape[:-1])
        self.event_shape = ()
        self.dtype = float_dtype(b, theta)

    # -- parameters ---------------------------------------------------------------
    @property
    def param_name(self) -> str:
        """``"logits"`` or ``"probs"``: the parameter this distribution was built with."""
        return self._param

    @property
    def num_categories(self) -> int:
        """``K``, the number of categories."""
        return int(self._theta.shape[-1])

    @property
    def logits(self) -> Any:
        """Normalized log-probabilities (``log_softmax`` of the logits), differentiable."""
        return _logits(self._theta, param=self._param)

    @property
    def probs(self) -> Any:
        """Probabilities (``softmax`` of the logits, or the renormalized ``probs``), differentiable."""
        return _probs(self._theta, param=self._param)

    # -- sampling -------------------------------------------------------------------
    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Not available: a discrete draw has no pathwise gradient.

        Raises
        ------
        NotImplementedError
            Always; use :meth:`sample` with :meth:`score`, or a relaxation.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterized sampler: use sample() with a score-function "
            "estimator (see score()), or RelaxedOneHotCategorical for a relaxed draw"
        )

    def _indices(self, key: Any, sample_shape: Any) -> Any:
        # Inverse CDF on the unnormalized cumulative sums c: the index is the number of
        # entries of c below u * c[-1].  Since u < 1, u * c[-1] <= c[-1] after rounding,
        # so the index never passes the last category of positive probability, and a
        # category of probability 0 (c[j] == c[j-1]) is never chosen.  Without a batch
        # the count is a binary search (O(log K) per draw); with one, a comparison
        # against every category (O(K) per draw; the array API's searchsorted is 1-D).
        b = self._backend
        xp = b.xp
        full = self._extended_shape(sample_shape)
        shape = full[: len(full) - len(self.event_shape)]
        u = draw("uniform", key, shape, b, self.dtype)
        theta = stop_gradient(self._theta)
        if theta.dtype != u.dtype:
            theta = xp.astype(theta, u.dtype)
        if self._param == "logits":
            theta = xp.exp(theta - xp.max(theta, axis=-1, keepdims=True))
        c = xp.cumulative_sum(theta, axis=-1)
        x = u * c[..., -1]
        if c.ndim == 1:
            idx = xp.searchsorted(c, x, side="left")
            return idx if idx.dtype == xp.int64 else xp.astype(idx, xp.int64)
        return xp.sum(xp.astype(c < xp.expand_dims(x, axis=-1), xp.int64), axis=-1)

    def sample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Exact draws of shape ``sample_shape + batch_shape`` (int64 indices).

        Inverse CDF: one uniform ``u`` per draw (:func:`diffsample.random.uniform`
        for the key) and the index of the first category whose cumulative
        probability reaches ``u`` (computed in float32, or float64 for float64
        parameters): a binary search when ``batch_shape == ()``, a comparison with
        every category otherwise.

        Parameters
        ----------
        key : key array, int or generator
            Source of noise.
        sample_shape : int or tuple of int
            Leading shape of the draws.
        """
        return self._indices(key, sample_shape)

    # -- log-probabilities ----------------------------------------------------------
    def _one_hot(self, value: Any) -> Any:
        b = backend_of(self._theta, value)
        xp = b.xp
        v = value if kind_of(value) is not None else (
            xp.asarray(value, device=b.device) if b.device is not None else xp.asarray(value)
        )
        k = self.num_categories
        integral = xp.isdtype(v.dtype, "integral")
        if not (integral or xp.isdtype(v.dtype, "real floating")):
            raise ValueError(f"value must hold integer category indices, got dtype {v.dtype}")
        if self._validate_args and is_concrete(v):
            what = f"an integer category index in [0, {k - 1}]"
            if integral:
                _require(b, "value", v, lambda b_, a: (a >= 0) & (a <= k - 1), what)
            else:
                _require(b, "value", v, lambda b_, a: (a >= 0) & (a <= k - 1) & (xp.floor(a) == a), what)
        return xp.astype(xp.expand_dims(v, axis=-1) == _arange(b, k, v.dtype), self.dtype)

    def log_prob(self, value: Any) -> Any:
        """Log-probability of the category indices ``value`` (broadcast against ``batch_shape``).

        ``-inf`` for a category of probability 0 (and, with ``validate_args=False``,
        for an index outside ``[0, K)``); never NaN.
        """
        return _log_prob(self._theta, self._one_hot(value), param=self._param)

    def score(self, value: Any) -> dict[str, Any]:
        """Per-sample score ``d log_prob(value) / d parameter``, without gradient.

        Parameters
        ----------
        value : array of int
            Category indices of shape ``sample_shape + batch_shape``.

        Returns
        -------
        dict
            ``{name: array of shape value.shape + (K,)}`` keyed by the parameter the
            distribution was built with: for ``logits``, ``one_hot(value) - probs``;
            for ``probs``, ``one_hot(value) / probs - 1`` (``+inf`` at a category of
            probability 0 that was given as the value).
        """
        return self._score(self._one_hot(value))

    def _score(self, mask: Any) -> dict[str, Any]:
        xp = self._backend.xp
        theta = stop_gradient(self._theta)
        if mask.dtype != theta.dtype:
            mask = xp.astype(mask, theta.dtype)
        _, q, s = _normalize(xp, theta, self._param)
        tot = xp.sum(mask, axis=-1, keepdims=True)
        if self._param == "logits":
            return {"logits": mask - tot * q}
        return {"probs": _div(xp, mask, theta) - tot / s}

    # -- summaries --------------------------------------------------------------------
    def entropy(self) -> Any:
        """Entropy ``-sum p log p`` (with ``0 log 0 = 0``), of shape ``batch_shape``."""
        return _entropy(self._theta, param=self._param)

    @property
    def mean(self) -> Any:
        """Mean of the index, ``sum_k k p_k``, of shape ``batch_shape``."""
        return _mean(self._theta, param=self._param)

    @property
    def variance(self) -> Any:
        """Variance of the index, of shape ``batch_shape``."""
        return _variance(self._theta, param=self._param)

    def enumerate_support(self, expand: bool = True) -> Any:
        """All categories ``0..K-1`` (int64), shape ``(K,) + batch_shape`` (or ``(K,) + (1,) * len(batch_shape)``).

        Examples
        --------
        >>> import numpy as np
        >>> from diffsample.distributions.categorical import Categorical
        >>> Categorical(probs=np.full((2, 3), 1 / 3)).enumerate_support().shape
        (3, 2)
        """
        b = self._backend
        xp = b.xp
        k = self.num_categories
        v = xp.reshape(_arange(b, k, xp.int64), (k,) + (1,) * len(self.batch_shape))
        return xp.broadcast_to(v, (k,) + self.batch_shape) if expand else v

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._param}: shape {tuple(self._theta.shape)}, backend={self._backend.kind})"


class OneHotCategorical(Categorical):
    """Categorical draws encoded one-hot along the last axis.

    The same parameters, draws and gradients as :class:`Categorical`; samples are
    one-hot vectors of the parameter's floating dtype, ``event_shape`` is ``(K,)``.

    Parameters
    ----------
    logits : array, optional
        Unnormalized log-probabilities, shape ``batch_shape + (K,)`` (``-inf`` allowed).
    probs : array, optional
        Probabilities summing to 1 along the last axis.
    validate_args : bool
        Check the parameter and the values given to ``log_prob`` (one-hot rows).

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.categorical import OneHotCategorical
    >>> d = OneHotCategorical(probs=np.array([0.25, 0.75]))
    >>> d.sample(ds.random.key(0), (3,)).shape
    (3, 2)
    >>> float(d.log_prob(np.array([0.0, 1.0])))  # log 0.75
    -0.2876820724517809
    >>> d.mean
    array([0.25, 0.75])
    """

    def __init__(self, logits: Any = None, probs: Any = None, validate_args: bool = True) -> None:
        super().__init__(logits=logits, probs=probs, validate_args=validate_args)
        self.event_shape = (self.num_categories,)

    def sample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Exact one-hot draws of shape ``sample_shape + batch_shape + (K,)``."""
        b = self._backend
        xp = b.xp
        idx = self._indices(key, sample_shape)
        ar = _arange(b, self.num_categories, idx.dtype)
        return xp.astype(xp.expand_dims(idx, axis=-1) == ar, self.dtype)

    def _mask(self, value: Any) -> Any:
        b = backend_of(self._theta, value)
        xp = b.xp
        if kind_of(value) is None:
            raise TypeError(f"value must be an array of one-hot rows, got {type(value).__name__}")
        if self._validate_args and is_concrete(value):
            if tuple(value.shape[-1:]) != (self.num_categories,):
                raise ValueError(f"value must have {self.num_categories} categories on its last axis, got shape {tuple(value.shape)}")
            v = value if xp.isdtype(value.dtype, "real floating") else xp.astype(value, xp.float32)
            _require(b, "value", v, lambda b_, a: (a == 0) | (a == 1), "0 or 1 (one-hot rows)")
            if _fails(xp, xp.sum(v, axis=-1) == 1):
                raise ValueError("value must have exactly one 1 in each row (one-hot along the last axis)")
        return value if value.dtype == self.dtype else xp.astype(value, self.dtype)

    def log_prob(self, value: Any) -> Any:
        """Log-probability of one-hot rows ``value``, of shape ``value.shape[:-1]`` (broadcast)."""
        return _log_prob(self._theta, self._mask(value), param=self._param)

    def score(self, value: Any) -> dict[str, Any]:
        """Per-sample score ``d log_prob(value) / d parameter`` (see :meth:`Categorical.score`)."""
        return self._score(self._mask(value))

    @property
    def mean(self) -> Any:
        """Mean of the one-hot vector: ``probs``."""
        return self.probs

    @property
    def variance(self) -> Any:
        """Per-coordinate variance ``probs * (1 - probs)``."""
        return _onehot_variance(self._theta, param=self._param)

    def enumerate_support(self, expand: bool = True) -> Any:
        """The K one-hot vectors, shape ``(K,) + batch_shape + (K,)`` (or with ones for the batch).

        Examples
        --------
        >>> import numpy as np
        >>> from diffsample.distributions.categorical import OneHotCategorical
        >>> OneHotCategorical(logits=np.zeros(3)).enumerate_support()
        array([[1., 0., 0.],
               [0., 1., 0.],
               [0., 0., 1.]])
        """
        b = self._backend
        xp = b.xp
        k = self.num_categories
        eye = xp.eye(k, dtype=self.dtype, device=b.device) if b.device is not None else xp.eye(k, dtype=self.dtype)
        v = xp.reshape(eye, (k,) + (1,) * len(self.batch_shape) + (k,))
        return xp.broadcast_to(v, (k,) + self.batch_shape + (k,)) if expand else v
