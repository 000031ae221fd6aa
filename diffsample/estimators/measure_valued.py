"""Measure-valued (weak-derivative) estimator for the Normal's loc and scale."""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from .._lib.namespace import Backend
from ..distributions.normal import Normal
from ..random.streams import draw
from .result import EstimatorResult, make_result
from ._util import check_f_values, check_n, prepare_params, reduce_per_sample, subkeys, to_dtype

__all__ = ["measure_valued"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _eye(b: Backend, d: int) -> Any:
    xp = b.xp
    e = xp.eye(d, device=b.device) if b.device is not None and b.kind != "jax" else xp.eye(d)
    return e == 1


def measure_valued(
    dist_fn: Callable[..., Any],
    params: Mapping[str, Any],
    f: Callable[[Any], Any],
    key: Any,
    n: int,
    *,
    coupling: bool = True,
) -> EstimatorResult:
    r"""Measure-valued (weak-derivative) estimate of ``grad E[f(x)]`` for ``x ~ Normal(loc, scale)``.

    The derivative of the Normal density with respect to a parameter is written as
    a constant times the difference of two probability densities, and the gradient
    becomes the difference of two expectations of ``f``, with no derivative of ``f``
    and no score:

    * loc: ``d/dloc E[f] = (E[f(loc + scale W)] - E[f(loc - scale W')]) / (scale sqrt(2 pi))``
      with ``W, W' ~ Weibull(shape 2, scale sqrt 2)`` (the Rayleigh distribution).
    * scale: ``d/dscale E[f] = (E[f(loc + scale M)] - E[f(loc + scale eps)]) / scale``
      with ``M`` double-sided Maxwell (density ``z^2 phi(z)``: the length of a 3-D
      standard normal vector with a random sign) and ``eps ~ N(0, 1)``.

    With ``coupling=True`` (common random numbers) the two halves share their noise:
    ``W' = W``, and ``eps = M U`` with ``U ~ Uniform(0, 1)``, which is again a
    standard normal.  That keeps the two evaluations of ``f`` close and the variance
    low; both versions are unbiased.

    Parameters
    ----------
    dist_fn : callable
        ``dist_fn(**params)`` must return a :class:`diffsample.Normal` whose ``loc``
        and ``scale`` are the arrays of ``params`` themselves (for example
        ``lambda loc, scale: ds.Normal(loc, scale)``); the gradient is taken with
        respect to them.
    params : dict of str to array
        The Normal's parameters, by name.
    f : callable
        ``f(x)`` for ``x`` of shape ``(m,) + batch_shape``.  It may return one value per
        sample, shape ``(m,)``, or, when entry ``[i, j]`` depends on ``x[i, j]`` only,
        shape ``(m,) + batch_shape``.  In the first case, with a non-scalar batch, each
        coordinate is perturbed in turn (``prod(batch_shape)`` evaluations per sample
        and half).  ``f`` is called on the ``n`` base draws and all perturbed draws
        stacked along the first axis (so ``m`` is a multiple of ``n``).
    key : key array, int or generator
        Source of the noise.
    n : int
        Number of samples.
    coupling : bool
        Common random numbers for the positive and negative halves (default True).

    Returns
    -------
    EstimatorResult
        ``value`` is the mean of ``f`` over the base Normal draws.

    Raises
    ------
    TypeError
        ``dist_fn`` does not build a Normal.
    ValueError
        A parameter is neither the Normal's ``loc`` nor its ``scale``; bad ``n``;
        ``f`` returning a wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import measure_valued
    >>> r = measure_valued(lambda loc, scale: ds.Normal(loc, scale),
    ...                    {"loc": np.array(1.0), "scale": np.array(0.5)},
    ...                    lambda x: x**2, ds.random.key(0), 100_000)
    >>> [round(float(r.grads[k]), 2) for k in ("loc", "scale")]   # exact: 2 mu, 2 sigma
    [2.0, 1.0]
    """
    n = check_n(n, 1)
    if not isinstance(coupling, bool):
        raise TypeError(f"coupling must be a bool, got {coupling!r}")
    b, P, out_dt, cdt = prepare_params(params)
    xp = b.xp
    dist = dist_fn(**P)
    if not isinstance(dist, Normal):
        raise TypeError(
            f"measure_valued supports the Normal distribution only; dist_fn built {type(dist).__name__}"
        )
    roles: dict[str, list[str]] = {}
    for k, v in P.items():
        r = [role for role in ("loc", "scale") if getattr(dist, role) is v]
        if not r:
            raise ValueError(
                f"parameter {k!r} is neither the Normal's loc nor its scale: dist_fn must pass the "
                "parameters through unchanged (e.g. lambda loc, scale: ds.Normal(loc, scale))"
            )
        roles[k] = r
    batch = tuple(dist.batch_shape)
    shape = (n,) + batch
    loc = to_dtype(xp, dist.loc, cdt)
    scale = to_dtype(xp, dist.scale, cdt)

    k_w, k_w2, k_m, k_s, k_e = subkeys(key, 5)

    def uniform(k: Any, shp: tuple) -> Any:
        return to_dtype(xp, draw("uniform", k, shp, b, cdt), cdt)

    w_pos = xp.sqrt(-2.0 * xp.log(uniform(k_w, shape)))  # Rayleigh = Weibull(2, sqrt 2)
    w_neg = w_pos if coupling else xp.sqrt(-2.0 * xp.log(uniform(k_w2, shape)))
    g3 = to_dtype(xp, draw("normal", k_m, (3,) + shape, b, cdt), cdt)
    radius = xp.sqrt(xp.sum(g3 * g3, axis=0))
    maxwell = xp.where(uniform(k_s, shape) < 0.5, -radius, radius)
    if coupling:
        eps = maxwell * uniform(k_e, shape)
    else:
        eps = to_dtype(xp, draw("normal", k_e, shape, b, cdt), cdt)

    x0 = loc + scale * eps  # the base Normal draws; also the negative half for the scale
    x_lp = loc + scale * w_pos
    x_ln = loc - scale * w_neg
    x_sp = loc + scale * maxwell
    fall = f(xp.concat([x0, x_lp, x_ln, x_sp], axis=0))
    fall = check_f_values(b, fall, 4 * n, batch, cdt)
    d = math.prod(batch)
    value = xp.mean(fall[:n, ...], axis=0)
    if fall.ndim > 1 or d == 1:
        # One value per sample and batch entry (entry j depends on x[..., j] only).
        if fall.ndim - 1 < len(batch):
            fall = xp.reshape(fall, (4 * n,) + (1,) * (len(batch) - (fall.ndim - 1)) + tuple(fall.shape[1:]))
        f0, f_lp, f_ln, f_sp = (fall[i * n : (i + 1) * n, ...] for i in range(4))
    else:
        # One value per sample over a non-scalar batch: perturb one coordinate at a time,
        # the others staying at the base draw.
        eye = _eye(b, d)
        base = xp.reshape(x0, (n, 1, d))

        def one_at_a_time(xs: Any) -> Any:
            return xp.reshape(xp.where(eye, xp.reshape(xs, (n, d, 1)), base), (n * d,) + batch)

        stacked = xp.concat([one_at_a_time(x_lp), one_at_a_time(x_ln), one_at_a_time(x_sp)], axis=0)
        fp = check_f_values(b, f(stacked), 3 * n * d, (), cdt)
        f_lp, f_ln, f_sp = (xp.reshape(fp[i * n * d : (i + 1) * n * d], shape) for i in range(3))
        f0 = xp.reshape(fall[:n], (n,) + (1,) * len(batch))

    d_loc = (f_lp - f_ln) / (scale * _SQRT_2PI)
    d_scale = (f_sp - f0) / scale
    per: dict[str, Any] = {}
    for k, rs in roles.items():
        g = None
        for role in rs:
            part = xp.broadcast_to(d_loc if role == "loc" else d_scale, shape)
            g = part if g is None else g + part
        per[k] = reduce_per_sample(xp, g, tuple(P[k].shape))
    if out_dt != cdt:
        per = {k: xp.astype(v, out_dt) for k, v in per.items()}
        value = xp.astype(value, out_dt)
    return make_result(b.kind, value, per)
