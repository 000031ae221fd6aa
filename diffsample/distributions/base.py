"""The common face of every distribution."""

from __future__ import annotations

from typing import Any

from .._lib.namespace import Backend, backend_of, float_dtype
from .._lib.ops import stop_gradient
from .._lib.validate import broadcast_shapes

__all__ = ["Distribution"]


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
