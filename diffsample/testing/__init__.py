"""Gradient checks users can run on their own primitives (and that the test-suite uses).

:func:`check_vjp` compares the pullback from :func:`diffsample.vjp` with central
finite differences of the forward, in float64, on any backend.
:func:`check_primitive` runs it on a primitive's registered examples.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .._lib.namespace import backend_of
from ..autodiff import Primitive, vjp

__all__ = ["check_vjp", "check_primitive", "to_numpy"]


def to_numpy(a: Any) -> np.ndarray:
    """Copy any backend's array to a NumPy array (for tests and reports only)."""
    mod = type(a).__module__.split(".", 1)[0]
    if mod == "torch":
        return a.detach().cpu().numpy()
    if mod == "cupy":
        return a.get()
    return np.asarray(a)


def check_vjp(
    fn: Callable[..., Any],
    *primals: Any,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    directions: int = 3,
    seed: int = 0,
) -> float:
    """Check the VJP of ``fn`` at ``primals`` against central finite differences.

    For random cotangents ``u`` and random directions ``v`` the identity
    ``<u, J v> == <J^T u, v>`` is checked, with ``J v`` from central differences
    ``(fn(x + eps v) - fn(x - eps v)) / (2 eps)`` and ``J^T u`` from
    :func:`diffsample.vjp`.  Use float64 primals.

    Parameters
    ----------
    fn : callable
        Function of the primals returning one array (deterministic: fix its key).
    *primals : arrays
        float64 arrays of one backend.
    eps, rtol, atol : float
        Step and tolerances: ``|fd - ad| <= atol + rtol * scale`` where ``scale`` is
        the sum of the absolute terms of the inner product.
    directions : int
        How many random (u, v) pairs to try.
    seed : int
        Seed of the NumPy generator that makes ``u`` and ``v``.

    Returns
    -------
    float
        The largest relative discrepancy seen.

    Raises
    ------
    AssertionError
        When a check fails.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.testing import check_vjp
    >>> err = check_vjp(lambda m, s: ds.Normal(m, s).log_prob(np.array([0.3, -1.0])),
    ...                 np.array([0.1, 0.2]), np.array([1.0, 2.0]))
    >>> err < 1e-6
    True
    """
    b = backend_of(*primals)
    xp = b.xp
    rng = np.random.default_rng(seed)

    def like(a: Any, ref: Any) -> Any:
        arr = xp.asarray(np.asarray(a, dtype=np.float64))
        if b.kind == "torch":
            arr = arr.to(ref.device)
        elif b.device is not None and b.kind not in ("jax",):
            arr = xp.asarray(arr, device=b.device)
        return arr

    out, pullback = vjp(fn, *primals)
    worst = 0.0
    for _ in range(directions):
        u = like(rng.normal(size=tuple(out.shape)), out)
        vs = [like(rng.normal(size=tuple(p.shape)), p) for p in primals]
        ad = pullback(u)
        ad_dot = sum(float(np.sum(to_numpy(g) * to_numpy(v))) for g, v in zip(ad, vs))
        plus = fn(*[p + eps * v for p, v in zip(primals, vs)])
        minus = fn(*[p - eps * v for p, v in zip(primals, vs)])
        jv = (to_numpy(plus) - to_numpy(minus)) / (2 * eps)
        terms = to_numpy(u) * jv
        fd_dot = float(np.sum(terms))
        scale = float(np.sum(np.abs(terms))) + sum(
            float(np.sum(np.abs(to_numpy(g) * to_numpy(v)))) for g, v in zip(ad, vs)
        )
        err = abs(fd_dot - ad_dot)
        rel = err / max(scale, 1e-300)
        worst = max(worst, rel)
        if not np.isfinite(ad_dot) or err > atol + rtol * scale:
            raise AssertionError(
                f"VJP check failed: finite differences give {fd_dot!r}, the VJP gives {ad_dot!r} "
                f"(relative error {rel:.3g})"
            )
    return worst


def check_primitive(prim: Primitive, make_array: Callable[[np.ndarray], Any] = np.asarray, **kwargs: Any) -> float:
    """Run :func:`check_vjp` on each registered example of ``prim``.

    Parameters
    ----------
    prim : Primitive
        A primitive with examples registered by ``@prim.example``.
    make_array : callable
        Turns NumPy float64 data into the backend's arrays (default: NumPy).
    **kwargs
        Passed to :func:`check_vjp`.

    Returns
    -------
    float
        The largest relative discrepancy over the examples.
    """
    if not prim.examples:
        raise ValueError(f"primitive {prim.name} has no registered example to check")
    worst = 0.0
    for i, make in enumerate(prim.examples):
        args, static = make(np.random.default_rng(i))
        arrays = [make_array(np.asarray(a, dtype=np.float64)) for a in args]
        diff = [j for j in range(len(arrays)) if j not in prim.nondiff]

        def fn(*ps: Any, _arrays: Sequence[Any] = arrays, _diff: Sequence[int] = diff, _static: dict = static) -> Any:
            full = list(_arrays)
            for j, p in zip(_diff, ps):
                full[j] = p
            return prim(*full, **_static)

        worst = max(worst, check_vjp(fn, *[arrays[j] for j in diff], **kwargs))
    return worst
