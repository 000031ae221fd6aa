"""Argument checks shared by every public function (DESIGN §3).

Checks read array values only when the values are concrete: under ``jax.jit``,
``torch.func`` transforms or ``torch.compile`` they are skipped, and invalid
parameters then propagate as NaN instead of raising.
"""

from __future__ import annotations

from typing import Any

from .namespace import Backend, is_concrete, kind_of

__all__ = ["broadcast_shape", "broadcast_shapes", "check_positive", "check_not_nan", "check_finite", "shape_of"]


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if kind_of(x) is not None else ()


def broadcast_shapes(**named: Any) -> tuple[int, ...]:
    """Broadcast the shapes of the named parameters, or raise ``ValueError`` naming them."""
    shapes = [shape_of(v) for v in named.values()]
    first = shapes[0] if shapes else ()
    if all(s == first for s in shapes):
        return first
    out = broadcast_shape(*shapes)
    if out is None:
        desc = ", ".join(f"{k} {s}" for k, s in zip(named, shapes))
        raise ValueError(f"parameter shapes do not broadcast: {desc}")
    return out


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast of ``shapes`` (tuples of ints), or ``None`` if they do not broadcast."""
    out: list[int] = []
    for s in shapes:
        n = max(len(out), len(s))
        a = [1] * (n - len(out)) + out
        c = [1] * (n - len(s)) + list(s)
        res = []
        for x, y in zip(a, c):
            if x != y and x != 1 and y != 1:
                return None
            res.append(max(x, y) if 1 in (x, y) else x)
        out = res
    return tuple(out)


def _first_bad(b: Backend, x: Any, ok: Any) -> Any:
    xp = b.xp
    flat = xp.reshape(x, (-1,))
    bad = xp.reshape(~ok, (-1,))
    idx = int(xp.argmax(xp.astype(bad, xp.int32)))
    return float(flat[idx])


def _check(b: Backend, name: str, x: Any, ok_fn: Any, what: str) -> None:
    """Raise ``ValueError`` unless ``ok_fn`` holds for every value of ``x``.

    ``ok_fn(None, v)`` tests a Python float; ``ok_fn(b, x)`` returns a boolean array.
    """
    k = kind_of(x)
    if k is None:
        v = float(x)
        if not ok_fn(None, v):
            raise ValueError(f"{name} must be {what}, got {x!r}")
        return
    if not is_concrete(x):
        return
    if x.ndim == 0:
        # One value: reading it is cheaper than array operations on every backend
        # (torch's item() does not warn about requires_grad as float() does).
        v = float(x.item() if k == "torch" else x)
        if not ok_fn(None, v):
            raise ValueError(f"{name} must be {what}, got {v!r}")
        return
    ok = ok_fn(b, x)
    if not is_concrete(ok):  # e.g. a constant captured inside jax.jit
        return
    if not bool(ok.all() if k in ("numpy", "torch") else b.xp.all(ok)):
        raise ValueError(f"{name} must be {what}, got {_first_bad(b, x, ok)!r} (in an array of shape {tuple(x.shape)})")


_INF = float("inf")


def check_not_nan(b: Backend, name: str, x: Any) -> None:
    """No NaN in ``x``."""
    _check(b, name, x, lambda b, v: v == v, "a number (not NaN)")


def check_finite(b: Backend, name: str, x: Any) -> None:
    """``x`` finite (NaN fails too)."""
    _check(b, name, x, lambda b, v: b.xp.isfinite(v) if b is not None else abs(v) < _INF, "finite")


def check_positive(b: Backend, name: str, x: Any) -> None:
    """``x > 0`` and finite (NaN fails too)."""
    _check(b, name, x, lambda b, v: (v > 0) & (v < _INF) if b is not None else 0 < v < _INF, "positive and finite")
