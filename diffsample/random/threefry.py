"""Portable counter-based random stream: Threefry-2x32 (20 rounds).

The same bits come out on every array-API backend and device, and they equal
``jax.random.bits`` for the same raw key (JAX's default, *partitionable* Threefry
mode).  For a key ``(k0, k1)`` and an output ``shape``, element number ``i`` of the
flattened output is produced from the 64-bit counter ``i``, split into the words
``(i >> 32, i & 0xFFFFFFFF)``::

    y0, y1 = threefry2x32(k0, k1, i >> 32, i & 0xFFFFFFFF)
    bits32 = y0 ^ y1                  # width=32
    bits64 = (y0 << 32) | y1          # width=64, returned as the pair (y0, y1)

``split(key, n)`` is the same construction over the shape ``(n,)``, keeping the pair:
``keys[i] = (y0, y1)``.

Word representation
-------------------
Words are unsigned 32-bit integers wherever the backend can add and shift them
(NumPy, JAX, CuPy, array_api_strict).  PyTorch on the CPU implements neither
addition nor shifts for ``torch.uint32``; there the hash runs on ``int32`` words
(wrapping addition, masked right shifts) and the results are returned as
``torch.int64`` tensors holding values in ``[0, 2**32)``, the same convention as
diffsample's keys on torch.  The choice is made in one place, :func:`_word_dtype`.

Fast paths
----------
On NumPy, and on PyTorch on the CPU, ``random_bits`` runs the hash in cache-sized
chunks with in-place operations and a precomputed key schedule (:class:`_Inplace`).
The bits are exactly those of the generic array-API code, which it beats by about
6x on NumPy (roughly 10 instead of 60 ns per word) and by 2-10x on torch.  JAX runs
the generic code as one jitted function.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

__all__ = ["threefry2x32", "random_bits", "split", "uniform_from_bits"]

_MASK32 = 0xFFFFFFFF
_PARITY = 0x1BD11BDA  # Threefry key-schedule parity constant
# Rotation distances of the four rounds of each odd (index 0) and even (index 1)
# block of Threefry-2x32.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


# --------------------------------------------------------------------- namespaces
def _ns_name(xp: Any) -> str:
    return getattr(xp, "__name__", "") or ""


def _is_numpy_ns(xp: Any) -> bool:
    return _ns_name(xp) in ("numpy", "array_api_compat.numpy")


def _is_torch_ns(xp: Any) -> bool:
    name = _ns_name(xp)
    return name == "torch" or name.startswith("array_api_compat.torch")


def _word_dtype(xp: Any) -> tuple[Any, Any]:
    """The integer dtypes of one 32-bit word in namespace ``xp``: ``(compute, result)``.

    ``(uint32, uint32)`` wherever the namespace can add and shift ``uint32``
    (NumPy, JAX, CuPy, array_api_strict).  On PyTorch, whose ``uint32`` tensors
    lack addition and shifts, the hash computes in ``int32`` (two's-complement
    wrapping addition, right shifts masked to make them logical) and returns
    ``int64`` tensors holding values in ``[0, 2**32)``.  ``int32`` was measured
    about six times faster than ``int64`` with a mask after every addition and
    left shift (torch 2.13, CPU, 10**6 words), as it halves the memory traffic.
    This is the one place where the representation is chosen.
    """
    if _is_torch_ns(xp):
        return xp.int32, xp.int64
    return xp.uint32, xp.uint32


class _Words:
    """Modular 32-bit word arithmetic in one namespace (see :func:`_word_dtype`)."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self.dtype, self.result_dtype = _word_dtype(xp)
        self.signed = self.dtype != self.result_dtype

    def c(self, v: Any) -> Any:
        """A word as an operand: Python ints in ``[0, 2**32)`` become in-range ints."""
        if isinstance(v, int) and self.signed and v >= 2**31:
            return v - 2**32
        return v

    def add(self, a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            return (a + b) & _MASK32
        return self.c(a) + self.c(b)

    def rotl(self, x: Any, r: int) -> Any:
        if self.signed:  # arithmetic right shift: keep only the r shifted-in bits
            return (x << r) | ((x >> (32 - r)) & ((1 << r) - 1))
        return (x << r) | (x >> (32 - r))

    def word(self, v: Any) -> Any:
        """A Python int, or an integer array (0-d included), in the compute dtype."""
        if isinstance(v, int):
            return operator.index(v) & _MASK32
        if v.dtype != self.dtype:
            v = self.xp.astype(v, self.dtype)  # wraps modulo 2**32 on every backend
        return v

    def result(self, v: Any) -> Any:
        """Words in the result dtype, with values in ``[0, 2**32)``."""
        if self.signed:
            return self.xp.astype(v, self.result_dtype) & _MASK32
        return v


def _hash(w: _Words, k0: Any, k1: Any, x0: Any, x1: Any) -> tuple[Any, Any]:
    """Threefry-2x32-20 in the compute dtype of ``w``.

    ``k0``, ``k1`` are Python ints in ``[0, 2**32)`` or 0-d word arrays; ``x0`` may be
    a Python int (a constant high counter word), ``x1`` is an array.
    """
    if isinstance(k0, int) and isinstance(k1, int):
        k2 = k0 ^ k1 ^ _PARITY
    else:
        k2 = w.c(k0) ^ w.c(k1) ^ _PARITY
    ks = (k0, k1, k2)
    # Words injected after block j: (ks[j], ks[j+1] + j), folded where they are ints.
    inj = [(ks[j % 3], w.add(ks[(j + 1) % 3], j)) for j in range(1, 6)]
    x0 = w.add(x0, k0)
    x1 = w.add(x1, k1)
    for j in range(5):
        for r in _ROTATIONS[j % 2]:
            x0 = w.add(x0, x1)
            x1 = w.rotl(x1, r) ^ x0
        a, b = inj[j]
        x0 = w.add(x0, a)
        x1 = w.add(x1, b)
    return x0, x1


# ------------------------------------------------------------------------ keys
def _is_tracer(x: Any) -> bool:
    mod = type(x).__module__
    if not (mod.startswith("jax") or mod.startswith("jaxlib")):
        return False
    import jax

    return isinstance(x, jax.core.Tracer)


def _same_library(xp: Any, a: Any) -> bool:
    """Whether array ``a`` belongs to the array library behind namespace ``xp``."""
    root = type(a).__module__.split(".", 1)[0]
    if root == "jaxlib":
        root = "jax"
    name = _ns_name(xp)
    if name.startswith("array_api_compat."):
        name = name[len("array_api_compat."):]
    return name.split(".", 1)[0] == root


def _host_ints(a: Any) -> list[int]:
    """The values of a small integer array of any library, as Python ints."""
    import numpy as np

    if hasattr(a, "get") and type(a).__module__.split(".", 1)[0] == "cupy":
        a = a.get()
    elif type(a).__module__.split(".", 1)[0] == "torch":
        a = a.detach().cpu()
    return [int(v) for v in np.asarray(a).reshape(-1).tolist()]


def _key_words(xp: Any, w: _Words, key: Any) -> tuple[Any, Any]:
    """The two key words, as Python ints where cheap, else as 0-d word arrays.

    Python ints are used for NumPy and array_api_strict keys (and for keys that are
    lists, tuples or arrays of another library); keys of JAX, PyTorch and CuPy that
    belong to ``xp`` stay on their device as 0-d arrays, so that no device
    synchronisation happens and traced JAX keys work under ``jax.jit``.
    """
    if isinstance(key, (list, tuple)):
        vals = [operator.index(v) for v in key]
    elif _same_library(xp, key) and (_is_tracer(key) or not (_is_numpy_ns(xp) or "strict" in _ns_name(xp))):
        if tuple(key.shape) != (2,):
            raise ValueError(f"key must have shape (2,), got {tuple(key.shape)}")
        return w.word(key[0]), w.word(key[1])
    else:
        vals = _host_ints(key)
    if len(vals) != 2:
        raise ValueError(f"key must hold two 32-bit words, got {len(vals)} values")
    return vals[0] & _MASK32, vals[1] & _MASK32


def _scalar_word(w: _Words, v: Any) -> Any:
    if isinstance(v, int) or not hasattr(v, "dtype"):
        return operator.index(v) & _MASK32
    if not _is_tracer(v) and (_is_numpy_ns(w.xp) or "strict" in _ns_name(w.xp)):
        return int(v) & _MASK32
    return w.word(v)


# --------------------------------------------------------------------- public
def threefry2x32(xp: Any, k0: Any, k1: Any, x0: Any, x1: Any) -> tuple[Any, Any]:
    """Apply the Threefry-2x32 block cipher (20 rounds) elementwise.

    Parameters
    ----------
    xp : namespace
        Array-API namespace of the computation.
    k0, k1 : int or 0-d integer array
        The two key words (taken modulo ``2**32``).  Traced JAX arrays work.
    x0, x1 : integer arrays
        The two counter words, of one shape, with values in ``[0, 2**32)``.

    Returns
    -------
    y0, y1 : arrays
        The two output words: ``uint32``, or on PyTorch ``int64`` holding values
        in ``[0, 2**32)``.

    Examples
    --------
    >>> import numpy as np
    >>> y0, y1 = threefry2x32(np, 0, 0, np.zeros(1, np.uint32), np.zeros(1, np.uint32))
    >>> hex(int(y0[0])), hex(int(y1[0]))
    ('0x6b200159', '0x99ba4efe')
    """
    w = _Words(xp)
    k0 = _scalar_word(w, k0)
    k1 = _scalar_word(w, k1)
    x0 = w.word(x0)
    x1 = w.word(x1)
    if tuple(x0.shape) != tuple(x1.shape):
        raise ValueError(f"x0 and x1 must have one shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    if _is_numpy_ns(xp) and isinstance(k0, int) and isinstance(k1, int):
        import numpy as np

        y0 = np.array(x0, dtype=np.uint32, copy=True)
        y1 = np.array(x1, dtype=np.uint32, copy=True)
        _np_hash_inplace(y0.reshape(-1), y1.reshape(-1), k0, k1)
        return y0, y1
    if _ns_name(xp).startswith("jax"):
        # One jitted call (arrays for the key, so that new keys do not recompile).
        k0, k1 = (xp.asarray(k, dtype=xp.uint32) for k in (k0, k1))
        return _jax_hash()(k0, k1, x0, x1)
    y0, y1 = _hash(w, k0, k1, x0, x1)
    return w.result(y0), w.result(y1)


def _normalize_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int) or hasattr(shape, "__index__"):
        shape = (operator.index(shape),)
    shape = tuple(operator.index(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative, got {shape}")
    return shape


def _counters(xp: Any, w: _Words, n: int, device: Any) -> tuple[Any, Any]:
    """The words ``(i >> 32, i & 0xFFFFFFFF)`` of ``i = 0 .. n-1``.

    Below ``2**32`` elements the high word is the Python int 0 (no array).
    """
    kw = {} if device is None else {"device": device}
    limit = 2**31 if w.signed else 2**32
    if n <= limit:
        return 0, xp.arange(n, dtype=w.dtype, **kw)
    i = xp.arange(n, dtype=xp.int64, **kw)  # pragma: no cover - needs > 8 GiB
    hi = 0 if n <= 2**32 else w.word(i >> 32)  # pragma: no cover
    return hi, w.word(i & _MASK32)  # pragma: no cover


def _default_device(key: Any, xp: Any) -> Any:
    if not _same_library(xp, key) or _is_tracer(key):
        return None
    try:
        dev = key.device
    except Exception:  # e.g. a JAX array sharded over several devices
        return None
    return None if callable(dev) else dev


def random_bits(xp: Any, key: Any, shape: Any, *, device: Any = None, width: int = 32) -> Any:
    """Portable random bits, equal to ``jax.random.bits`` for the same raw key.

    Parameters
    ----------
    xp : namespace
        Array-API namespace of the result.
    key : array of shape (2,)
        Raw Threefry key: two 32-bit words, as an integer array of ``xp``'s library
        (traced under ``jax.jit`` is fine), or of another library on the host (for
        example a NumPy array), or a pair of Python ints.
    shape : int or tuple of int
        Shape of the result.
    device : device, optional
        Where to create the result (default: the key's device when the key belongs
        to ``xp``'s library, else the namespace's default).
    width : {32, 64}
        ``32`` returns one word per element, equal to
        ``jax.random.bits(key, shape, dtype=jnp.uint32)``.  ``64`` returns the pair
        ``(hi, lo)`` of words whose value ``hi * 2**32 + lo`` equals
        ``jax.random.bits(key, shape, dtype=jnp.uint64)`` (no 64-bit unsigned
        integers are needed).

    Returns
    -------
    bits : array, or tuple of two arrays for ``width=64``
        ``uint32`` words; on PyTorch ``int64`` tensors holding values in
        ``[0, 2**32)``.

    Examples
    --------
    >>> import numpy as np
    >>> random_bits(np, np.array([0, 0], np.uint32), (3,))
    array([4070199207, 4202968722, 1427181096], dtype=uint32)
    """
    if width not in (32, 64):
        raise ValueError(f"width must be 32 or 64, got {width}")
    shape = _normalize_shape(shape)
    w = _Words(xp)
    k0, k1 = _key_words(xp, w, key)
    n = math.prod(shape)
    if _is_numpy_ns(xp) and isinstance(k0, int):
        return _np_random_bits(k0, k1, n, shape, width)
    if device is None:
        device = _default_device(key, xp)
    if _is_torch_ns(xp) and n > _TORCH_MIN and _torch_cpu_ok(key, device):
        return _torch_random_bits(int(k0) & _MASK32, int(k1) & _MASK32, n, shape, width)
    return _generic(xp, k0, k1, shape, f"bits{width}", device)


def _generic(xp: Any, k0: Any, k1: Any, shape: tuple[int, ...], what: str, device: Any) -> Any:
    """The array-API computation of ``what`` in ``("bits32", "bits64", "split")``.

    On JAX it runs as one jitted function (inlined when already under a trace), so
    that eager calls do not dispatch some 150 operations one by one.
    """
    if _ns_name(xp).startswith("jax"):
        return _jax_generic(k0, k1, shape, what, device)
    return _compute(xp, k0, k1, shape, what, device)


def _compute(xp: Any, k0: Any, k1: Any, shape: tuple[int, ...], what: str, device: Any) -> Any:
    w = _Words(xp)
    hi, lo = _counters(xp, w, math.prod(shape), device)
    y0, y1 = _hash(w, k0, k1, hi, lo)
    if what == "bits32":
        return xp.reshape(w.result(y0 ^ y1), shape)
    if what == "bits64":
        return xp.reshape(w.result(y0), shape), xp.reshape(w.result(y1), shape)
    return xp.reshape(xp.stack([w.result(y0), w.result(y1)], axis=-1), (*shape, 2))


@functools.lru_cache(maxsize=256)
def _jax_fn(shape: tuple[int, ...], what: str) -> Any:
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda k0, k1: _compute(jnp, k0, k1, shape, what, None))


@functools.lru_cache(maxsize=1)
def _jax_hash() -> Any:
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda k0, k1, x0, x1: _hash(_Words(jnp), k0, k1, x0, x1))


def _jax_generic(k0: Any, k1: Any, shape: tuple[int, ...], what: str, device: Any) -> Any:
    import jax
    import jax.numpy as jnp

    # Key words as uint32 arrays, so that a new key does not recompile.
    k0, k1 = (jnp.asarray(k, dtype=jnp.uint32) for k in (k0, k1))
    if device is not None and not _is_tracer(k0):
        k0, k1 = jax.device_put(k0, device), jax.device_put(k1, device)
    return _jax_fn(shape, what)(k0, k1)


def split(xp: Any, key: Any, num: Any = 2) -> Any:
    """Split a raw Threefry key into new keys, equal to ``jax.random.split``.

    Parameters
    ----------
    xp : namespace
        Array-API namespace of the result.
    key : array of shape (2,)
        Raw Threefry key, as for :func:`random_bits`.
    num : int or tuple of int
        Number of keys (or the shape of the array of keys).

    Returns
    -------
    keys : array of shape (num, 2)
        ``keys[i]`` is a key; words as in :func:`random_bits`.

    Examples
    --------
    >>> import numpy as np
    >>> split(np, np.array([0, 0], np.uint32), 2)
    array([[1797259609, 2579123966],
           [ 928981903, 3453687069]], dtype=uint32)
    """
    shape = _normalize_shape(num)
    k0, k1 = _key_words(xp, _Words(xp), key)
    return _generic(xp, k0, k1, shape, "split", _default_device(key, xp))


def uniform_from_bits(xp: Any, bits: Any, lo: Any = None, *, dtype: Any = None) -> Any:
    """Uniform floats strictly inside (0, 1) from random words, without bitcasts.

    Parameters
    ----------
    xp : namespace
        Array-API namespace.
    bits : integer array
        32-bit words (``random_bits(..., width=32)``) for ``float32``; the high
        words of the pair (``random_bits(..., width=64)``) for ``float64``.
    lo : integer array, optional
        The low words of the pair; required for ``float64``.
    dtype : dtype, optional
        ``xp.float32`` or ``xp.float64`` (or their names).  Default: ``float32``
        for a single word array, ``float64`` for a pair.

    Returns
    -------
    u : array of ``dtype``
        ``float32``: ``(k + 0.5) * 2**-23`` with ``k = bits >> 9`` the top 23 bits,
        so ``2**-24 <= u <= 1 - 2**-24``.
        ``float64``: ``(k + 0.5) * 2**-52`` with ``k = hi * 2**20 + (lo >> 12)``
        the top 52 bits of the 64-bit value, so ``2**-53 <= u <= 1 - 2**-53``.
        Every value is computed exactly, so all backends agree bit for bit.

    Examples
    --------
    >>> import numpy as np
    >>> uniform_from_bits(np, np.array([0, 2**32 - 1], np.uint32))
    array([5.9604645e-08, 9.9999994e-01], dtype=float32)
    """
    if dtype is None:
        dtype = xp.float32 if lo is None else xp.float64
    elif isinstance(dtype, str):
        dtype = getattr(xp, dtype)
    if dtype == xp.float32:
        if lo is not None:
            raise ValueError("float32 uniforms take one word array (width=32 bits), not a pair")
        k = xp.astype(bits >> 9, xp.float32)  # < 2**23: exact
        return (k + 0.5) * (2.0**-23)
    if dtype == xp.float64:
        if lo is None:
            raise ValueError("float64 uniforms need the 64-bit pair: random_bits(..., width=64)")
        k = xp.astype(bits, xp.float64) * (2.0**20) + xp.astype(lo >> 12, xp.float64)  # < 2**52: exact
        return (k + 0.5) * (2.0**-52)
    raise ValueError(f"dtype must be float32 or float64, got {dtype}")


# ------------------------------------------------------------ in-place fast paths
# NumPy, and PyTorch on the CPU, run the hash in cache-sized chunks with in-place
# operations (``out=``), so that no temporary arrays are allocated and the words
# stay in cache through all 20 rounds.  Both libraries name the functions alike:
# add, bitwise_{and,or,xor}, and the shifts (left_shift/right_shift on NumPy).

_CHUNK = 1 << 16  # elements per chunk: three word buffers (768 KiB) stay in L2
_TORCH_MIN = 4096  # below this many words torch's generic code is as fast (both ~0.35 ms)


class _Inplace:
    """Precomputed operands of the in-place kernel for one library and one key.

    ``lib`` is ``numpy`` (uint32 words, operands as ``numpy.uint32`` scalars) or
    ``torch`` (int32 words, operands as Python ints in the int32 range, right
    shifts followed by a mask to make them logical).
    """

    def __init__(self, lib: Any, signed: bool, k0: int, k1: int, device: Any = None) -> None:
        self.lib = lib
        self.signed = signed
        self.kw = {} if device is None else {"device": device}
        # NumPy < 2 names its shifts left_shift/right_shift only.
        self.shl = getattr(lib, "left_shift", None) or lib.bitwise_left_shift
        self.shr = getattr(lib, "right_shift", None) or lib.bitwise_right_shift
        if signed:
            self.dtype = lib.int32
            self.w = lambda v: v - 2**32 if v >= 2**31 else v
        else:
            self.dtype = lib.uint32
            self.w = lib.uint32
        k2 = k0 ^ k1 ^ _PARITY
        ks = (k0, k1, k2)
        self.k0, self.k1 = k0, k1
        # (left shift, right shift, mask or None) for the 4 rounds of each block.
        self.shifts = [
            [(self.w(r), self.w(32 - r), self.w((1 << r) - 1) if signed else None) for r in _ROTATIONS[j % 2]]
            for j in range(5)
        ]
        # Words injected after block j: (ks[j], ks[j+1] + j) mod 2**32.
        self.inj = [(self.w(ks[j % 3]), self.w((ks[(j + 1) % 3] + j) & _MASK32)) for j in range(1, 6)]

    def empty(self, n: int) -> Any:
        return self.lib.empty(n, dtype=self.dtype, **self.kw)

    def rounds(self, x0: Any, x1: Any, t: Any, c0: Any = None) -> None:
        """20 rounds and 5 key injections, in place on ``x0``, ``x1`` (scratch ``t``).

        ``x0``, ``x1`` must hold the counters plus the first key injection.  If
        ``c0`` is given, ``x0`` is the constant ``c0`` and its buffer is not read.
        """
        lib = self.lib
        add, shl, shr = lib.add, self.shl, self.shr
        band, bor, bxor = lib.bitwise_and, lib.bitwise_or, lib.bitwise_xor
        for j in range(5):
            for r, rr, mask in self.shifts[j]:
                if c0 is not None:
                    add(x1, c0, out=x0)
                    c0 = None
                else:
                    add(x0, x1, out=x0)
                shr(x1, rr, out=t)
                if mask is not None:
                    band(t, mask, out=t)
                shl(x1, r, out=x1)
                bor(x1, t, out=x1)
                bxor(x1, x0, out=x1)
            a, b = self.inj[j]
            add(x0, a, out=x0)
            add(x1, b, out=x1)

    def random_bits(self, n: int, width: int, start: int = 0) -> tuple[Any, Any]:
        """Words ``(y0, y1)`` (``y0`` is None for width 32: ``y1`` holds ``y0 ^ y1``).

        Element ``i`` uses the counter ``start + i``.  Chunks are aligned on
        multiples of ``_CHUNK`` (a power of two dividing ``2**32``; ``start`` must be
        such a multiple), so the high counter word is one constant in a chunk, and
        the first key injection into ``x0`` is folded into the first round.
        """
        if start % _CHUNK:
            raise ValueError("start must be a multiple of the chunk size")
        lib, w = self.lib, self.w
        y1 = self.empty(n)
        y0 = self.empty(n) if width == 64 else None
        c = min(n, _CHUNK)
        base = lib.arange(c, dtype=self.dtype, **self.kw)
        t = self.empty(c)
        x0buf = self.empty(c) if width == 32 else None
        for s in range(0, n, _CHUNK):
            e = min(s + _CHUNK, n)
            m = e - s
            ctr = start + s
            x1 = y1[s:e]
            x0 = x0buf[:m] if y0 is None else y0[s:e]
            # x1 = lo + k1 and x0 = hi + k0 (one constant in this chunk), mod 2**32.
            lib.add(base[:m], w(((ctr & _MASK32) + self.k1) & _MASK32), out=x1)
            c0 = w(((ctr >> 32) + self.k0) & _MASK32)
            self.rounds(x0, x1, t[:m], c0=c0)
            if y0 is None:
                lib.bitwise_xor(x1, x0, out=x1)
        return y0, y1

    def hash(self, x0: Any, x1: Any) -> None:
        """The full hash in place on flat word arrays ``x0``, ``x1``, chunk by chunk."""
        lib = self.lib
        n = x0.shape[0]
        t = self.empty(min(n, _CHUNK))
        for s in range(0, n, _CHUNK):
            e = min(s + _CHUNK, n)
            a, b = x0[s:e], x1[s:e]
            lib.add(a, self.w(self.k0), out=a)
            lib.add(b, self.w(self.k1), out=b)
            self.rounds(a, b, t[: e - s])


def _np_random_bits(k0: int, k1: int, n: int, shape: tuple[int, ...], width: int, start: int = 0) -> Any:
    """NumPy fast path of :func:`random_bits` (``start`` offsets the counters)."""
    import numpy as np

    y0, y1 = _Inplace(np, False, k0, k1).random_bits(n, width, start)
    if width == 64:
        return y0.reshape(shape), y1.reshape(shape)
    return y1.reshape(shape)


def _np_hash_inplace(x0: Any, x1: Any, k0: int, k1: int) -> None:
    import numpy as np

    _Inplace(np, False, k0, k1).hash(x0, x1)


def _torch_cpu_ok(key: Any, device: Any) -> bool:
    """Whether the torch CPU fast path applies: eager, concrete, on the CPU."""
    import torch

    from .._lib.namespace import is_concrete

    if torch.compiler.is_compiling():
        return False
    if device is None:
        get = getattr(torch, "get_default_device", None)
        device = get() if get is not None else torch.empty(()).device
    if torch.device(device).type != "cpu":
        return False
    if isinstance(key, torch.Tensor):
        return key.device.type == "cpu" and is_concrete(key)
    return True


def _torch_random_bits(k0: int, k1: int, n: int, shape: tuple[int, ...], width: int, start: int = 0) -> Any:
    """PyTorch CPU fast path of :func:`random_bits`: int64 words in ``[0, 2**32)``."""
    import torch

    y0, y1 = _Inplace(torch, True, k0, k1, device="cpu").random_bits(n, width, start)

    def out(y: Any) -> Any:
        return y.to(torch.int64).bitwise_and_(_MASK32).reshape(shape)

    if width == 64:
        return out(y0), out(y1)
    return out(y1)
