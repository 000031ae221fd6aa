"""Argument checks shared by every public function (DESIGN §3).

Checks read array values only when the values are concrete: under ``jax.jit``,
``torch.func`` transforms or ``torch.compile`` they are skipped, and invalid
parameters then propagate as NaN instead of raising.
"""

from __future__ import annotations

from typing import Any

from .namespace import (
    _TYPE_CACHE,
    Backend,
    _is_floating,
    backend_of,
    float_dtype,
    is_concrete,
    kind_of,
    scalar_value,
    torch_values_readable,
)

__all__ = ["resolve_params", "broadcast_shape", "broadcast_shapes", "check_positive", "check_not_nan", "check_finite", "shape_of"]


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if kind_of(x) is not None else ()


def broadcast_shapes(**named: Any) -> tuple[int, ...]:
    """Broadcast the shapes of the named parameters, or raise ``ValueError`` naming them."""
    first = None
    shapes = []
    same = True
    for v in named.values():
        s = tuple(v.shape) if kind_of(v) is not None else ()
        if first is None:
            first = s
        elif s != first:
            same = False
        shapes.append(s)
    if same:
        return first if first is not None else ()
    out = broadcast_shape(*shapes)
    if out is None:
        desc = ", ".join(f"{k} {s}" for k, s in zip(named, shapes))
        raise ValueError(f"parameter shapes do not broadcast: {desc}")
    return out


def resolve_params(names: tuple, vals: tuple) -> tuple[Backend, tuple[int, ...], Any]:
    """``(backend_of, broadcast_shapes, float_dtype)`` of a distribution's parameters
    (``names``: their names, for messages; ``vals``: their values).

    One pass in the common case (NumPy or torch arrays of one type, shape, floating
    dtype and device); otherwise the three general functions.
    """
    if len(vals) == 2:
        # Two parameters (loc/scale, low/high), the most common call: straight-line
        # for two torch tensors of one dtype, shape and device, or two NumPy arrays.
        first, second = vals
        t = type(first)
        hit = _TYPE_CACHE.get(t)
        if hit is not None and type(second) is t:
            if hit[0] == "torch":
                # Each tensor attribute read costs between kernels: CPU tensors are told by
                # is_cpu (no device object to build, compare and hash), 0-d ones by ndim.
                # (torch.compile does not fold is_cpu as it folds device: where it
                # compiles this frame alone, the reads make one more, empty graph.)
                dt = first.dtype
                if second.dtype is dt:  # torch dtypes are singletons
                    if first.is_cpu and second.is_cpu:
                        b = _TORCH_CPU.get(dt)
                    else:
                        dev = first.device
                        b = _SAME.get((dt, dev)) if second.device == dev else None
                    if b is not None:
                        if first.ndim == 0 and second.ndim == 0:
                            return b, (), dt
                        shape = first.shape
                        if second.shape == shape:
                            return b, tuple(shape), dt
            elif hit[0] == "numpy":
                dt, shape = first.dtype, first.shape
                if second.dtype == dt and second.shape == shape:
                    b = _SAME.get((dt, None))
                    if b is not None:
                        return b, shape, dt
    else:
        first = vals[0] if vals else None
        t = type(first)
        hit = _TYPE_CACHE.get(t)
    if hit is not None:
        kind = hit[0]
        if kind == "torch":
            shape, dt, dev = first.shape, first.dtype, first.device
            for v in vals[1:]:
                if type(v) is not t or v.dtype != dt or v.shape != shape or v.device != dev:
                    break
            else:
                b = _SAME.get((dt, dev))
                if b is not None:
                    return b, tuple(shape), dt
        elif kind == "numpy":
            shape, dt = first.shape, first.dtype
            for v in vals[1:]:
                if type(v) is not t or v.dtype != dt or v.shape != shape:
                    break
            else:
                b = _SAME.get((dt, None))
                if b is not None:
                    return b, shape, dt
    named = dict(zip(names, vals))
    b = backend_of(*vals)
    shape = broadcast_shapes(**named)
    dt = float_dtype(b, *vals)
    if hit is not None and hit[0] in ("numpy", "torch") and b.kind == hit[0] and _is_floating(b.xp, dt):
        try:
            _SAME[(dt, b.device if b.kind == "torch" else None)] = b
            if b.kind == "torch" and b.device.type == "cpu":
                _TORCH_CPU[dt] = b
        except TypeError:  # an unhashable device object: just not cached
            pass
    return b, shape, dt


# (floating dtype, torch device or None for NumPy) -> Backend, for resolve_params' one pass;
# _TORCH_CPU: floating torch dtype -> the CPU Backend, for two CPU tensors.
_SAME: dict[tuple, Backend] = {}
_TORCH_CPU: dict[Any, Backend] = {}


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
    hit = _TYPE_CACHE.get(type(x))
    k = hit[0] if hit is not None else kind_of(x)
    if k is None:
        v = float(x)
        if not ok_fn(None, v):
            raise ValueError(f"{name} must be {what}, got {x!r}")
        return
    if k != "numpy" and not is_concrete(x, k):
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
    v = scalar_value(x)
    if v is None:
        _check(b, name, x, lambda b, v: v == v, "a number (not NaN)")
    elif v != v:
        raise ValueError(f"{name} must be a number (not NaN), got {v!r}")


def check_finite(b: Backend, name: str, x: Any) -> None:
    """``x`` finite (NaN fails too)."""
    v = scalar_value(x)
    if v is None:
        _check(b, name, x, lambda b, v: b.xp.isfinite(v) if b is not None else abs(v) < _INF, "finite")
    elif not abs(v) < _INF:
        raise ValueError(f"{name} must be finite, got {v!r}")


def check_positive(b: Backend, name: str, x: Any) -> None:
    """``x > 0`` and finite (NaN fails too)."""
    v = scalar_value(x)
    if v is None:
        _check(b, name, x, lambda b, v: (v > 0) & (v < _INF) if b is not None else 0 < v < _INF, "positive and finite")
    elif not 0 < v < _INF:
        raise ValueError(f"{name} must be positive and finite, got {v!r}")


def loc_scale_ok(loc: Any, scale: Any) -> bool:
    """The location-scale checks' fast lane, for one-element ``loc`` and ``scale``
    (the caller knows the batch shape is ``()``): True when they are NumPy arrays or
    torch tensors of one type whose values can be read (as for
    :func:`~diffsample._lib.namespace.scalar_value`), ``loc`` finite and ``scale``
    positive and finite.  False says nothing more: then run ``check_finite`` and
    ``check_positive``, which name the parameter and the bad value.
    """
    hit = _TYPE_CACHE.get(type(loc))
    if hit is None or type(scale) is not type(loc):
        return False
    kind = hit[0]
    if kind == "torch" and not torch_values_readable():
        return False
    if kind != "torch" and kind != "numpy":
        return False
    try:
        return abs(loc.item()) < _INF and 0 < scale.item() < _INF  # check_finite's and check_positive's rules
    except Exception:  # no values to read (torch meta tensors), or more than one
        return False
