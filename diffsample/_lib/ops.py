"""Per-backend fast paths for a few array operations, each with an array-API fallback.

Every backend special case for an operation lives here, in one function per
operation; the rest of the library calls these and stays backend-neutral.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any, Callable, Iterator

from .namespace import _TYPE_CACHE, backend_of, kind_of, namespace_of

__all__ = ["stop_gradient", "scaled_logits", "softmax", "softmax_vjp", "one_hot_argmax", "sum_to_shape", "inplace", "quiet", "quiet_numpy"]


@contextlib.contextmanager
def quiet_numpy() -> Iterator[None]:
    """NumPy floating-point warnings off inside the block (NumPy is not imported for it).

    Untaken lanes of ``xp.where`` may overflow or divide by zero on the way; where every
    special value is chosen explicitly, the library stays silent, like ``scipy.special``.
    Only NumPy (and array_api_strict, which runs on it) warns; if NumPy was never
    imported there are no NumPy arrays to warn about.
    """
    np = sys.modules.get("numpy")
    if np is None:
        yield
        return
    with np.errstate(all="ignore"):
        yield


def quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of :func:`quiet_numpy` (keeps the signature, which primitives read)."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with quiet_numpy():
            return fn(*args, **kwargs)

    return wrapped


def stop_gradient(x: Any) -> Any:
    """``x`` with no gradient flowing back (a new object on framework-free backends)."""
    b = backend_of(x)
    if b.kind == "torch":
        return x.detach()
    if b.kind == "jax":
        import jax

        return jax.lax.stop_gradient(x)
    return x[...]  # a fresh object, so the diffsample.vjp tape does not link it


def scaled_logits(x: Any, scale: Any, axis: int) -> tuple[Any, bool]:
    """``x / scale`` for a softmax along ``axis``, and whether its row maximum is off.

    When ``scale`` (an array, broadcast against ``x``) is constant along ``axis``, the
    row maximum of ``x`` is subtracted *before* dividing: the result is <= 0 with an
    exact 0 at the maximum, however small ``scale`` is, and ``True`` is returned.
    (Subtracting after dividing is not exact on XLA, which contracts ``x / scale - m``
    into a fused multiply-add: at |x / scale| ~ 1e12 the "0" at the maximum is then
    the rounding error of ``x / scale``, ~1e5, and exp overflows.)
    """
    xp = namespace_of(x)
    off = axis - x.ndim  # the axis counted from the right
    if scale.ndim < -off or scale.shape[off] == 1:
        return (x - xp.max(x, axis=axis, keepdims=True)) / scale, True
    return x / scale, False


def softmax(x: Any, axis: int, *, scale: Any = None) -> Any:
    """Numerically stable ``softmax(x / scale)`` along ``axis`` (``scale`` an array or None)."""
    b = backend_of(x)
    if b.kind == "torch":
        import torch

        return torch.softmax(x if scale is None else x / scale, dim=axis)
    xp = b.xp
    if scale is not None:
        x, shifted = scaled_logits(x, scale, axis)
        if shifted:
            e = xp.exp(x)
            return e / xp.sum(e, axis=axis, keepdims=True)
    m = xp.max(x, axis=axis, keepdims=True)
    # The row maximum contributes exactly 1 and nothing exceeds exp(0), whatever
    # rounding the library applies to ``x - m``: no overflow, no 0/0.
    d = xp.minimum(x - m, xp.zeros_like(m))
    e = xp.where(x == m, xp.ones_like(x), xp.exp(d))
    return e / xp.sum(e, axis=axis, keepdims=True)


def softmax_vjp(y: Any, g: Any, axis: int) -> Any:
    """VJP of softmax at output ``y`` for cotangent ``g``: ``y * (g - sum(g * y))``."""
    b = backend_of(y)
    if b.kind == "torch":
        import torch

        return torch._softmax_backward_data(g, y, axis, y.dtype)
    xp = b.xp
    gy = g * y
    return gy - y * xp.sum(gy, axis=axis, keepdims=True)


def one_hot_argmax(x: Any, axis: int) -> Any:
    """One-hot (in ``x``'s dtype) of the first maximum of ``x`` along ``axis``."""
    b = backend_of(x)
    xp = b.xp
    if b.kind == "torch":
        import torch

        idx = torch.argmax(x, dim=axis, keepdim=True)
        return torch.zeros_like(x).scatter_(axis, idx, 1.0)
    idx = xp.argmax(x, axis=axis, keepdims=True)
    n = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = n
    ar = xp.reshape(xp.arange(n, device=b.device) if b.device is not None else xp.arange(n), tuple(shape))
    return xp.astype(idx == ar, x.dtype)


def inplace(kind: str, op: str, x: Any, y: Any = None) -> Any:
    """``x op y`` (or ``op(x)`` when ``y`` is None) written into ``x``, for NumPy and torch.

    ``op`` is a NumPy ufunc name (``"add"``, ``"multiply"``, ``"divide"``, ``"log"``,
    ``"sqrt"``, ``"abs"``, ...).  ``x`` must be a fresh array the caller owns.  Passes
    over a million values then reuse memory instead of touching newly mapped pages,
    which costs as much as the arithmetic.  Only for ``kind`` "numpy" or "torch".
    """
    if kind == "numpy":
        np = sys.modules["numpy"]
        return getattr(np, op)(x, out=x) if y is None else getattr(np, op)(x, y, out=x)
    if kind != "torch":
        raise ValueError(f"inplace supports numpy and torch arrays, got kind {kind!r}")
    f = getattr(x, {"multiply": "mul", "divide": "div"}.get(op, op) + "_")  # torch: mul_, log_, ...
    return f() if y is None else f(y)


def sum_to_shape(g: Any, shape: tuple[int, ...]) -> Any:
    """Reduce a broadcast cotangent ``g`` back to ``shape`` (the inverse of broadcasting)."""
    gshape = tuple(g.shape)
    if gshape == shape:
        return g
    hit = _TYPE_CACHE.get(type(g))
    kind = hit[0] if hit is not None else kind_of(g)
    if kind == "torch":
        return g.sum_to_size(shape) if shape else g.sum()
    if kind == "numpy" and not shape:
        # NumPy's reduction itself (ndarray.sum goes through a Python wrapper); a scalar.
        return sys.modules["numpy"].add.reduce(g, axis=None)
    if kind in ("numpy", "cupy", "jax"):
        # Their own reduction method, without a wrapper layer (a scalar for shape ()).
        if not shape:
            return g.sum()
        total: Any = lambda a, **kw: a.sum(**kw)  # noqa: E731
    else:
        total = namespace_of(g).sum
    lead = len(gshape) - len(shape)
    if lead > 0:
        g = total(g, axis=tuple(range(lead)))
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, g.shape)) if n == 1 and m != 1)
    if axes:
        g = total(g, axis=axes, keepdims=True)
    return g
