"""Base noise: uniform, standard normal and standard Gumbel draws, native or portable.

*Native* streams (the default) draw with the backend's own fast generator, on the
parameters' device: NumPy's Philox ``Generator``, a ``torch.Generator``,
``jax.random``, CuPy's ``RandomState``.  The same key on the same backend and device
gives the same numbers.

*Portable* streams (``with ds.random.stream("portable"):``) compute Threefry-2x32 in
array-API integer operations: the same bits on every backend and device, equal to
``jax.random.bits`` for the same key; uniforms then agree exactly across backends.
Namespaces without a native generator (array_api_strict, dask, ...) always use it.

Noise is computed in float32 or float64 (float32 for narrower requests) and every
uniform lies strictly inside (0, 1), so ``log(u)`` and ``log(1 - u)`` are finite
(except the internal kind ``"uniform01"`` of :func:`draw`, which may be 0).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from typing import Any, Iterator

from .._lib.namespace import _TYPE_CACHE, Backend, backend_of, compute_dtype, default_float
from .keys import Source, _check_key_array, _words_array, resolve_source

__all__ = ["stream", "current_stream", "draw", "uniform", "normal", "gumbel", "bits"]

_STREAM: contextvars.ContextVar[str] = contextvars.ContextVar("diffsample_stream", default="native")
# "uniform" is strictly inside (0, 1); "uniform01" is the generator's own [0, 1) output,
# unclamped (for samplers to which 0 does no harm: it saves a pass over the draws).
_KINDS = ("uniform", "uniform01", "normal", "gumbel")


@contextlib.contextmanager
def stream(mode: str) -> Iterator[None]:
    """Choose the noise stream for the samplers called inside the ``with`` block.

    Parameters
    ----------
    mode : {"native", "portable"}
        ``"native"``: the backend's own generator (fast; the default).
        ``"portable"``: Threefry-2x32 in array-API ops, identical on every backend.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> with ds.random.stream("portable"):
    ...     u = ds.random.uniform(ds.random.key(0), (3,))
    >>> bool(np.all((u > 0) & (u < 1)))
    True
    """
    if mode not in ("native", "portable"):
        raise ValueError(f"mode must be 'native' or 'portable', got {mode!r}")
    token = _STREAM.set(mode)
    try:
        yield
    finally:
        _STREAM.reset(token)


def current_stream() -> str:
    """The stream in force: ``"native"`` or ``"portable"``."""
    return _STREAM.get()


def _seed64(k: Any, owner: str | None) -> int:
    """Key array ``k`` (of library ``owner``) as one 64-bit int: its first 32-bit word
    above its second."""
    try:
        if owner in ("numpy", "torch"):
            hi, lo = k.tolist()  # one call instead of two element reads
        else:
            hi, lo = k[0], k[1]
        return ((int(hi) & 0xFFFFFFFF) << 32) | (int(lo) & 0xFFFFFFFF)
    except Exception as e:  # e.g. a traced JAX key used with non-JAX arrays
        raise TypeError(
            f"this key ({type(k).__module__}.{type(k).__name__}) cannot be read as integers here: {e}"
        ) from None


def _key_in(b: Backend, k: Any, owner: str | None) -> Any:
    """Key array ``k`` (of library ``owner``) as an array of backend ``b`` (traced JAX
    keys stay traced)."""
    if owner == b.kind:
        return k
    seed = _seed64(k, owner)
    return _words_array(b, [seed >> 32, seed & 0xFFFFFFFF])


def _clip_open(xp: Any, u: Any, dtype: Any) -> Any:
    """Clamp uniforms into the open interval (0, 1)."""
    fi = xp.finfo(dtype)
    return xp.clip(u, float(fi.smallest_normal), 1.0 - float(fi.eps) / 2)


# ------------------------------------------------------------------ native streams
# A key draws from a native generator set to a state that depends on the key alone.
# The generator objects are kept, one per thread (and device), and reset on every call:
# making a NumPy Philox reads OS entropy first (~9 µs), a torch.Generator costs ~1 µs.
# Each draw uses its generator once, right away, so sharing within a thread is safe.
_LOCAL = threading.local()


def _numpy_keyed(b: Backend, k: Any, owner: str | None) -> Any:
    """``Generator(Philox(key=seed))`` in its initial state (the same numbers), for the
    64-bit seed of key ``k``."""
    seed = _seed64(k, owner)
    try:
        bg, rng, zeros, key = _LOCAL.numpy
    except AttributeError:
        np = sys.modules["numpy"]  # imported: a NumPy array brought us here
        bg = np.random.Philox(key=seed)
        rng = np.random.Generator(bg)
        zeros, key = np.zeros(4, np.uint64), np.zeros(2, np.uint64)
        _LOCAL.numpy = (bg, rng, zeros, key)
    key[0] = seed  # the state setter copies the values, so the arrays are reused
    bg.state = {
        "bit_generator": "Philox",
        "state": {"counter": zeros, "key": key},
        "buffer": zeros,
        "buffer_pos": 4,
        "has_uint32": 0,
        "uinteger": 0,
    }
    return rng


def _torch_keyed(b: Backend, k: Any, owner: str | None) -> Any:
    """A ``torch.Generator`` on ``b``'s device seeded with the 64-bit seed of key ``k``."""
    seed = _seed64(k, owner)
    try:
        cache = _LOCAL.torch
    except AttributeError:
        cache = _LOCAL.torch = {}
    device = b.device
    g = cache.get(device)
    if g is None:
        g = cache[device] = sys.modules["torch"].Generator(device=device)
    g.manual_seed(seed)
    return g


# One drawer per backend kind with a native generator, ``(b, rng, what, shape, dt) ->
# array``, and how that kind turns a key into its ``rng`` (a generator; JAX: its key).
def _numpy_native(b: Backend, rng: Any, what: str, shape: tuple, dt: Any) -> Any:
    if what == "normal":
        return rng.standard_normal(shape, dtype=dt)
    if what == "uniform01":
        return rng.random(shape, dtype=dt)
    np = sys.modules["numpy"]  # imported: a NumPy array or generator brought us here
    if what == "uniform":
        u = rng.random(shape, dtype=dt)
        fi = np.finfo(dt)
        return np.clip(u, fi.smallest_normal, 1.0 - fi.eps / 2, out=u)
    if what != "gumbel":
        raise ValueError(f"unknown noise kind {what!r}")
    e = rng.standard_exponential(shape, dtype=dt)
    np.maximum(e, np.finfo(dt).smallest_normal, out=e)
    np.log(e, out=e)
    return np.negative(e, out=e)


def _torch_native(b: Backend, g: Any, what: str, shape: tuple, dt: Any) -> Any:
    torch = sys.modules["torch"]  # imported: a torch array brought us here
    # torch parses a size given as separate ints faster than as one tuple (~0.6 µs a
    # call); the empty shape has to be the tuple.
    size = shape or ((),)
    if what == "normal":
        return torch.randn(*size, generator=g, dtype=dt, device=b.device)
    if what == "uniform01":
        return torch.rand(*size, generator=g, dtype=dt, device=b.device)
    fi = torch.finfo(dt)
    u = torch.rand(*size, generator=g, dtype=dt, device=b.device).clamp_(fi.tiny, 1.0 - fi.eps / 2)
    if what == "uniform":
        return u
    if what != "gumbel":
        raise ValueError(f"unknown noise kind {what!r}")
    return u.log_().neg_().log_().neg_()  # -log(-log u), in place (exponential_ is 2-4x slower)


def _jax_native(b: Backend, k: Any, what: str, shape: tuple, dt: Any) -> Any:
    import jax

    if what == "normal":
        return jax.random.normal(k, shape, dt)
    if what in ("uniform", "uniform01"):
        xp = b.xp
        return _clip_open(xp, jax.random.uniform(k, shape, dt, minval=float(xp.finfo(dt).smallest_normal)), dt)
    if what != "gumbel":
        raise ValueError(f"unknown noise kind {what!r}")
    return jax.random.gumbel(k, shape, dt)


def _cupy_native(b: Backend, rs: Any, what: str, shape: tuple, dt: Any) -> Any:
    if what == "normal":
        return rs.standard_normal(shape, dtype=dt)
    xp = b.xp
    u = _clip_open(xp, rs.random_sample(shape, dtype=dt), dt)
    if what in ("uniform", "uniform01"):
        return u
    if what != "gumbel":
        raise ValueError(f"unknown noise kind {what!r}")
    return -xp.log(-xp.log(u))


def _cupy_keyed(b: Backend, k: Any, owner: str | None) -> Any:
    import cupy

    return cupy.random.RandomState(_seed64(k, owner))


# kind -> (keyed, drawer): keyed(b, key array, its library) gives the drawer's rng.
_NATIVE = {
    "numpy": (_numpy_keyed, _numpy_native),
    "torch": (_torch_keyed, _torch_native),
    "jax": (_key_in, _jax_native),
    "cupy": (_cupy_keyed, _cupy_native),
}


# ---------------------------------------------------------------- portable stream
def _portable(b: Backend, src: Source, what: str, shape: tuple, dt: Any) -> Any:
    from . import threefry

    if src.kind == "generator":
        raise TypeError("the portable stream needs a key (ds.random.key(seed)), not a generator")
    xp = b.xp
    k = _key_in(b, src.value, src.owner)
    if dt == xp.float64:
        hi, lo = threefry.random_bits(xp, k, shape, device=b.device, width=64)
        u = threefry.uniform_from_bits(xp, hi, lo, dtype=dt)
    else:
        u = threefry.uniform_from_bits(xp, threefry.random_bits(xp, k, shape, device=b.device), dtype=dt)
    if what in ("uniform", "uniform01"):
        return u
    if what == "normal":
        from .._lib.special import ndtri

        return ndtri(u)
    if what != "gumbel":  # as the native drawers: the kept drawers skip draw's check
        raise ValueError(f"unknown noise kind {what!r}")
    return -xp.log(-xp.log(u))


def draw(what: str, key: Any, shape: tuple, b: Backend, dtype: Any) -> Any:
    """Draw base noise of kind ``what`` for backend ``b`` (the samplers' entry point).

    ``what``: ``"uniform"`` (strictly inside (0, 1)), ``"uniform01"`` (in [0, 1): the
    native generator's output unclamped; inside (0, 1) where the stream clamps anyway),
    ``"normal"`` or ``"gumbel"``.  ``shape`` is a tuple of Python ints.  ``dtype`` is widened to float32 when
    narrower; the result has that compute dtype.  Backends without a native
    generator (array_api_strict, dask, ...) always use the portable stream.
    """
    if what not in _KINDS:
        raise ValueError(f"unknown noise kind {what!r}")
    try:
        drawer = DRAWERS.get((b.kind, dtype, type(key)), _UNSET)
    except TypeError:  # an unhashable dtype object
        drawer = None
    if drawer is _UNSET:
        drawer = fast_drawer(key, b, dtype)
    if drawer is not None:  # the common cases: draw's decisions known for this key type
        return drawer(b, key, what, shape, dtype)
    return _draw(what, key, shape, b, compute_dtype(b, dtype))


def _draw(what: str, key: Any, shape: tuple, b: Backend, dt: Any) -> Any:
    """:func:`draw` at compute dtype ``dt`` the general way, from ``resolve_source``."""
    src = resolve_source(key)
    native = _NATIVE.get(b.kind)
    if src.kind == "generator":
        if src.owner != b.kind:
            raise TypeError(f"a {src.owner} generator cannot draw noise for {b.kind} arrays; pass a key instead")
        if native is None:  # pragma: no cover - every generator type we accept has a drawer
            raise TypeError(f"no native generator for {b.kind} arrays; pass a key instead")
        return native[1](b, src.value, what, shape, dt)
    if native is not None and _STREAM.get() == "native":
        keyed, drawer = native
        return drawer(b, keyed(b, src.value, src.owner), what, shape, dt)
    return _portable(b, src, what, shape, dt)


def _key_drawer(b: Backend, key: Any, what: str, shape: tuple, dt: Any) -> Any:
    """The drawer for key arrays that :func:`fast_drawer` hands out: :func:`_draw`'s
    decisions made once, the stream asked on every call."""
    if _STREAM.get() != "native":
        return _draw(what, key, shape, b, dt)
    if key.shape != (2,):  # (a list or other sequence equal to (2,) passes the check)
        _check_key_array(key)
    keyed, drawer = _NATIVE[b.kind]
    return drawer(b, keyed(b, key, _TYPE_CACHE[type(key)][0]), what, shape, dt)


_UNSET = object()

# (backend kind, dtype, key type) -> the drawer for that kind of key, or None: filled
# by fast_drawer, read by draw.
DRAWERS: dict[tuple, Any] = {}


def fast_drawer(key: Any, b: Backend, dtype: Any) -> Any:
    """A drawer ``(b, key, what, shape, dtype) -> noise`` that gives what :func:`draw`
    gives for keys of this type, or ``None``; kept in ``DRAWERS`` by (backend kind,
    dtype, key type), so that :func:`draw` called again with such a key skips its
    general steps.

    There is one when ``dtype`` is backend ``b``'s own compute dtype (float32/float64)
    and ``b`` has a native generator, for ``key`` either ``b``'s own generator (its
    draws do not depend on the stream setting) or a key array of a library other than
    JAX (JAX keys may be typed; the stream is asked on every call).  The drawers
    reject unknown noise kinds.
    """
    src = resolve_source(key)
    drawer = None
    if b.kind in _NATIVE and compute_dtype(b, dtype) == dtype:
        if src.kind == "generator" and src.owner == b.kind:
            drawer = _NATIVE[b.kind][1]
        elif src.kind == "key" and type(key) is type(src.value) and src.owner != "jax":
            drawer = _key_drawer
    try:
        DRAWERS[b.kind, dtype, type(key)] = drawer
    except TypeError:  # an unhashable dtype object: not kept
        pass
    return drawer


def _public(what: str, key: Any, shape: Any, dtype: Any, like: Any) -> Any:
    b = backend_of(like) if like is not None else _backend_for_source(key)
    if dtype is None:
        lk = getattr(like, "dtype", None)
        dtype = lk if lk is not None and b.xp.isdtype(lk, "real floating") else default_float(b)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return draw(what, key, tuple(int(s) for s in shape), b, dtype)


def _backend_for_source(key: Any) -> Backend:
    src = resolve_source(key)
    if src.kind == "key":
        return backend_of(src.value)
    return backend_of() if src.owner == "numpy" else _generator_backend(src)


def _generator_backend(src: Source) -> Backend:
    if src.owner == "torch":
        import torch

        return backend_of(torch.empty(0, device=src.value.device))
    import cupy

    return backend_of(cupy.empty(0))


def uniform(key: Any, shape: Any = (), dtype: Any = None, *, like: Any = None) -> Any:
    """Uniform draws strictly inside (0, 1).

    Parameters
    ----------
    key : key array, int or generator
        Source of noise (see :func:`diffsample.random.key`).
    shape : int or tuple of int
        Output shape.
    dtype : dtype, optional
        float32 or float64 (narrower types draw in float32); default: the dtype of
        ``like`` if it is floating, else the namespace's default floating dtype.
    like : array, optional
        Draw in this array's library and device (default: the key's).

    Examples
    --------
    >>> import diffsample as ds
    >>> ds.random.uniform(ds.random.key(1), (2,)).shape
    (2,)
    """
    return _public("uniform", key, shape, dtype, like)


def normal(key: Any, shape: Any = (), dtype: Any = None, *, like: Any = None) -> Any:
    """Standard normal draws (see :func:`uniform` for the parameters).

    Examples
    --------
    >>> import diffsample as ds
    >>> ds.random.normal(ds.random.key(1), (2, 3)).shape
    (2, 3)
    """
    return _public("normal", key, shape, dtype, like)


def gumbel(key: Any, shape: Any = (), dtype: Any = None, *, like: Any = None) -> Any:
    """Standard Gumbel draws, always finite (see :func:`uniform` for the parameters).

    Examples
    --------
    >>> import diffsample as ds
    >>> ds.random.gumbel(ds.random.key(1), 4).shape
    (4,)
    """
    return _public("gumbel", key, shape, dtype, like)


def bits(key: Any, shape: Any = (), *, like: Any = None) -> Any:
    """Portable random 32-bit words, equal to ``jax.random.bits(key, shape)``.

    On torch, which has no 32-bit unsigned arithmetic, the words are int64 values
    in ``[0, 2**32)``.

    Examples
    --------
    >>> import diffsample as ds
    >>> ds.random.bits(ds.random.key(0), (2,)).dtype
    dtype('uint32')
    """
    from . import threefry

    src = resolve_source(key)
    if src.kind != "key":
        raise TypeError("bits needs a key (ds.random.key(seed)), not a generator")
    b = backend_of(like) if like is not None else backend_of(src.value)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return threefry.random_bits(b.xp, _key_in(b, src.value, src.owner), shape, device=b.device)
