"""ARM and DisARM: unbiased, low-variance gradients for Bernoulli(logits) objectives."""

from __future__ import annotations

from typing import Any, Callable

from .._lib.namespace import kind_of
from .._lib.validate import check_finite
from ..random.streams import draw
from .result import EstimatorResult, make_result
from ._util import align, check_f_values, check_n, prepare_params, to_dtype

__all__ = ["arm", "disarm"]


def _antithetic_pair(logits: Any, f: Callable[[Any], Any], key: Any, n: int) -> tuple:
    """Shared set-up: (backend, dtypes, logits, u, logit(u), f at the two antithetic draws)."""
    n = check_n(n, 1)
    if kind_of(logits) is None:
        raise TypeError(f"logits must be an array, got {type(logits).__name__}")
    b, P, out_dt, cdt = prepare_params({"logits": logits})
    xp = b.xp
    phi = P["logits"]
    check_finite(b, "logits", phi)
    shape = (n,) + tuple(phi.shape)
    u = to_dtype(xp, draw("uniform", key, shape, b, cdt), cdt)
    lu = xp.log(u) - xp.log1p(-u)  # logit(u): the comparisons below never round sigmoid(phi)
    # b_lo = 1[u < sigmoid(phi)] and b_hi = 1[u > sigmoid(-phi)] = 1[1 - u < sigmoid(phi)]:
    # two Bernoulli(sigmoid(phi)) draws driven by the same u (antithetic).
    b_lo = xp.astype(lu < phi, cdt)
    b_hi = xp.astype(lu > -phi, cdt)
    batch = tuple(phi.shape)
    fv = check_f_values(b, f(xp.concat([b_lo, b_hi], axis=0)), 2 * n, batch, cdt)
    value = xp.mean(fv, axis=0)
    fa = align(xp, fv, len(batch))
    return b, out_dt, cdt, phi, u, b_lo, b_hi, fa[:n, ...], fa[n:, ...], value, n


def _finish(b: Any, out_dt: Any, cdt: Any, per: Any, value: Any) -> EstimatorResult:
    xp = b.xp
    if out_dt != cdt:
        per, value = xp.astype(per, out_dt), xp.astype(value, out_dt)
    return make_result(b.kind, value, {"logits": per})


def arm(logits: Any, f: Callable[[Any], Any], key: Any, n: int) -> EstimatorResult:
    r"""ARM (augment-REINFORCE-merge, Yin & Zhou 2019) gradient of ``E_{b ~ Bernoulli(sigmoid(logits))}[f(b)]``.

    For ``u ~ Uniform(0, 1)`` (one per coordinate) the per-sample estimate is

    ``(f(1[u > sigmoid(-logits)]) - f(1[u < sigmoid(logits)])) * (u - 1/2)``,

    unbiased for any ``f``, with two evaluations of ``f`` per sample at antithetic
    binary vectors.  ``f`` is only evaluated, never differentiated.

    Parameters
    ----------
    logits : array
        Bernoulli logits (finite), any shape.
    f : callable
        ``f(b)`` for 0/1 arrays ``b`` of shape ``(m,) + logits.shape`` (floating, the
        dtype of ``logits``); returns one value per sample, shape ``(m,)``, or
        ``(m,) + logits.shape`` when entry ``[i, j]`` depends on ``b[i, j]`` only.  It
        is called once, on both antithetic halves stacked (``m = 2 n``).
    key : key array, int or generator
        Source of the uniforms.
    n : int
        Number of samples (``2 n`` evaluations of ``f``).

    Returns
    -------
    EstimatorResult
        ``grads["logits"]``; ``value`` is the mean of ``f`` over both halves (each
        half is an exact Bernoulli draw).

    See Also
    --------
    disarm : the same draws with the noise integrated out; never worse.

    Examples
    --------
    ``d/dlogit E[b] = p (1 - p)``; at ``logit = 0`` that is 0.25:

    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import arm
    >>> r = arm(np.zeros(1), lambda b: b[:, 0], ds.random.key(0), 100_000)
    >>> round(float(r.grads["logits"][0]), 2)
    0.25
    """
    b, out_dt, cdt, phi, u, b_lo, b_hi, f_lo, f_hi, value, n = _antithetic_pair(logits, f, key, n)
    per = (f_hi - f_lo) * (u - 0.5)
    return _finish(b, out_dt, cdt, per, value)


def disarm(logits: Any, f: Callable[[Any], Any], key: Any, n: int) -> EstimatorResult:
    r"""DisARM (Dong, Mnih & Tucker 2020) gradient of ``E_{b ~ Bernoulli(sigmoid(logits))}[f(b)]``.

    From the same antithetic pair as ARM, ``b = 1[u < sigmoid(logits)]`` and
    ``b~ = 1[1 - u < sigmoid(logits)]``, the per-sample estimate is

    ``1/2 (f(b) - f(b~)) (-1)^{b~} 1[b != b~] sigmoid(|logits|)``:

    ARM with the continuous noise ``u`` integrated out given the pair, so it is unbiased
    and its variance is never larger than ARM's.  Coordinates where the pair agrees
    contribute exactly zero.

    Parameters
    ----------
    logits : array
        Bernoulli logits (finite), any shape.
    f : callable
        As for :func:`arm`.
    key : key array, int or generator
        Source of the uniforms.
    n : int
        Number of samples (``2 n`` evaluations of ``f``).

    Returns
    -------
    EstimatorResult

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import disarm
    >>> r = disarm(np.zeros(1), lambda b: b[:, 0], ds.random.key(0), 100_000)
    >>> round(float(r.grads["logits"][0]), 2)   # exact: p (1 - p) = 0.25
    0.25
    """
    b, out_dt, cdt, phi, u, b_lo, b_hi, f_lo, f_hi, value, n = _antithetic_pair(logits, f, key, n)
    xp = b.xp
    sign = 1.0 - 2.0 * b_hi  # (-1)^{b~}
    differ = xp.astype(b_lo != b_hi, cdt)
    sig_abs = 1.0 / (1.0 + xp.exp(-xp.abs(phi)))
    per = 0.5 * (f_lo - f_hi) * sign * differ * sig_abs
    return _finish(b, out_dt, cdt, per, value)
