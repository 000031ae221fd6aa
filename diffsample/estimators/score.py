"""Score-function (REINFORCE) estimator with baselines, and the DiCE surrogate for autodiff users."""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from .._lib.namespace import asarray, backend_of, kind_of
from .._lib.ops import stop_gradient
from ..autodiff import primitive, vjp
from .result import EstimatorResult, make_result
from ._util import (
    align,
    check_n,
    f_values,
    full_param_shape,
    pad_trailing,
    per_sample_params,
    prepare_params,
    reduce_per_sample,
    to_dtype,
    unvalidated,
)

__all__ = ["score_function", "surrogate", "magic_box", "BASELINES"]

BASELINES = (None, "moving_average", "leave_one_out", "optimal")


def score_function(
    dist_fn: Callable[..., Any],
    params: Mapping[str, Any],
    f: Callable[[Any], Any],
    key: Any,
    n: int,
    baseline: Any = None,
    *,
    baseline_state: Any = None,
    decay: float = 0.9,
) -> EstimatorResult:
    r"""Score-function (REINFORCE) estimate of ``grad E_{x ~ p_theta}[f(x)]``.

    Draws ``x_1..x_n ~ dist_fn(**params)`` and averages
    ``(f(x_i) - b_i) * grad_theta log p_theta(x_i)``.  ``f`` is only evaluated, never
    differentiated, so it may be a black box (a simulator, a non-differentiable
    reward) and ``x`` may be discrete.  The score ``grad_theta log p(x_i)`` comes from
    the distribution's hand-written VJP of ``log_prob``, evaluated with the parameters
    broadcast to the sample shape so that each sample keeps its own score; this works
    on every backend (``torch.func.vjp`` on torch, ``jax.vjp`` on JAX, the
    :func:`diffsample.vjp` tape on NumPy, CuPy and array_api_strict).  Where the
    distribution has a ``score(x)`` method (the discrete distributions do) and
    ``params`` are its own parameters under their own names (``dist_fn`` the class
    itself), the per-sample scores come from that method instead, which skips the
    forward pass of ``log_prob``; both routes give the same numbers.

    Parameters
    ----------
    dist_fn : callable
        ``dist_fn(**params)`` returns a distribution with ``sample`` and ``log_prob``:
        a distribution class such as ``ds.Normal`` (then the per-sample copies of
        the parameters are not validated a second time, which saves a pass over
        the samples), or any function such as ``lambda mu, sigma: ds.Normal(mu, sigma)``.
    params : dict of str to array
        The parameters to differentiate, by name.  They align with the
        distribution's batch shape from the right.
    f : callable
        ``f(x)`` for draws ``x`` of shape ``(n,) + batch_shape + event_shape``; returns
        one value per sample, shape ``(n,)``, or, for a batch of independent problems,
        shape ``(n,) + batch_shape`` where entry ``[i, j]`` depends on ``x[i, j]`` only
        (the objective is then the sum over the batch).
    key : key array, int or generator
        Source of the draws.
    n : int
        Number of samples (``>= 2`` for ``"leave_one_out"`` and ``"optimal"``).
        Under ``jax.jit`` it must be a Python int.
    baseline : None, str, array or callable
        What is subtracted from ``f(x_i)``; it never carries gradient.

        * ``None``: plain REINFORCE.
        * ``"moving_average"``: an exponential moving average of past objective values,
          passed in as ``baseline_state`` and returned updated in ``result.state``
          (``decay * state + (1 - decay) * mean f``), so a jitted training step stays
          pure.  It is a constant for this batch, so the estimate stays unbiased.
          ``baseline_state=None`` starts it (no baseline on that first call).
        * ``"leave_one_out"`` (RLOO): ``b_i`` is the mean of ``f`` over the *other*
          ``n - 1`` samples, so it is independent of ``x_i`` and the estimate is
          unbiased.  Subtracting the batch mean *including* sample ``i`` instead would
          shrink the expected gradient by the factor ``1 - 1/n`` (the ``f(x_i) / n``
          part of the mean correlates with the score of ``x_i``).
        * ``"optimal"``: the variance-minimizing constant baseline per parameter
          element, ``E[f s^2] / E[s^2]`` with ``s`` that element's score, estimated
          from the other ``n - 1`` samples (leave-one-out, so again unbiased).
        * an array: a constant baseline, broadcast against ``f(x)`` (a scalar or the
          shape of ``result.value``).
        * a callable: called as ``baseline(**params)`` (for example a learned critic);
          its result is used as a constant baseline.
    baseline_state : array, optional
        The moving average carried between calls (only with ``"moving_average"``).
    decay : float
        Moving-average decay in ``[0, 1)``.

    Returns
    -------
    EstimatorResult
        ``value`` = mean of ``f``; ``grads`` and ``per_sample`` by parameter name;
        ``state`` = the updated moving average (``"moving_average"`` only).

    Raises
    ------
    ValueError
        Bad ``n``, ``baseline``, ``decay`` or ``params``, or ``f`` returning a wrong shape.

    See Also
    --------
    surrogate : the same estimator as a loss for torch/JAX autodiff.

    Examples
    --------
    ``d/dmu E[x^2] = 2 mu`` and ``d/dsigma E[x^2] = 2 sigma`` for ``x ~ N(mu, sigma)``:

    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import score_function
    >>> r = score_function(lambda loc, scale: ds.Normal(loc, scale),
    ...                    {"loc": np.array(1.0), "scale": np.array(0.5)},
    ...                    lambda x: x**2, ds.random.key(0), 100_000, baseline="leave_one_out")
    >>> [round(float(r.grads[k]), 1) for k in ("loc", "scale")]
    [2.0, 1.0]

    A moving-average baseline carried across steps:

    >>> state = None
    >>> for step in range(3):
    ...     r = score_function(lambda loc, scale: ds.Normal(loc, scale),
    ...                        {"loc": np.array(1.0), "scale": np.array(0.5)}, lambda x: x**2,
    ...                        ds.random.key(step), 1000, "moving_average", baseline_state=state)
    ...     state = r.state
    >>> bool(abs(state - 1.25) < 0.1)   # E[x^2] = mu^2 + sigma^2
    True
    """
    kind = _check_baseline(baseline)
    n = check_n(n, 2 if kind in ("leave_one_out", "optimal") else 1)
    if baseline_state is not None and kind != "moving_average":
        raise ValueError(f"baseline_state is only used with baseline='moving_average', not with {baseline!r}")
    if kind == "moving_average":
        if not (isinstance(decay, (int, float)) and 0.0 <= float(decay) < 1.0):
            raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
    b, P, out_dt, cdt = prepare_params(params)
    xp = b.xp
    dist = dist_fn(**P)
    batch = tuple(dist.batch_shape)
    x = stop_gradient(dist.sample(key, (n,)))
    fv = stop_gradient(f_values(b, f, x, n, batch, cdt))
    fa = align(xp, fv, len(batch))  # (n,) + s, right-aligned with the batch axes
    value = xp.mean(fv, axis=0)
    state = None
    coef = None
    if kind is None:
        coef = fa
    elif kind == "leave_one_out":
        coef = (fa - xp.mean(fa, axis=0, keepdims=True)) * (n / (n - 1))
    elif kind == "moving_average":
        if baseline_state is None:
            coef = fa
            state = value
        else:
            st = stop_gradient(asarray(b, baseline_state, cdt))
            coef = fa - st
            state = decay * st + (1.0 - decay) * value
    elif kind == "user":  # an array, or a callable of the parameters
        bv = baseline(**P) if callable(baseline) else baseline
        if kind_of(bv) is None and not isinstance(bv, (int, float)):
            raise ValueError(f"baseline must give an array or a number, got {type(bv).__name__}")
        bv = stop_gradient(asarray(b, bv, cdt))
        try:
            coef = xp.broadcast_to(fa - bv, tuple(fa.shape))
        except Exception as e:
            raise ValueError(
                f"baseline of shape {tuple(bv.shape)} does not broadcast against f(x) of shape {tuple(fv.shape)}"
            ) from e

    scores = _direct_scores(b, dist, x, P, batch, n)
    per: dict[str, Any] = {}
    if scores is None:
        # The general route: the VJP of log_prob with the parameters copied per sample,
        # so the pullback keeps one score per sample (no reduction over the samples).
        names = list(P)
        bp = per_sample_params(b, P, batch, n)
        per_sample_dist = unvalidated(dist_fn)

        def log_prob(*ps: Any) -> Any:
            return per_sample_dist(**dict(zip(names, ps))).log_prob(x)

        lp, pullback = vjp(log_prob, *bp)
        lp_shape = tuple(lp.shape)
        if kind == "optimal":
            scores = dict(zip(names, pullback(xp.ones_like(lp))))
        else:
            cot = xp.broadcast_to(to_dtype(xp, coef, lp.dtype), lp_shape)
            for k, g in zip(names, pullback(cot)):
                per[k] = reduce_per_sample(xp, g, tuple(P[k].shape))
    if scores is not None:
        for k, sc in scores.items():
            fk = pad_trailing(xp, fa if coef is None else coef, sc.ndim - 1 - len(batch))
            if kind == "optimal":
                per[k] = reduce_per_sample(xp, (fk - _optimal_baseline(xp, fk, sc)) * sc, tuple(P[k].shape))
            else:
                per[k] = reduce_per_sample(xp, fk * sc, tuple(P[k].shape))
    if out_dt != cdt:
        per = {k: xp.astype(v, out_dt) for k, v in per.items()}
        value = xp.astype(value, out_dt)
        state = None if state is None else xp.astype(state, out_dt)
    return make_result(b.kind, value, per, state)


def _optimal_baseline(xp: Any, f: Any, s: Any) -> Any:
    """Leave-one-out estimate of ``E[f s^2] / E[s^2]`` per entry (0 where undefined)."""
    s2 = s * s
    fs2 = f * s2
    num = xp.sum(fs2, axis=0, keepdims=True) - fs2
    den = xp.sum(s2, axis=0, keepdims=True) - s2
    ok = den > 0
    return xp.where(ok, num / xp.where(ok, den, xp.ones_like(den)), xp.zeros_like(den))


def _direct_scores(b: Any, dist: Any, x: Any, P: dict, batch: tuple, n: int) -> dict | None:
    """Per-sample scores from ``dist.score(x)`` where the distribution provides them.

    Used only when the result is unambiguous: a dict with one entry per parameter,
    keyed by the parameter's name, each the very array passed in (so no change of
    variables sits between them), each of shape ``(n,) + full shape``.  Otherwise
    ``None``, and the caller takes the VJP of ``log_prob``.
    """
    fn = getattr(dist, "score", None)
    if not callable(fn):
        return None
    try:
        if any(getattr(dist, k, None) is not v for k, v in P.items()):
            return None
    except Exception:
        return None
    scores = fn(x)
    if not isinstance(scores, dict) or set(scores) != set(P):
        return None
    out = {}
    for k, v in P.items():
        sc = scores[k]
        want = (n,) + full_param_shape(tuple(v.shape), batch, k)
        if kind_of(sc) is None or tuple(sc.shape) != want:
            return None
        out[k] = stop_gradient(to_dtype(b.xp, sc, v.dtype))
    return out


def _check_baseline(baseline: Any) -> str | None:
    if baseline is None:
        return None
    if isinstance(baseline, str):
        if baseline not in BASELINES[1:]:
            raise ValueError(
                f"baseline must be None, 'moving_average', 'leave_one_out', 'optimal', an array or a "
                f"callable; got {baseline!r}"
            )
        return baseline
    if callable(baseline) or kind_of(baseline) is not None or isinstance(baseline, (int, float)):
        if isinstance(baseline, bool):
            raise ValueError(f"baseline must not be a bool, got {baseline!r}")
        return "user"
    raise ValueError(
        f"baseline must be None, 'moving_average', 'leave_one_out', 'optimal', an array or a callable; "
        f"got {type(baseline).__name__}"
    )


# ------------------------------------------------------------------------- DiCE
@primitive(name="estimators.magic_box", nondiff=(1,))
def _magic(xp: Any, x: Any, x_stopped: Any) -> Any:
    return xp.exp(x - x_stopped)


@_magic.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, c = inputs
    # d/dx exp(x - c) = exp(x - c); recomputed from the inputs so that the VJP is
    # itself differentiable in x (second derivatives on torch and JAX).
    return g * xp.exp(x - c), None


@_magic.example
def _(rng: Any) -> tuple:
    x = rng.normal(size=5)
    return (x, x + rng.normal(size=5) * 0.1), {}


@primitive(name="estimators.surrogate", nondiff=(1, 3))
def _dice_mean(xp: Any, lp: Any, lp_stopped: Any, f: Any, b: Any) -> Any:
    m = xp.exp(lp - lp_stopped)
    return xp.mean(f * m + b * (1.0 - m))


@_dice_mean.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, needs: tuple) -> tuple:
    lp, c, f, b = inputs
    m = xp.exp(lp - c)
    shape = tuple((f * m + b).shape)
    gs = g / math.prod(shape)
    d_lp = gs * (f - b) * m if needs[0] else None
    d_f = gs * m if needs[2] else None
    return d_lp, None, d_f, None


@_dice_mean.example
def _(rng: Any) -> tuple:
    lp = rng.normal(size=6)
    return (lp, lp + 0.1 * rng.normal(size=6), rng.normal(size=6), rng.normal(size=1)), {}


def magic_box(log_prob: Any) -> Any:
    """The DiCE "magic box" ``exp(log_prob - stop_gradient(log_prob))``.

    Its value is exactly 1; its derivative is the magic box times the derivative of
    ``log_prob``, at every order.  Multiplying a cost by it attaches the score-function
    term to that cost's gradient (Foerster et al., 2018).  A primitive, so it works on
    every backend; on NumPy/CuPy its VJP is reachable through :func:`diffsample.vjp`.

    Parameters
    ----------
    log_prob : array
        Log-probability of the sampled values (sum it over every stochastic node the
        cost depends on).

    Returns
    -------
    array
        Ones, shaped like ``log_prob``.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import magic_box
    >>> lp = np.array([-1.3, -0.2])
    >>> m, pullback = ds.vjp(magic_box, lp)
    >>> m, pullback(np.array([2.0, 3.0]))[0]
    (array([1., 1.]), array([2., 3.]))
    """
    if kind_of(log_prob) is None:
        raise TypeError(f"log_prob must be an array, got {type(log_prob).__name__}")
    return _magic(log_prob, stop_gradient(log_prob))


def surrogate(log_prob: Any, f_values: Any, baseline: Any = None) -> Any:
    r"""A scalar whose value is ``mean(f)`` and whose gradient is the score-function estimate.

    The trap: differentiating ``mean(f(x))`` with ``x`` drawn by ``sample`` gives the
    wrong gradient (the dependence of the draws on the parameters is invisible to
    autodiff).  This builds the DiCE surrogate

    ``mean(f * m + b * (1 - m))``, with ``m = exp(log_prob - stop_gradient(log_prob))``,

    whose value equals ``mean(f)`` (``m`` is exactly 1) and whose gradient is
    ``mean((f - b) * grad log_prob + grad f)``: the score-function estimate with
    baseline ``b``, plus the pathwise part where ``f`` itself depends on the
    parameters.  Its second derivative is the correct second-order estimate too
    (``mean(f * (grad log_prob grad log_prob^T + hess log_prob))`` for an ``f`` free of
    the parameters), so it can be differentiated twice on torch and JAX.

    Parameters
    ----------
    log_prob : array
        ``dist.log_prob(x)`` of the draws ``x`` (drawn without gradient), one entry per
        sample (sum over event dimensions first).  Its gradient flows to the
        distribution's parameters.
    f_values : array
        The cost per sample, broadcastable against ``log_prob``.
    baseline : array or float, optional
        A control variate subtracted from ``f`` in the gradient only; it gets no
        gradient (it is wrapped in ``stop_gradient``).  It must not depend on the
        sample it is paired with (use a leave-one-out mean, see
        :func:`score_function`).

    Returns
    -------
    array
        A 0-d array.  On torch call ``.backward()`` on it; on JAX take ``jax.grad`` of
        a function returning it; on NumPy/CuPy it is a primitive, reachable through
        :func:`diffsample.vjp`.

    Examples
    --------
    NumPy, through :func:`diffsample.vjp`: the gradient equals REINFORCE.

    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import surrogate
    >>> mu, sigma = np.array(1.0), np.array(1.0)
    >>> x = ds.Normal(mu, sigma).sample(ds.random.key(0), (200_000,))
    >>> loss, pullback = ds.vjp(lambda m, s: surrogate(ds.Normal(m, s).log_prob(x), x**2), mu, sigma)
    >>> d_mu, d_sigma = pullback(np.asarray(1.0))
    >>> round(float(loss), 1), round(float(d_mu), 1), round(float(d_sigma), 1)   # exact: 2, 2, 2
    (2.0, 2.0, 2.0)

    PyTorch (not run here): ``surrogate(dist.log_prob(x), f(x)).backward()`` fills
    ``param.grad``; ``torch.autograd.grad(..., create_graph=True)`` twice gives the
    second derivative.  JAX: ``jax.grad(lambda p: surrogate(...))(params)``.
    """
    for name, v in (("log_prob", log_prob), ("f_values", f_values)):
        if kind_of(v) is None:
            raise TypeError(f"{name} must be an array, got {type(v).__name__}")
    b = backend_of(log_prob, f_values, baseline)
    if baseline is None:
        base: Any = 0.0
    else:
        base = stop_gradient(baseline) if kind_of(baseline) is not None else float(baseline)
    try:
        b.xp.broadcast_arrays(log_prob, f_values)
    except Exception as e:
        raise ValueError(
            f"f_values of shape {tuple(f_values.shape)} does not broadcast against log_prob of shape "
            f"{tuple(log_prob.shape)}"
        ) from e
    return _dice_mean(log_prob, stop_gradient(log_prob), f_values, base)
