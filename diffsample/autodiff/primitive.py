"""The one mechanism for hand-written gradients.

A :class:`Primitive` is a forward written in array-API operations plus a
vector-Jacobian product (VJP) written in array-API operations.  The backend
adapters in this package turn it into a ``torch.autograd.Function``, a
``jax.custom_vjp`` or, for NumPy, CuPy and every other namespace, a plain call
that is recorded for :func:`diffsample.vjp`.

Everything that differs between backends lives in the adapters; everything that is
the same (scalar promotion, compute dtype, un-broadcasting and casting cotangents)
lives here, once.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .._lib.namespace import Backend, backend_of, compute_dtype, float_dtype, kind_of
from .._lib.ops import sum_to_shape
from . import _adapters

__all__ = ["Primitive", "primitive", "registered_primitives"]

_REGISTRY: dict[str, "Primitive"] = {}


def _parameter_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Names of ``fn``'s parameters (through ``functools.wraps``), without importing
    :mod:`inspect`, which costs more at import time than the rest of the library."""
    f = fn
    while hasattr(f, "__wrapped__"):
        f = f.__wrapped__
    code = getattr(f, "__code__", None)
    if code is None:
        import inspect

        return tuple(inspect.signature(fn).parameters)
    return tuple(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])


_AUTODIFF_KINDS = frozenset({"torch", "jax"})


def _trusted_kinds(trust: bool | Sequence[str]) -> frozenset:
    """``trust_autodiff`` as the set of backend kinds it applies to."""
    if isinstance(trust, bool):
        return _AUTODIFF_KINDS if trust else frozenset()
    kinds = frozenset(trust)
    if not kinds <= _AUTODIFF_KINDS:
        raise ValueError(f"trust_autodiff must be a bool or a subset of {sorted(_AUTODIFF_KINDS)}, got {trust!r}")
    return kinds


class Primitive:
    """A differentiable operation: array-API forward plus hand-written VJP.

    Create one with :func:`primitive`; see there for the calling convention.
    """

    def __init__(
        self,
        fwd: Callable[..., Any],
        *,
        name: str | None = None,
        nondiff: Sequence[int] = (),
        trust_autodiff: bool | Sequence[str] = False,
    ):
        self.fwd = fwd
        self.trust_autodiff = _trusted_kinds(trust_autodiff)
        # Where a caller holding arrays of the result dtype may call fwd itself (torch).
        self.direct_kinds = _adapters.direct_kinds(self.trust_autodiff)
        self.bwd: Callable[..., Any] | None = None
        self._bwd_needs = False
        self.name = name or getattr(fwd, "__qualname__", repr(fwd))
        self.nondiff = frozenset(nondiff)
        self.__doc__ = fwd.__doc__
        self.__wrapped__ = fwd
        self.examples: list[Callable[[Any], tuple]] = []
        self._all_needs: dict[int, tuple] = {}  # number of inputs -> every differentiable one
        self._runs: dict[tuple, Callable[..., Any]] = {}  # (backend kind, result dtype) -> call path

    def __repr__(self) -> str:
        return f"<diffsample primitive {self.name}>"

    def defvjp(self, bwd: Callable[..., Any]) -> Callable[..., Any]:
        """Attach the VJP ``bwd(xp, inputs, out, g, **static) -> cotangents``."""
        self.bwd = bwd
        self._bwd_needs = "needs" in _parameter_names(bwd)
        return bwd

    def example(self, make: Callable[[Any], tuple]) -> Callable[[Any], tuple]:
        """Register ``make(rng) -> (args, static)``: inputs used by the self-check.

        ``rng`` is a ``numpy.random.Generator``; ``args`` are NumPy float64 arrays
        or Python scalars, ``static`` a dict of keyword arguments.
        """
        self.examples.append(make)
        return make

    # -- shared by every adapter ------------------------------------------------
    def _out_dtype(self, b: Backend, args: Sequence[Any]) -> Any:
        diff = [a for i, a in enumerate(args) if i not in self.nondiff]
        if any(kind_of(a) is not None for a in diff):
            return float_dtype(b, *diff)
        return float_dtype(b, *args)

    def _forward(self, b: Backend, arrays: Sequence[Any], out_dtype: Any, static: dict, cdt: Any = None) -> Any:
        xp = b.xp
        if cdt is None:
            cdt = compute_dtype(b, out_dtype)
        if cdt is not out_dtype and cdt != out_dtype:  # float16/bfloat16: computed in float32
            arrays = [a if a.dtype == cdt else xp.astype(a, cdt) for a in arrays]
        out = self.fwd(xp, *arrays, **static)
        return out if out.dtype == out_dtype else xp.astype(out, out_dtype)

    def _backward(
        self, b: Backend, arrays: Sequence[Any], out: Any, g: Any, static: dict, needs: Sequence[bool] | None = None
    ) -> tuple:
        if self.bwd is None:
            raise NotImplementedError(f"primitive {self.name} has no VJP; attach one with @{self.name}.defvjp")
        xp = b.xp
        cdt = compute_dtype(b, out.dtype)
        if cdt == out.dtype:  # float32/float64: every input is at this dtype already
            cargs, cout = arrays, out
        else:
            cargs = [a if a.dtype == cdt else xp.astype(a, cdt) for a in arrays]
            cout = xp.astype(out, cdt)
        cg = g if g.dtype == cdt else xp.astype(g, cdt)
        nondiff = self.nondiff
        if self._bwd_needs:
            if needs is None:
                needs = self._all_needs.get(len(arrays))
                if needs is None:
                    needs = self._all_needs[len(arrays)] = tuple([i not in nondiff for i in range(len(arrays))])
            else:
                needs = tuple([bool(n) and i not in nondiff for i, n in enumerate(needs)])
            grads = self.bwd(xp, tuple(cargs), cout, cg, needs=needs, **static)
        else:
            grads = self.bwd(xp, tuple(cargs), cout, cg, **static)
        if (type(grads) is not tuple and not isinstance(grads, (tuple, list))) or len(grads) != len(arrays):
            raise TypeError(
                f"VJP of primitive {self.name} must return one cotangent (or None) per input, "
                f"{len(arrays)} in all; got {grads!r:.80}"
            )
        result = []
        for i, gi in enumerate(grads):
            if gi is None or i in nondiff:
                result.append(None)
                continue
            a = arrays[i]
            shape = a.shape
            if gi.shape != shape:
                shape = tuple(shape)
                gi = sum_to_shape(gi, shape)
                if tuple(gi.shape) != shape:  # e.g. a scalar VJP for an array input
                    gi = xp.broadcast_to(gi, shape)
            result.append(gi if gi.dtype == a.dtype else xp.astype(gi, a.dtype))
        return tuple(result)

    def __call__(self, *args: Any, **static: Any) -> Any:
        b = backend_of(*args)
        return self.apply(b, self._out_dtype(b, args), *args, **static)

    def apply(self, b: Backend, out_dtype: Any, *args: Any, **static: Any) -> Any:
        """Call with the backend and result dtype already resolved (by a caller that
        holds them, such as a distribution for its own parameters); skips the
        resolution ``__call__`` does, and otherwise behaves the same.

        Examples
        --------
        >>> import numpy as np
        >>> import diffsample as ds
        >>> from diffsample._lib.namespace import backend_of
        >>> @ds.primitive(name="example.twice")
        ... def twice(xp, x):
        ...     return 2 * x
        >>> x = np.array([1.0, 2.0])
        >>> twice.apply(backend_of(x), x.dtype, x)
        array([2., 4.])
        """
        try:
            run = self._runs[b.kind, out_dtype]
        except (KeyError, TypeError):
            run = self._runner(b, out_dtype)
        return run(b, args, static)

    def _runner(self, b: Backend, out_dtype: Any) -> Callable[[Backend, tuple, dict], Any]:
        """The call path ``run(b, args, static) -> out`` that :meth:`apply` takes on
        backend kind ``b.kind`` with result dtype ``out_dtype`` (decided once, kept)."""
        key = (b.kind, out_dtype)
        try:
            return self._runs[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable dtype object: no cache
            return _adapters.runner(self, b.kind, out_dtype, compute_dtype(b, out_dtype))
        run = self._runs[key] = _adapters.runner(self, b.kind, out_dtype, compute_dtype(b, out_dtype))
        return run


def primitive(
    fwd: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    nondiff: Sequence[int] = (),
    trust_autodiff: bool | Sequence[str] = False,
):
    """Declare a differentiable operation with a hand-written VJP, on every backend.

    The forward ``fwd(xp, *arrays, **static)`` receives the array-API namespace and
    its positional inputs as arrays of one floating dtype (Python scalars are turned
    into arrays; float16/bfloat16 are computed in float32), and returns one array.
    Keyword arguments are static (hashable, never differentiated).  Attach the VJP
    with ``@prim.defvjp``: ``bwd(xp, inputs, out, g, **static)`` returns one cotangent
    per positional input (``None`` for no gradient).  A VJP that declares a keyword
    ``needs`` gets a tuple of booleans saying which cotangents are wanted, and may
    return ``None`` for the others.  Cotangents may keep the
    broadcast shape of ``out``; they are summed back to each input's shape.

    On torch the primitive becomes a ``torch.autograd.Function`` (double backward
    works when the VJP is itself differentiable); on JAX a ``jax.custom_vjp``; on
    NumPy, CuPy and other namespaces calls are recorded for :func:`diffsample.vjp`.

    ``trust_autodiff=True`` declares that torch's and JAX's own autodiff of the
    forward is exact and numerically sound (for example ``loc + scale * eps``): those
    two frameworks then differentiate the forward directly, which saves the custom
    function's per-call cost (tens of microseconds on torch) and also gives forward
    mode on JAX; the hand-written VJP serves NumPy, CuPy and the other namespaces,
    and the test suite checks it against the frameworks' autodiff.  Leave it off
    wherever the VJP exists for numerical reasons (tails, clamping, log space).

    Parameters
    ----------
    fwd : callable
        The forward.
    name : str, optional
        Registry name (default: the function's qualified name).
    nondiff : sequence of int
        Positions of inputs that never get a gradient (for example noise).
    trust_autodiff : bool or sequence of {"torch", "jax"}
        Let torch and JAX (``True``), or only the frameworks named, differentiate
        the forward themselves (see above).

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> @ds.primitive(name="example.cube")
    ... def cube(xp, x):
    ...     return x * x * x
    >>> @cube.defvjp
    ... def _(xp, inputs, out, g):
    ...     (x,) = inputs
    ...     return (3 * x * x * g,)
    >>> y, pullback = ds.vjp(cube, np.array([1.0, 2.0]))
    >>> pullback(np.ones(2))
    (array([ 3., 12.]),)
    """

    def wrap(f: Callable[..., Any]) -> Primitive:
        p = Primitive(f, name=name, nondiff=nondiff, trust_autodiff=trust_autodiff)
        _REGISTRY[p.name] = p
        return p

    return wrap(fwd) if fwd is not None else wrap


def registered_primitives() -> dict[str, Primitive]:
    """All primitives declared so far, by name (the library's and the user's)."""
    return dict(_REGISTRY)
