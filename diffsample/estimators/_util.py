"""Shared plumbing of the estimators: parameters, per-sample broadcasting, keys, shapes."""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Mapping
from typing import Any, Callable

from .._lib.namespace import Backend, asarray, backend_of, compute_dtype, float_dtype, kind_of
from .._lib.ops import stop_gradient
from ..random.keys import resolve_source, split

__all__ = [
    "check_n",
    "prepare_params",
    "per_sample_params",
    "reduce_per_sample",
    "align",
    "pad_trailing",
    "f_values",
    "subkeys",
    "to_dtype",
]


def check_n(n: Any, minimum: int = 1, name: str = "n") -> int:
    """``n`` as a Python int ``>= minimum``, or ``ValueError`` naming it."""
    if isinstance(n, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    try:
        m = operator.index(n)
    except TypeError:
        if isinstance(n, float) and n.is_integer():
            m = int(n)
        else:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}") from None
    if m < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return m


def prepare_params(params: Any, name: str = "params") -> tuple[Backend, dict[str, Any], Any, Any]:
    """Validate the parameter dict; return (backend, arrays in compute dtype, out dtype, compute dtype).

    The arrays carry no gradient: estimators return gradient *estimates*, they are not
    themselves differentiated.
    """
    if not isinstance(params, Mapping) or not params:
        raise ValueError(f"{name} must be a non-empty dict of parameter name -> array, got {params!r:.80}")
    for k, v in params.items():
        if not isinstance(k, str):
            raise ValueError(f"{name} keys must be str (parameter names), got {k!r}")
        if kind_of(v) is None and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
            raise ValueError(f"{name}[{k!r}] must be an array or a real number, got {type(v).__name__}")
    b = backend_of(*params.values())
    out_dt = float_dtype(b, *params.values())
    cdt = compute_dtype(b, out_dt)
    arrays = {k: stop_gradient(asarray(b, v, cdt)) for k, v in params.items()}
    return b, arrays, out_dt, cdt


def _bshape(a: tuple[int, ...], c: tuple[int, ...]) -> tuple[int, ...] | None:
    n = max(len(a), len(c))
    a = (1,) * (n - len(a)) + a
    c = (1,) * (n - len(c)) + c
    out = []
    for x, y in zip(a, c):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(out)


def full_param_shape(p_shape: tuple[int, ...], batch: tuple[int, ...], name: str) -> tuple[int, ...]:
    """The shape parameter ``name`` takes once broadcast against the batch.

    Parameters align with ``batch_shape`` from the right; dimensions beyond the batch
    (e.g. the categories of ``logits``) extend it to the right.
    """
    extra = max(0, len(p_shape) - len(batch))
    out = _bshape(p_shape, batch + (1,) * extra)
    if out is None:
        raise ValueError(
            f"parameter {name!r} of shape {p_shape} does not line up with the distribution's "
            f"batch shape {batch} (parameters must align with the batch shape from the right)"
        )
    return out


def per_sample_params(b: Backend, arrays: dict[str, Any], batch: tuple[int, ...], n: int) -> list[Any]:
    """Each parameter broadcast to ``(n,) + full shape``: one copy per sample, no reductions."""
    xp = b.xp
    return [xp.broadcast_to(v, (n,) + full_param_shape(tuple(v.shape), batch, k)) for k, v in arrays.items()]


def reduce_per_sample(xp: Any, g: Any, p_shape: tuple[int, ...]) -> Any:
    """Sum a per-sample, per-element cotangent ``(n,) + full`` back to ``(n,) + p_shape``."""
    n = g.shape[0]
    full = tuple(g.shape[1:])
    lead = len(full) - len(p_shape)
    axes = list(range(1, 1 + lead))
    axes += [1 + lead + i for i, (a, c) in enumerate(zip(p_shape, full[lead:])) if a == 1 and c != 1]
    if axes:
        g = xp.sum(g, axis=tuple(axes), keepdims=True)
    if tuple(g.shape) != (n,) + tuple(p_shape):
        g = xp.reshape(g, (n,) + tuple(p_shape))
    return g


def align(xp: Any, a: Any, ndim: int) -> Any:
    """``a`` of shape ``(n,) + s`` reshaped to ``(n,) + (1,)*k + s`` with ``ndim`` trailing dims."""
    k = ndim - (a.ndim - 1)
    if k <= 0:
        return a
    return xp.reshape(a, (a.shape[0],) + (1,) * k + tuple(a.shape[1:]))


def pad_trailing(xp: Any, a: Any, k: int) -> Any:
    """Append ``k`` axes of length 1."""
    if k <= 0:
        return a
    return xp.reshape(a, tuple(a.shape) + (1,) * k)


def f_values(b: Backend, f: Callable[[Any], Any], x: Any, n: int, batch: tuple[int, ...], dtype: Any) -> Any:
    """Call ``f`` on the draws and check its result: shape ``(n,) + s``, ``s`` broadcastable to the batch."""
    fv = f(x)
    return check_f_values(b, fv, n, batch, dtype)


def check_f_values(b: Backend, fv: Any, n: int, batch: tuple[int, ...], dtype: Any, name: str = "f") -> Any:
    if kind_of(fv) is None:
        raise ValueError(f"{name} must return an array of {b.kind}, got {type(fv).__name__}")
    shape = tuple(fv.shape)
    if len(shape) < 1 or shape[0] != n or len(shape) - 1 > len(batch) or _bshape(shape[1:], batch) != batch:
        raise ValueError(
            f"{name} must return one value per sample: shape ({n},) or ({n},) + a shape that broadcasts "
            f"to the batch shape {batch}; got shape {shape}"
        )
    return fv if fv.dtype == dtype else b.xp.astype(fv, dtype)


def unvalidated(dist_fn: Callable[..., Any]) -> Callable[..., Any]:
    """``dist_fn`` for the per-sample copies of already-validated parameters.

    Where ``dist_fn`` takes ``validate_args`` (a distribution class passed directly,
    e.g. ``ds.Normal``), it is called with ``validate_args=False``: the parameters
    were checked once, unbroadcast, and re-checking ``n`` copies would cost a pass
    over every sample.
    """
    try:
        params = inspect.signature(dist_fn).parameters
    except (TypeError, ValueError):
        return dist_fn
    if "validate_args" in params:
        return functools.partial(dist_fn, validate_args=False)
    return dist_fn


def subkeys(key: Any, k: int) -> list[Any]:
    """``k`` independent keys from ``key`` (a stateful generator is simply reused)."""
    src = resolve_source(key)
    if src.kind == "generator":
        return [key] * k
    ks = split(src.value, k)
    return [ks[i] for i in range(k)]


def to_dtype(xp: Any, a: Any, dtype: Any) -> Any:
    return a if a.dtype == dtype else xp.astype(a, dtype)
