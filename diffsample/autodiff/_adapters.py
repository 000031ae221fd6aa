"""One adapter per backend family for :class:`~diffsample.autodiff.primitive.Primitive`.

* torch  -> a cached ``torch.autograd.Function`` (``setup_context`` style, so
  ``torch.func.grad``/``vmap`` work; the VJP runs in differentiable torch ops, so
  double backward works);
* jax    -> a cached ``jax.custom_vjp`` with the static arguments closed over;
* others -> the plain forward, recorded on the active tape of :func:`diffsample.vjp`.

A primitive declared with ``trust_autodiff`` runs its plain forward on the frameworks
named there (torch, JAX; jitted on JAX), and they differentiate it themselves.
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any

from .._lib.namespace import _TYPE_CACHE, Backend, asarray

# The tape of the innermost diffsample.vjp on a framework-free backend.
TAPE: contextvars.ContextVar[list | None] = contextvars.ContextVar("diffsample_tape", default=None)


def _freeze(static: dict) -> tuple:
    try:
        key = tuple(sorted(static.items()))
        hash(key)
    except TypeError as e:
        raise TypeError(f"static (keyword) arguments of a primitive must be hashable; got {static!r}") from e
    return key


# ----------------------------------------------------------------------------- torch
@functools.lru_cache(maxsize=None)
def _torch_functions(prim: Any) -> tuple[Any, Any]:
    """(plain Function, functorch-ready Function) for ``prim``.

    torch binds arguments through ``inspect.signature`` on every call of a Function
    that defines ``setup_context``, which costs tens of microseconds; so that style is
    used only while ``torch.func`` transforms are active, and the classic
    ``forward(ctx, ...)`` style otherwise.  Both share one forward and one backward.
    """
    import torch

    def backward(ctx, g):
        *arrays, out = ctx.saved_tensors
        grads = prim._backward(ctx.b, arrays, out, g, ctx.static, ctx.needs_input_grad[3:])
        return (None, None, None, *grads)

    class _Plain(torch.autograd.Function):
        @staticmethod
        def forward(ctx, b, out_dtype, static_key, *arrays):  # type: ignore[override]
            ctx.b = b
            ctx.static = dict(static_key)
            out = prim._forward(b, arrays, out_dtype, ctx.static)
            ctx.save_for_backward(*arrays, out)
            return out

    class _Func(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(b, out_dtype, static_key, *arrays):  # type: ignore[override]
            return prim._forward(b, arrays, out_dtype, dict(static_key))

        @staticmethod
        def setup_context(ctx, inputs, output):  # type: ignore[override]
            b, _, static_key, *arrays = inputs
            ctx.b = b
            ctx.static = dict(static_key)
            ctx.save_for_backward(*arrays, output)

    name = f"diffsample_{prim.name.replace('.', '_')}"
    for cls in (_Plain, _Func):
        cls.backward = staticmethod(backward)  # type: ignore[method-assign]
        cls.__name__ = cls.__qualname__ = name
    return _Plain, _Func


# ------------------------------------------------------------------------------- jax
@functools.lru_cache(maxsize=1024)
def _jax_function(prim: Any, b: Backend, out_dtype: Any, static_key: tuple) -> Any:
    import jax

    static = dict(static_key)

    @jax.custom_vjp
    def f(*arrays):
        return prim._forward(b, arrays, out_dtype, static)

    def f_fwd(*arrays):
        out = prim._forward(b, arrays, out_dtype, static)
        return out, (arrays, out)

    def f_bwd(res, g):
        arrays, out = res
        grads = prim._backward(b, arrays, out, g, static)
        return tuple(b.xp.zeros_like(a) if gi is None else gi for a, gi in zip(arrays, grads))

    f.defvjp(f_fwd, f_bwd)
    # jit: eager calls compile once per shape instead of dispatching op by op; under
    # an outer transformation the jitted function is simply inlined.
    return jax.jit(f)


@functools.lru_cache(maxsize=1024)
def _jax_plain(prim: Any, b: Backend, out_dtype: Any, static_key: tuple) -> Any:
    import jax

    static = dict(static_key)
    return jax.jit(lambda *arrays: prim._forward(b, arrays, out_dtype, static))


# Kinds on which a trusted primitive's plain forward may be called as it is, by a caller
# whose inputs are arrays of the result dtype already: the framework differentiates it
# and nothing is recorded (JAX's runs through jit; the tape backends record each call).
_DIRECT_KINDS = frozenset({"torch"})


def direct_kinds(trusted: frozenset) -> frozenset:
    """The backend kinds among ``trusted`` (a primitive's ``trust_autodiff``) on which
    its forward ``fwd(xp, *arrays)`` may be called directly (``Primitive.direct_kinds``)."""
    return trusted & _DIRECT_KINDS


def runner(prim: Any, kind: str, out_dtype: Any, cdt: Any) -> Any:
    """The call path of ``prim`` on arrays of backend kind ``kind`` with result dtype
    ``out_dtype`` (compute dtype ``cdt``): ``run(b, args, static) -> out``.

    Which adapter serves the call and whether inputs are cast is decided here, once
    per primitive, kind and dtype (``Primitive.apply`` keeps the result); ``run``
    then only converts the inputs it must (Python scalars, other dtypes) and calls.
    """
    nondiff = prim.nondiff
    same = cdt == out_dtype

    def arrays_of(b: Backend, args: tuple) -> tuple:
        if same:  # float32/float64: one dtype for every input
            return tuple([asarray(b, a, out_dtype) for a in args])
        # Inputs without gradient (noise) go straight to the compute dtype: casting
        # float32 uniforms to a float16 result dtype first would round some to 0 or 1.
        return tuple([asarray(b, a, cdt if i in nondiff else out_dtype) for i, a in enumerate(args)])

    if kind == "jax":
        jit = _jax_plain if kind in prim.trust_autodiff else _jax_function

        def run(b: Backend, args: tuple, static: dict) -> Any:
            jb = Backend(kind, b.xp, None)  # tracers have no device; keep the cache key stable
            return jit(prim, jb, out_dtype, _freeze(static))(*arrays_of(b, args))

        return run
    if kind == "torch" and kind not in prim.trust_autodiff:
        import torch

        plain, func = _torch_functions(prim)
        transforms_active = torch._C._are_functorch_transforms_active

        def run(b: Backend, args: tuple, static: dict) -> Any:
            fn = func if transforms_active() else plain
            return fn.apply(b, out_dtype, _freeze(static), *arrays_of(b, args))

        return run
    # The plain forward: torch differentiates it itself (trust_autodiff), or, on every
    # other backend, it is recorded on the tape of diffsample.vjp.
    fwd = prim.fwd
    record = kind != "torch"
    if kind in _DIRECT_KINDS and same:

        def run(b: Backend, args: tuple, static: dict) -> Any:
            arrays = args
            try:
                for a in args:  # most often tensors of the dtype already (dtypes are singletons)
                    if a.dtype is not out_dtype:
                        arrays = arrays_of(b, args)
                        break
            except AttributeError:  # a Python scalar
                arrays = arrays_of(b, args)
            out = fwd(b.xp, *arrays, **static)
            return out if out.dtype is out_dtype else b.xp.astype(out, out_dtype)

        return run

    def run(b: Backend, args: tuple, static: dict) -> Any:
        arrays = args
        if same:
            for a in args:  # most often they are arrays of the dtype already (the same object)
                if type(a) not in _TYPE_CACHE or (a.dtype is not out_dtype and a.dtype != out_dtype):
                    arrays = arrays_of(b, args)
                    break
            out = fwd(b.xp, *arrays, **static)  # Primitive._forward, without its casts
            if out.dtype is not out_dtype and out.dtype != out_dtype:
                out = b.xp.astype(out, out_dtype)
        else:
            arrays = arrays_of(b, args)
            out = prim._forward(b, arrays, out_dtype, static, cdt)
        if record:
            tape = TAPE.get()
            if tape is not None:
                # Record the caller's own objects (identity is how the tape links operations).
                tape.append((prim, b, args, arrays, out, static))
        return out

    return run
