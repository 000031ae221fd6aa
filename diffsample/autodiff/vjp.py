"""``diffsample.vjp``: value plus pullback, on every backend."""

from __future__ import annotations

from typing import Any, Callable

from .._lib.namespace import _TYPE_CACHE, backend_of, kind_of, numpy_backend
from ._adapters import TAPE

__all__ = ["vjp"]


def vjp(fn: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple]]:
    """Evaluate ``fn(*primals)`` and return ``(value, pullback)``, like ``jax.vjp``.

    ``pullback(cotangent)`` returns one cotangent per primal: the vector-Jacobian
    product ``cotangent @ d fn / d primal``.  It works on every backend:

    * JAX: this is ``jax.vjp``;
    * torch: this is ``torch.func.vjp``;
    * NumPy, CuPy, array_api_strict and other namespaces (no framework needed): the
      calls to diffsample's differentiable operations (and your own
      :func:`diffsample.primitive` s) inside ``fn`` are recorded and the pullback
      chains their hand-written VJPs.  Arithmetic *between* those calls is not
      recorded there: express it as a primitive, or chain pullbacks yourself.  If
      ``fn``'s result does not come from a recorded operation, ``ValueError`` says so.

    Parameters
    ----------
    fn : callable
        Function of the primals returning one array or a tuple of arrays.
    *primals : arrays
        Points to differentiate at, all of one backend.

    Returns
    -------
    value : array or tuple of arrays
        ``fn(*primals)``.
    pullback : callable
        ``pullback(cotangent) -> tuple`` of cotangents, one per primal.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> key = ds.random.key(0)
    >>> loc, scale = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    >>> x, pullback = ds.vjp(lambda m, s: ds.Normal(m, s).rsample(key, (1000,)), loc, scale)
    >>> d_loc, d_scale = pullback(np.ones_like(x))
    >>> d_loc
    array([1000., 1000.])
    """
    if not primals:
        raise ValueError("diffsample.vjp needs at least one primal to differentiate with respect to")
    t = type(primals[0])
    hit = _TYPE_CACHE.get(t)
    if hit is not None and hit[0] == "numpy":  # NumPy arrays: one backend, no device to compare
        for p in primals:
            if type(p) is not t:
                break
        else:
            return _tape_vjp(numpy_backend(), fn, primals)
    b = backend_of(*primals)
    for p in primals:
        if type(p) not in _TYPE_CACHE and kind_of(p) is None:
            primals = tuple(p if kind_of(p) is not None else b.xp.asarray(p, dtype=b.xp.float64) for p in primals)
            break
    if b.kind == "jax":
        import jax

        return jax.vjp(fn, *primals)
    if b.kind == "torch":
        import torch.func

        return torch.func.vjp(fn, *primals)
    return _tape_vjp(b, fn, primals)


def _tape_vjp(b: Any, fn: Callable[..., Any], primals: tuple) -> tuple[Any, Callable[[Any], tuple]]:
    xp = b.xp
    # Fresh objects, so that two primals never share an identity.
    primals = tuple([p[...] for p in primals])
    tape: list = []
    token = TAPE.set(tape)
    try:
        value = fn(*primals)
    finally:
        TAPE.reset(token)
    if len(tape) == 1 and tape[0][4] is value:  # the usual case: one recorded operation made the output
        return value, _one_operation_pullback(xp, tape[0], primals)
    outs = value if isinstance(value, tuple) else (value,)
    if len(outs) == 1 and tape and tape[-1][4] is outs[0]:  # fn ends in a recorded op
        produced: Any = ()
    else:
        produced = {id(rec[4]) for rec in tape} | {id(p) for p in primals}
    for o in outs:
        if produced and id(o) not in produced:
            raise ValueError(
                "diffsample.vjp: the result of fn was not produced by a diffsample operation. On "
                f"{b.kind} only diffsample's differentiable operations (and primitives declared with "
                "diffsample.primitive) are recorded; array arithmetic after them is not. Return the "
                "operation's result directly, or wrap your own code as a primitive."
            )

    def pullback(cotangent: Any) -> tuple:
        cts = cotangent if isinstance(value, tuple) else (cotangent,)
        if len(cts) != len(outs):
            raise ValueError(f"pullback expected {len(outs)} cotangents, got {len(cts)}")
        acc: dict[int, Any] = {}
        keep: list = []  # keeps objects alive so that ids stay unique

        def add(obj: Any, g: Any) -> None:
            k = id(obj)
            keep.append(obj)
            acc[k] = g if k not in acc else acc[k] + g

        for o, g in zip(outs, cts):
            if tuple(g.shape) != tuple(o.shape):
                raise _shape_error(g, o)
            add(o, g)
        for prim, rb, args, arrays, out, static in reversed(tape):
            g = acc.pop(id(out), None)
            if g is None:
                continue
            grads = prim._backward(rb, arrays, out, g, static)
            for a, gi in zip(args, grads):
                if gi is not None and kind_of(a) is not None:
                    add(a, gi)
        return tuple(acc[id(p)] if id(p) in acc else xp.zeros_like(p) for p in primals)

    return value, pullback


def _one_operation_pullback(xp: Any, record: tuple, primals: tuple) -> Callable[[Any], tuple]:
    """The pullback of a tape whose one recorded operation made the one output: that
    operation's VJP, its cotangents summed per primal (no bookkeeping by identity)."""
    prim, rb, args, arrays, out, static = record

    def pullback(cotangent: Any) -> tuple:
        if tuple(cotangent.shape) != tuple(out.shape):
            raise _shape_error(cotangent, out)
        grads = prim._backward(rb, arrays, out, cotangent, static)
        res = []
        for p in primals:
            gp = None
            for a, gi in zip(args, grads):
                if a is p and gi is not None:
                    gp = gi if gp is None else gp + gi
            res.append(xp.zeros_like(p) if gp is None else gp)
        return tuple(res)

    return pullback


def _shape_error(g: Any, out: Any) -> ValueError:
    return ValueError(f"cotangent has shape {tuple(g.shape)}, the output has shape {tuple(out.shape)}")
