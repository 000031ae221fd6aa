"""Namespace, device and dtype resolution.

This is the only module of diffsample that imports ``array_api_compat``.  Backend
kinds are detected from the *type* of the arrays a caller hands us, so that
``import diffsample`` never imports torch, JAX or CuPy: a framework is touched only
once one of its arrays has been seen.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any, NamedTuple

import array_api_compat

__all__ = [
    "Backend",
    "backend_of",
    "numpy_backend",
    "kind_of",
    "namespace_of",
    "is_array",
    "float_dtype",
    "compute_dtype",
    "asarray",
    "is_concrete",
    "scalar_value",
    "torch_values_readable",
]

# Kinds we know by the top-level module that defines the array type.
_MODULE_KINDS = {
    "numpy": "numpy",
    "torch": "torch",
    "jax": "jax",
    "jaxlib": "jax",
    "cupy": "cupy",
    "array_api_strict": "array_api_strict",
    "dask": "dask",
}

_NOT_ARRAYS = frozenset({int, float, bool, complex, type(None), str, tuple, list, dict})

# type -> (kind, namespace); filled lazily, one entry per array type seen.
_TYPE_CACHE: dict[type, tuple[str, Any]] = {}


class Backend(NamedTuple):
    """The array library and device that one call runs on.

    Attributes
    ----------
    kind : str
        ``"numpy"``, ``"torch"``, ``"jax"``, ``"cupy"``, ``"array_api_strict"``,
        ``"dask"`` or ``"other"`` (any namespace array-api-compat understands).
    xp : module
        The array-API namespace (array-api-compat's wrapper where one exists).
    device : object
        The device of the arrays, or ``None`` where it cannot be read (JAX tracers).
    """

    kind: str
    xp: Any
    device: Any


def _is_python_scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, float, numbers.Real)) and not hasattr(v, "__array_namespace__") and type(v).__module__ == "builtins"


def kind_of(x: Any) -> str | None:
    """Return the backend kind of array ``x``, or ``None`` for non-arrays."""
    t = type(x)
    hit = _TYPE_CACHE.get(t)
    if hit is not None:
        return hit[0]
    if t in _NOT_ARRAYS or _is_python_scalar(x):
        return None
    root = t.__module__.split(".", 1)[0]
    kind = _MODULE_KINDS.get(root)
    if kind is None:
        if not array_api_compat.is_array_api_obj(x):
            return None
        kind = "other"
    try:
        xp = array_api_compat.array_namespace(x)
    except TypeError:
        return None
    _TYPE_CACHE[t] = (kind, xp)
    return kind


def namespace_of(x: Any) -> Any:
    """The array-API namespace of array ``x`` (``None`` for non-arrays)."""
    return _TYPE_CACHE[type(x)][1] if kind_of(x) is not None else None


def is_array(x: Any) -> bool:
    """True when ``x`` is an array of some array-API library (not a Python scalar)."""
    return kind_of(x) is not None


def _device(kind: str, x: Any) -> Any:
    if kind == "numpy":
        return "cpu"
    if kind == "torch":
        return x.device
    if kind == "jax":
        # Tracers have no concrete device; JAX places computations itself.
        try:
            devs = x.devices()
        except Exception:
            return None
        return next(iter(devs)) if len(devs) == 1 else None
    try:
        return array_api_compat.device(x)
    except Exception:
        return None


_NUMPY_BACKEND: Backend | None = None


def numpy_backend() -> Backend:
    """The NumPy backend on the CPU (used when a call holds no arrays at all)."""
    global _NUMPY_BACKEND
    if _NUMPY_BACKEND is None:
        import numpy as np

        _NUMPY_BACKEND = Backend("numpy", array_api_compat.array_namespace(np.empty(0)), "cpu")
    return _NUMPY_BACKEND


def backend_of(*values: Any) -> Backend:
    """Resolve the one backend and device shared by the arrays among ``values``.

    Python scalars and ``None`` are skipped.  With no arrays at all the NumPy
    backend is returned.

    Raises
    ------
    TypeError
        If the arrays come from two different libraries or sit on two devices.
    """
    kind = None
    first = None
    device = None
    cache = _TYPE_CACHE
    for v in values:
        hit = cache.get(type(v))
        if hit is None:
            if kind_of(v) is None:
                continue
            hit = cache[type(v)]
        k = hit[0]
        if kind is None:
            kind, first = k, v
            device = "cpu" if k == "numpy" else _device(k, v)
            continue
        if k != kind:
            raise TypeError(
                f"diffsample got arrays from two libraries in one call: {type(first).__module__}."
                f"{type(first).__name__} and {type(v).__module__}.{type(v).__name__}; convert them "
                "to one library first (nothing is converted silently)"
            )
        if k == "numpy":
            continue
        d = _device(k, v)
        if device is not None and d is not None and d != device:
            raise TypeError(
                f"diffsample got arrays on two devices in one call: {device!r} and {d!r}; "
                "move them to one device first (nothing is copied silently)"
            )
        if device is None:
            device = d
    if kind is None:
        return numpy_backend()
    key = (kind, device)
    try:
        return _BACKENDS[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable device object
        return Backend(kind, cache[type(first)][1], device)
    b = _BACKENDS[key] = Backend(kind, cache[type(first)][1], device)
    return b


# (kind, device) -> Backend: one shared tuple per backend and device seen.
_BACKENDS: dict[tuple, Backend] = {}


_FLOATING: dict[Any, bool] = {}
_PROMOTED: dict[tuple, Any] = {}


def _is_floating(xp: Any, dtype: Any) -> bool:
    # Keyed by the dtype's type first, so dtypes of two libraries are never compared.
    key = (type(dtype), dtype)
    try:
        return _FLOATING[key]
    except (KeyError, TypeError):
        pass
    try:
        res = bool(xp.isdtype(dtype, "real floating"))
    except Exception:
        res = False
    try:
        _FLOATING[key] = res
    except TypeError:  # an unhashable dtype object: just not cached
        pass
    return res


def default_float(b: Backend) -> Any:
    """The namespace's default real floating dtype (float64 for NumPy, float32 for torch/JAX)."""
    if b.kind == "torch":
        import torch

        return torch.get_default_dtype()
    try:
        info = b.xp.__array_namespace_info__()
        return info.default_dtypes(device=b.device)["real floating"]
    except Exception:
        return b.xp.float64


def float_dtype(b: Backend, *values: Any) -> Any:
    """Floating dtype of a result computed from ``values``.

    The promoted dtype of the floating arrays among ``values``; if there are none,
    the namespace's default floating dtype.  Python scalars never widen the result.
    """
    first = None
    more = None
    cache = _TYPE_CACHE
    for v in values:
        if type(v) not in cache and kind_of(v) is None:
            continue
        dt = v.dtype
        if first is not None and dt == first or not _is_floating(b.xp, dt):
            continue
        if first is None:
            first = dt
        else:
            more = (first, dt) if more is None else (*more, dt)
    if first is None:
        return default_float(b)
    if more is None:
        return first
    key = (b.kind, *more)
    try:
        return _PROMOTED[key]
    except KeyError:
        res = _PROMOTED[key] = b.xp.result_type(*more)
        return res
    except TypeError:
        return b.xp.result_type(*more)


def compute_dtype(b: Backend, dtype: Any) -> Any:
    """The dtype noise and arithmetic use for ``dtype``: itself, or float32 if narrower."""
    key = (b.kind, type(dtype), dtype)
    try:
        return _COMPUTE[key]
    except KeyError:
        pass
    except TypeError:  # unhashable dtype object
        key = None
    xp = b.xp
    res = dtype if dtype == xp.float64 or dtype == xp.float32 else xp.float32
    if key is not None:
        _COMPUTE[key] = res
    return res


_COMPUTE: dict[tuple, Any] = {}


def asarray(b: Backend, v: Any, dtype: Any) -> Any:
    """``v`` (array or Python scalar) as an array of ``dtype`` on the backend's device."""
    if type(v) in _TYPE_CACHE:  # an array of a library seen before: the common case
        return v if v.dtype == dtype else b.xp.astype(v, dtype)
    xp = b.xp
    if kind_of(v) is None:
        if b.kind == "torch" and type(v) in (int, float) and not _torch_inference_mode():
            # Making a tensor costs microseconds; constants such as a temperature of
            # 1.0 recur on every call, so torch's are kept (read-only, never exposed).
            # Not under inference_mode (an inference tensor cannot enter autograd later)
            # nor while torch.compile traces (it would keep a fake tensor).
            key = (v, dtype, b.device)
            t = _TORCH_CONSTANTS.get(key)
            if t is None:
                if len(_TORCH_CONSTANTS) > 256:
                    _TORCH_CONSTANTS.clear()
                t = _TORCH_CONSTANTS[key] = xp.asarray(v, dtype=dtype, device=b.device)
            return t
        return xp.asarray(v, dtype=dtype, device=b.device) if b.device is not None else xp.asarray(v, dtype=dtype)
    if v.dtype != dtype:
        return xp.astype(v, dtype)
    return v


_TORCH_CONSTANTS: dict[tuple, Any] = {}


def _torch_inference_mode() -> bool:
    """Inference mode or torch.compile tracing: tensors made then must not be kept."""
    if sys.modules["torch"].is_inference_mode_enabled():
        return True
    return bool((_TORCH_TRACING or _torch_tracing_checks())[1]())


def _torch_tracing_checks() -> tuple:
    """torch's 'is this a functorch wrapper', 'are we compiling or exporting' and 'is
    a torch.func transform active' tests (looked up once)."""
    global _TORCH_TRACING
    if _TORCH_TRACING is None:
        import torch

        wrapped = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None)
        compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
        active = getattr(torch._C, "_are_functorch_transforms_active", None)
        no = lambda *a: False  # noqa: E731 - an older torch without the test
        _TORCH_TRACING = (wrapped or no, compiling or no, active or no)
    return _TORCH_TRACING


_TORCH_TRACING: tuple | None = None


def is_concrete(x: Any, kind: str | None = None) -> bool:
    """True when the values of ``x`` may be read (not a JAX tracer, not under torch.func).

    ``kind``: ``kind_of(x)``, when the caller has it already.
    """
    k = kind or kind_of(x)
    if k is None or k == "numpy":
        return True
    if k == "torch":
        wrapped, compiling, _ = _TORCH_TRACING or _torch_tracing_checks()
        return not (wrapped(x) or compiling() or x.is_meta)
    if k == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if k == "dask":
        return False  # lazy: reading values would compute the graph
    return True


def scalar_value(x: Any) -> Any:
    """The one value of a 0-d NumPy array or torch tensor as a Python number, or
    ``None`` where it cannot be read cheaply: other arrays and libraries, and torch
    tensors under ``torch.func`` transforms, ``torch.compile`` or ``torch.export``, or
    without a value (meta tensors).

    The argument checks' fast lane: distributions are most often built from 0-d
    parameters on every call, and reading one value costs less than any array
    operation.
    """
    hit = _TYPE_CACHE.get(type(x))
    if hit is None or x.ndim != 0:
        return None
    k = hit[0]
    if k == "numpy":
        return x.item()
    if k == "torch":
        if not torch_values_readable():
            return None
        try:
            return x.item()  # item() does not warn about requires_grad as float() does
        except Exception:  # no value to read here (meta tensors)
            return None
    return None


def torch_values_readable() -> bool:
    """False under ``torch.func`` transforms, ``torch.compile`` and ``torch.export``
    (as :func:`is_concrete`), where reading a tensor's value with ``item()`` fails or
    breaks the trace; the one place the value-reading checks ask."""
    _, compiling, transforms_active = _TORCH_TRACING or _torch_tracing_checks()
    return not (transforms_active() or compiling())
