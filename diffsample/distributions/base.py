"""The common face of every distribution."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from .._lib.namespace import Backend, asarray, backend_of, compute_dtype, float_dtype
from .._lib.ops import stop_gradient
from .._lib.validate import broadcast_shape, broadcast_shapes, shape_of

__all__ = ["Distribution"]

_NAN = math.nan


class Distribution:
    """Base class: parameters of one backend, a batch shape, and the usual methods.

    Subclasses set ``_params`` (names of the array parameters) and implement
    ``rsample``, ``log_prob`` and the rest through primitives, so that every method
    has a hand-written VJP on every backend.

    ``sample`` is ``rsample`` with the gradient stopped; ``sample_shape`` is prepended
    to ``batch_shape`` in draws.
    """

    _params: tuple[str, ...] = ()
    has_rsample = True

    def __init__(self, validate_args: bool = True, **params: Any) -> None:
        for k, v in params.items():
            setattr(self, k, v)
        self._backend: Backend = backend_of(*params.values())
        self.batch_shape: tuple[int, ...] = broadcast_shapes(**params)
        self.event_shape: tuple[int, ...] = ()
        self.dtype = float_dtype(self._backend, *params.values())
        if validate_args:
            self._validate()

    def _validate(self) -> None:  # pragma: no cover - every subclass overrides
        pass

    def _extended_shape(self, sample_shape: Any) -> tuple[int, ...]:
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        try:
            sample_shape = tuple(int(s) for s in sample_shape)
        except TypeError:
            raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}") from None
        if any(s < 0 for s in sample_shape):
            raise ValueError(f"sample_shape must not be negative, got {sample_shape}")
        return sample_shape + self.batch_shape + self.event_shape

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        raise NotImplementedError

    def sample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Draw without gradient: ``rsample`` with the gradient stopped."""
        return stop_gradient(self.rsample(key, sample_shape))

    def __repr__(self) -> str:
        inner = ", ".join(f"{p}: shape {tuple(getattr(getattr(self, p), 'shape', ()))}" for p in self._params)
        return f"{type(self).__name__}({inner}, backend={self._backend.kind})"


# ------------------------------------------ helpers shared by the distributions
def _full(xp: Any, like: Any, value: float) -> Any:
    """An array of ``value`` with the shape, dtype and device of ``like``."""
    return xp.zeros_like(like) + value


def _narrow_bound(b: Backend, dtype: Any) -> float | None:
    """Largest finite value of ``dtype`` when it is narrower than its compute dtype.

    float16/bfloat16 results are computed in float32 and cast back; draws beyond the
    narrow type's range saturate at +-this bound instead of turning into +-inf.
    ``None`` for float32 and float64 (no clipping is done then).
    """
    if compute_dtype(b, dtype) == dtype:
        return None
    return float(b.xp.finfo(dtype).max)


def _clip_bound(xp: Any, x: Any, bound: float | None, lower: bool = True) -> Any:
    if bound is None:
        return x
    return xp.clip(x, min=-bound, max=bound) if lower else xp.clip(x, max=bound)


def _icdf_edges(xp: Any, p: Any, fn: Callable[[Any], Any], at0: float, at1: float) -> Any:
    """Apply the standard inverse CDF ``fn`` (valid on the open interval) to any ``p``.

    ``fn(p)`` for ``0 < p < 1``, ``at0``/``at1`` at the ends, NaN outside ``[0, 1]``
    and for NaN; ``fn`` itself only ever sees values in ``(0, 1)``, so no warning is
    raised on any backend.
    """
    inside = (p > 0) & (p < 1)
    ps = xp.where(inside, p, _full(xp, p, 0.5))
    out = fn(ps)
    out = xp.where(inside, out, _full(xp, out, _NAN))
    out = xp.where(p == 0, _full(xp, out, at0), out)
    return xp.where(p == 1, _full(xp, out, at1), out)


def _score(dist: Distribution, x: Any, partials: Callable[..., tuple], names: Sequence[str]) -> dict[str, Any]:
    """``{name: d log_prob(x) / d name}`` from the hand-written partials, per sample.

    ``partials(xp, x, *params)`` returns ``(d/dx, d/dparam_1, ...)`` (``None`` for a
    zero); each gradient is broadcast to ``broadcast(x.shape, batch_shape)`` and has
    the dtype ``log_prob(x)`` has.
    """
    params = [getattr(dist, n) for n in dist._params]
    b = backend_of(x, *params)
    xp = b.xp
    dt = float_dtype(b, x, *params)
    cdt = compute_dtype(b, dt)
    args = [asarray(b, v, cdt) for v in (x, *params)]
    shape = broadcast_shape(shape_of(x), dist.batch_shape)
    if shape is None:
        raise ValueError(f"x of shape {shape_of(x)} does not broadcast with batch shape {dist.batch_shape}")
    grads = partials(xp, *args)[1:]
    out = {}
    for name, d in zip(names, grads):
        if d is None:
            d = xp.zeros_like(args[0])
        if tuple(d.shape) != shape:
            d = xp.broadcast_to(d, shape)
        out[name] = d if d.dtype == dt else xp.astype(d, dt)
    return out


def _times(g: Any, parts: tuple) -> tuple:
    return tuple(None if d is None else g * d for d in parts)


def _nan_of_batch(dist: Distribution) -> Any:
    """NaN array of the distribution's batch shape, dtype and device (no gradient)."""
    b = dist._backend
    kw = {"device": b.device} if b.device is not None else {}
    return b.xp.full(dist.batch_shape, _NAN, dtype=dist.dtype, **kw)


