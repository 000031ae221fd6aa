"""Pathwise (reparameterization) estimator, and Gumbel-Softmax / straight-through as estimators."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .._lib.namespace import Backend, asarray, kind_of
from .._lib.ops import stop_gradient
from ..autodiff import vjp
from ..relax.gumbel import gumbel_softmax
from .result import EstimatorResult, make_result
from ._util import check_f_values, check_n, per_sample_params, prepare_params, reduce_per_sample, to_dtype, unvalidated

__all__ = ["pathwise", "gumbel_softmax_estimator"]

_AUTODIFF = ("torch", "jax")


def _pathwise_core(
    b: Backend,
    names: list[str],
    p_shapes: dict[str, tuple[int, ...]],
    bp: list[Any],
    sampler: Callable[..., Any],
    f: Callable[[Any], Any],
    grad_f: Callable[[Any], Any] | None,
    n: int,
    batch: tuple[int, ...],
    cdt: Any,
    out_dt: Any,
) -> EstimatorResult:
    xp = b.xp
    if grad_f is None:
        if b.kind not in _AUTODIFF:
            raise ValueError(
                f"grad_f is required on {b.kind}: there is no autodiff to differentiate f, so pass "
                "grad_f(x) -> df/dx (the derivative of each sample's f with respect to its own draw, "
                "shaped like x); the library chains it through the sampler's hand-written VJP"
            )

        def fx(*ps: Any) -> Any:
            return check_f_values(b, f(sampler(*ps)), n, batch, cdt)

        fv, pullback = vjp(fx, *bp)
        cot = xp.ones_like(fv)
    else:
        x, pullback = vjp(sampler, *bp)
        fv = check_f_values(b, f(stop_gradient(x)), n, batch, cdt)
        cot = grad_f(stop_gradient(x))
        if kind_of(cot) is None or tuple(cot.shape) != tuple(x.shape):
            raise ValueError(
                f"grad_f must return an array shaped like x {tuple(x.shape)}, got "
                f"{tuple(getattr(cot, 'shape', ())) if kind_of(cot) is not None else type(cot).__name__}"
            )
        cot = to_dtype(xp, stop_gradient(cot), x.dtype)
    grads = pullback(cot)
    per = {k: stop_gradient(reduce_per_sample(xp, g, p_shapes[k])) for k, g in zip(names, grads)}
    value = xp.mean(stop_gradient(fv), axis=0)
    if out_dt != cdt:
        per = {k: xp.astype(v, out_dt) for k, v in per.items()}
        value = xp.astype(value, out_dt)
    return make_result(b.kind, value, per)


def pathwise(
    dist_fn: Callable[..., Any],
    params: Mapping[str, Any],
    f: Callable[[Any], Any],
    key: Any,
    n: int,
    *,
    grad_f: Callable[[Any], Any] | None = None,
) -> EstimatorResult:
    """Pathwise (reparameterization) estimate of ``grad E_{x ~ p_theta}[f(x)]``.

    Draws ``x_i = g(theta, eps_i)`` with ``rsample`` and averages
    ``df/dx(x_i) * dx_i/dtheta``.  The second factor is the sampler's hand-written VJP,
    evaluated with the parameters broadcast to the sample shape so that every sample
    keeps its own contribution.  ``f`` must be differentiable and act on each sample
    separately (row ``i`` of ``f(x)`` depends on ``x[i]`` only).

    * torch / JAX: ``df/dx`` comes from the framework's autodiff of ``f``
      (``torch.func.vjp``, ``jax.vjp``; works under ``jax.jit``).
    * NumPy / CuPy / array_api_strict: there is no autodiff, so pass ``grad_f``.

    Parameters
    ----------
    dist_fn : callable
        ``dist_fn(**params)`` returns a distribution with ``rsample``: a class such as
        ``ds.Normal`` (the per-sample parameter copies are then not validated again)
        or any function of the parameters.
    params : dict of str to array
        The parameters, by name.
    f : callable
        ``f(x)`` for draws of shape ``(n,) + batch_shape + event_shape``; one value
        per sample, shape ``(n,)``, or ``(n,) + batch_shape`` for a batch of
        independent problems (see :func:`score_function`).
    key : key array, int or generator
        Source of the noise.
    n : int
        Number of samples (a Python int under ``jax.jit``).
    grad_f : callable, optional
        ``grad_f(x)`` -> array shaped like ``x``: the derivative of each sample's
        ``f`` value with respect to that sample's draw (for ``f(x) = sum(x**2, -1)``
        it is ``2 * x``).  Required on backends without autodiff; optional on
        torch/JAX (it then replaces autodiff of ``f``).

    Returns
    -------
    EstimatorResult

    Raises
    ------
    ValueError
        ``grad_f`` missing on NumPy/CuPy/array_api_strict; bad ``n``; ``f`` or
        ``grad_f`` returning a wrong shape.
    TypeError
        The distribution has no reparameterized sampler.

    Examples
    --------
    NumPy, with the derivative of ``f(x) = x**2`` supplied by hand:

    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import pathwise
    >>> r = pathwise(lambda loc, scale: ds.Normal(loc, scale),
    ...              {"loc": np.array(1.0), "scale": np.array(0.5)},
    ...              lambda x: x**2, ds.random.key(0), 100_000, grad_f=lambda x: 2 * x)
    >>> [round(float(r.grads[k]), 2) for k in ("loc", "scale")]   # exact: 2 mu, 2 sigma
    [2.0, 1.0]

    On torch or JAX leave out ``grad_f``: ``pathwise(..., lambda x: x**2, key, n)``.
    """
    n = check_n(n, 1)
    b, P, out_dt, cdt = prepare_params(params)
    dist = dist_fn(**P)
    if not getattr(dist, "has_rsample", False):
        raise TypeError(f"{type(dist).__name__} has no reparameterized sampler (rsample); use score_function")
    batch = tuple(dist.batch_shape)
    names = list(P)
    bp = per_sample_params(b, P, batch, n)

    per_sample_dist = unvalidated(dist_fn)

    def sampler(*ps: Any) -> Any:
        return per_sample_dist(**dict(zip(names, ps))).rsample(key)

    shapes = {k: tuple(v.shape) for k, v in P.items()}
    return _pathwise_core(b, names, shapes, bp, sampler, f, grad_f, n, batch, cdt, out_dt)


def gumbel_softmax_estimator(
    logits: Any,
    f: Callable[[Any], Any],
    key: Any,
    n: int,
    *,
    tau: float = 1.0,
    hard: bool = False,
    axis: int = -1,
    grad_f: Callable[[Any], Any] | None = None,
) -> EstimatorResult:
    """Gumbel-Softmax (Concrete) or straight-through gradient of ``E[f(one_hot(z))]``, ``z ~ Categorical(softmax(logits))``.

    Each sample is ``y_i = gumbel_softmax(logits, key, tau, hard)`` (see
    :func:`diffsample.gumbel_softmax`) and the gradient is pathwise through ``y_i``:

    * ``hard=False``: ``f`` is evaluated at the relaxed (soft) one-hot sample.  The
      estimate is the exact gradient of the *relaxed* objective ``E[f(y)]``, a biased
      estimate of the discrete one whose bias shrinks with ``tau``, while its variance
      grows.
    * ``hard=True`` (straight-through Gumbel): ``f`` sees the exact one-hot sample (so
      ``value`` is an unbiased estimate of the discrete objective) and the gradient is
      that of the soft sample: biased, but often of low variance.

    Parameters
    ----------
    logits : array
        Unnormalized log-probabilities, categories along ``axis``.
    f : callable
        ``f(y)`` for ``y`` of shape ``(n,) + logits.shape``; one value per sample
        (shape ``(n,)`` or ``(n,) + batch`` with batch = ``logits.shape`` without ``axis``).
    key : key array, int or generator
        Source of the Gumbel noise.
    n : int
        Number of samples.
    tau : float
        Temperature, > 0.
    hard : bool
        Straight-through: one-hot forward, soft gradient.
    axis : int
        The category axis of ``logits``.
    grad_f : callable, optional
        ``grad_f(y)`` -> array shaped like ``y``; required on NumPy/CuPy/array_api_strict.

    Returns
    -------
    EstimatorResult
        ``grads["logits"]`` in the shape of ``logits``.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import gumbel_softmax_estimator
    >>> w = np.array([1.0, 2.0, 4.0])
    >>> r = gumbel_softmax_estimator(np.zeros(3), lambda y: y @ w, ds.random.key(0), 1000,
    ...                              tau=0.5, hard=True, grad_f=lambda y: np.broadcast_to(w, y.shape))
    >>> r.grads["logits"].shape, r.per_sample["logits"].shape
    ((3,), (1000, 3))
    """
    n = check_n(n, 1)
    if kind_of(logits) is None:
        raise TypeError(f"logits must be an array, got {type(logits).__name__}")
    if not isinstance(hard, bool):
        raise TypeError(f"hard must be a bool, got {hard!r}")
    b, P, out_dt, cdt = prepare_params({"logits": logits})
    lg = P["logits"]
    nd = lg.ndim
    if nd == 0 or not -nd <= axis < nd:
        raise ValueError(f"axis {axis} is out of range for logits of shape {tuple(lg.shape)}")
    axis %= nd
    if kind_of(tau) is not None:
        tau = stop_gradient(asarray(b, tau, cdt))
    batch = tuple(lg.shape[:axis] + lg.shape[axis + 1 :])
    bl = b.xp.broadcast_to(lg, (n,) + tuple(lg.shape))

    def sampler(l: Any) -> Any:
        return gumbel_softmax(l, key, tau=tau, hard=hard, axis=axis + 1)

    # f's result aligns with the batch axes (the category axis is consumed by f).
    return _pathwise_core(b, ["logits"], {"logits": tuple(lg.shape)}, [bl], sampler, f, grad_f, n, batch, cdt, out_dt)

