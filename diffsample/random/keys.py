"""Functional keys: ``key``, ``split``, and what a sampler accepts as its source of noise.

A diffsample key is the same thing as a raw JAX Threefry key: an unsigned 32-bit
array of shape ``(2,)`` (on torch, which lacks 32-bit unsigned arithmetic, an int64
array holding the two words).  It is an ordinary array, so under ``jax.jit`` it is a
traced input like any other.  Samplers also accept an ``int`` seed, a JAX typed key,
a ``torch.Generator``, a ``numpy.random.Generator`` or a CuPy generator.
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

from .._lib.namespace import _TYPE_CACHE, Backend, backend_of, kind_of

__all__ = ["key", "split", "KeyLike", "Source", "resolve_source"]

KeyLike = Any
_MASK32 = 0xFFFFFFFF


def _seed_words(seed: Any) -> tuple[int, int]:
    if isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not isinstance(seed, int):
        try:
            seed = operator.index(seed)
        except TypeError:
            raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}") from None
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"seed must lie in [-2**63, 2**64), got {seed}")
    seed &= (1 << 64) - 1  # two's complement, as jax.random.PRNGKey does
    return (seed >> 32) & _MASK32, seed & _MASK32


def key(seed: int, *, like: Any = None) -> Any:
    """Make a key from an integer seed.

    The key equals ``jax.random.PRNGKey(seed)`` (raw Threefry key data), so portable
    streams give the same bits as ``jax.random.bits`` for it.

    Parameters
    ----------
    seed : int
        In ``[-2**63, 2**64)``; negative seeds are taken modulo ``2**64`` as JAX does.
    like : array, optional
        Make the key in this array's library and device (default: NumPy).

    Returns
    -------
    key : array of shape (2,)
        uint32 words (int64 on torch).

    Examples
    --------
    >>> import diffsample as ds
    >>> ds.random.key(42)
    array([ 0, 42], dtype=uint32)
    """
    hi, lo = _seed_words(seed)
    b = backend_of(like)
    return _words_array(b, [hi, lo])


def _word_dtype(b: Backend) -> Any:
    return b.xp.int64 if b.kind == "torch" else b.xp.uint32


def _words_array(b: Backend, words: list[int]) -> Any:
    xp = b.xp
    if b.device is not None:
        return xp.asarray(words, dtype=_word_dtype(b), device=b.device)
    return xp.asarray(words, dtype=_word_dtype(b))


def _check_key_array(k: Any) -> None:
    if tuple(k.shape) != (2,):
        raise ValueError(
            f"key must be one key of shape (2,), got shape {tuple(k.shape)}; "
            "index a split key array (keys[i]) to get one key"
        )


def split(key: KeyLike, num: int = 2) -> Any:
    """Split a key into ``num`` new independent keys.

    Equals ``jax.random.split`` for the same raw key, on every backend.

    Parameters
    ----------
    key : array of shape (2,) or int
        The key to split (an int is first turned into ``key(seed)``).
    num : int
        How many keys to make (>= 1).

    Returns
    -------
    keys : array of shape (num, 2)
        In the key's library; ``keys[i]`` is a key.

    Examples
    --------
    >>> import diffsample as ds
    >>> k1, k2 = ds.random.split(ds.random.key(0))
    >>> k1.shape
    (2,)
    """
    num = operator.index(num)
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if isinstance(key, int):
        key = globals()["key"](key)
    key = _raw_key(key)
    _check_key_array(key)
    b = backend_of(key)
    from .threefry import split as _tf_split

    return _tf_split(b.xp, key, num)


def _raw_key(k: Any) -> Any:
    """JAX typed keys become their raw uint32 data; arrays pass through."""
    if kind_of(k) == "jax":
        import jax

        if jax.dtypes.issubdtype(k.dtype, jax.dtypes.prng_key):
            return jax.random.key_data(k)
    return k


class Source(NamedTuple):
    """A resolved source of noise: a raw key array, or a backend's own generator."""

    kind: str  # "key" or "generator"
    value: Any
    owner: str | None = None  # kind of library of a generator / key array


# Generator classes by (top-level module, class name); the types seen are cached.
_GENERATOR_NAMES = frozenset({("numpy", "Generator"), ("torch", "Generator"), ("cupy", "Generator"), ("cupy", "RandomState")})
_GENERATOR_TYPES: dict[type, str] = {}


def resolve_source(src: Any) -> Source:
    """Turn what a caller passed as ``key`` into a :class:`Source`.

    Accepts a key array, an ``int`` seed, a JAX typed key, a ``torch.Generator``, a
    ``numpy.random.Generator`` or a CuPy generator/RandomState.
    """
    if src is None:
        raise TypeError(
            "a key is required: pass ds.random.key(seed), an int seed, or your backend's "
            "generator (numpy.random.Generator, torch.Generator, a jax key, a CuPy generator)"
        )
    if isinstance(src, bool):
        raise TypeError(f"key must be a key array, an int seed or a generator, got {src!r}")
    t = type(src)
    owner = _GENERATOR_TYPES.get(t)
    if owner is not None:
        return Source("generator", src, owner)
    hit = _TYPE_CACHE.get(t)
    if hit is not None and hit[0] != "jax":  # a key array of a library seen before (JAX keys may be typed)
        _check_key_array(src)
        return Source("key", src, hit[0])
    if isinstance(src, int):
        return Source("key", key(src), "numpy")
    mod = type(src).__module__.split(".", 1)[0]
    name = type(src).__name__
    if (mod, name) in _GENERATOR_NAMES:
        _GENERATOR_TYPES[type(src)] = mod
        return Source("generator", src, mod)
    k = kind_of(src)
    if k is None:
        raise TypeError(
            f"key must be a key array, an int seed or a generator, got {type(src).__module__}."
            f"{type(src).__name__}"
        )
    src = _raw_key(src)
    _check_key_array(src)
    return Source("key", src, k)
