"""Argument checks shared by every public function (DESIGN §3).

Checks read array values only when the values are concrete: under ``jax.jit``,
``torch.func`` transforms or ``torch.compile`` they are skipped, and invalid
parameters then propagate as NaN instead of raising.
"""

from __future__ import annotations

from typing import Any

from .namespace import Backend, is_concrete, kind_of

__all__ = ["broadcast_shapes", "check_positive", "check_not_nan", "check_finite", "shape_of"]


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if kind_of(x) is not None else ()


def broadcast_shapes(**named: Any) -> tuple[int, ...]:
    """Broadcast the shapes of the named parameters, or raise ``ValueError`` naming them."""
    out: list[int] = []
    for name, v in named.items():
        s = list(shape_of(v))
        n = max(len(out), len(s))
        a = [1] * (n - len(out)) + out
        c = [1] * (n - len(s)) + s
        res = []
        for x, y in zip(a, c):
            if x != y and x != 1 and y != 1:
                shapes = ", ".join(f"{k} {shape_of(w)}" for k, w in named.items())
                raise ValueError(f"parameter shapes do not broadcast: {shapes}")
            res.append(max(x, y) if 1 in (x, y) else x)
        out = res
    return tuple(out)


def _first_bad(b: Backend, x: Any, bad: Any) -> Any:
    xp = b.xp
    flat = xp.reshape(x, (-1,))
    mask = xp.reshape(bad, (-1,))
    idx = int(xp.argmax(xp.astype(mask, xp.int32)))
    return float(flat[idx])


def _check(b: Backend, name: str, x: Any, bad_fn: Any, what: str) -> None:
    if kind_of(x) is None:
        v = float(x)
        if bool(bad_fn(b, v)):
            raise ValueError(f"{name} must be {what}, got {x!r}")
        return
    if not is_concrete(x):
        return
    bad = bad_fn(b, x)
    if bool(b.xp.any(bad)):
        raise ValueError(f"{name} must be {what}, got {_first_bad(b, x, bad)!r} (in an array of shape {tuple(x.shape)})")


def _isnan(b: Backend, v: Any) -> Any:
    if isinstance(v, float):
        return v != v
    return b.xp.isnan(v)


def check_not_nan(b: Backend, name: str, x: Any) -> None:
    _check(b, name, x, _isnan, "a number (not NaN)")


def check_finite(b: Backend, name: str, x: Any) -> None:
    def bad(b: Backend, v: Any) -> Any:
        if isinstance(v, float):
            return v != v or v in (float("inf"), float("-inf"))
        return ~b.xp.isfinite(v)

    _check(b, name, x, bad, "finite")


def check_positive(b: Backend, name: str, x: Any) -> None:
    """``x > 0`` and finite (NaN fails too)."""

    def bad(b: Backend, v: Any) -> Any:
        if isinstance(v, float):
            return not (0 < v < float("inf"))
        return ~((v > 0) & b.xp.isfinite(v))

    _check(b, name, x, bad, "positive and finite")
