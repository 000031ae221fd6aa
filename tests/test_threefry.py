"""The portable Threefry-2x32 stream: known answers, equality with JAX, every backend."""

from __future__ import annotations

import numpy as np
import pytest

from diffsample.random import threefry as tf

M32 = 0xFFFFFFFF
SEEDS = [0, 1, 42, 2**40 + 7, -1]
SHAPES = [(), (1,), (7,), (3, 5), (1000,)]

# Random123 known-answer vectors for Threefry-2x32, 20 rounds: (key, counter, result).
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


# ---------------------------------------------------------------------- helpers
def seed_words(seed: int) -> np.ndarray:
    """The raw key of ``jax.random.PRNGKey(seed)``: the int64 seed's two words."""
    s = seed & (2**64 - 1)
    return np.array([(s >> 32) & M32, s & M32], dtype=np.uint32)


def word_dtype(be) -> str:
    """Words are uint32, except on torch: int64 holding values in [0, 2**32)."""
    return "int64" if be.kind == "torch" else "uint32"


def make_key(be, seed: int):
    return be.asarray(seed_words(seed), word_dtype(be))


def as_u64(be, a) -> np.ndarray:
    """A backend's word array as NumPy uint64, after checking dtype and range."""
    a = be.to_numpy(a)
    assert a.dtype == np.dtype(word_dtype(be)), a.dtype
    if a.dtype == np.int64:
        assert a.min(initial=0) >= 0 and a.max(initial=0) <= M32
    return a.astype(np.uint64)


@pytest.fixture(scope="module")
def jax_ref():
    """JAX on the CPU, for reference values."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    cpu = jax.devices("cpu")[0]

    class Ref:
        def key(self, seed):
            return jax.device_put(jnp.asarray(seed_words(seed)), cpu)

        def bits(self, seed, shape):
            with jax.default_device(cpu):
                return np.asarray(jax.random.bits(self.key(seed), shape, dtype=jnp.uint32))

        def bits64(self, seed, shape):
            with jax.enable_x64(True), jax.default_device(cpu):
                return np.asarray(jax.random.bits(self.key(seed), shape, dtype=jnp.uint64))

        def split(self, seed, num):
            with jax.default_device(cpu):
                return np.asarray(jax.random.split(self.key(seed), num))

        def hash(self, k, x0, x1):
            from jax.extend.random import threefry2x32_p

            with jax.default_device(cpu):
                u = lambda v: jnp.asarray(v, dtype=jnp.uint32)
                y0, y1 = threefry2x32_p.bind(u(k[0]), u(k[1]), u(x0), u(x1))
                return np.asarray(y0), np.asarray(y1)

    return Ref()


# ---------------------------------------------------------------- known answers
@pytest.mark.parametrize("key,ctr,expected", KAT)
def test_known_answers(be, key, ctr, expected):
    x0 = be.asarray(np.array([ctr[0]], np.uint32), word_dtype(be))
    x1 = be.asarray(np.array([ctr[1]], np.uint32), word_dtype(be))
    # Key words as Python ints and as 0-d arrays of the backend.
    for k0, k1 in [key, (be.asarray(key[0], word_dtype(be)), be.asarray(key[1], word_dtype(be)))]:
        y0, y1 = tf.threefry2x32(be.xp, k0, k1, x0, x1)
        got = (int(as_u64(be, y0)[0]), int(as_u64(be, y1)[0]))
        assert got == expected, [hex(v) for v in got]


@pytest.mark.parity  # compares against JAX: runs in the all-CPU cell, on every backend
def test_seed_words_match_prngkey(jax_ref):
    import jax

    with jax.enable_x64(True):
        for seed in SEEDS:
            np.testing.assert_array_equal(np.asarray(jax.random.PRNGKey(seed)), seed_words(seed))


# ------------------------------------------------------------- equality with JAX
@pytest.mark.parity  # compares against JAX: runs in the all-CPU cell, on every backend
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bits_equal_jax(be, jax_ref, seed, shape):
    got = tf.random_bits(be.xp, make_key(be, seed), shape)
    assert tuple(got.shape) == shape
    np.testing.assert_array_equal(as_u64(be, got), jax_ref.bits(seed, shape).astype(np.uint64))


@pytest.mark.parity  # compares against JAX: runs in the all-CPU cell, on every backend
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (1000,)], ids=str)
def test_bits64_pair_equal_jax(be, jax_ref, seed, shape):
    hi, lo = tf.random_bits(be.xp, make_key(be, seed), shape, width=64)
    assert tuple(hi.shape) == tuple(lo.shape) == shape
    got = (as_u64(be, hi) << np.uint64(32)) | as_u64(be, lo)
    np.testing.assert_array_equal(got, jax_ref.bits64(seed, shape))


@pytest.mark.parity  # compares against JAX: runs in the all-CPU cell, on every backend
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("num", [1, 2, 3, 16])
def test_split_equal_jax(be, jax_ref, seed, num):
    keys = tf.split(be.xp, make_key(be, seed), num)
    assert tuple(keys.shape) == (num, 2)
    np.testing.assert_array_equal(as_u64(be, keys), jax_ref.split(seed, num).astype(np.uint64))


@pytest.mark.parity  # compares against JAX: runs in the all-CPU cell, on every backend
def test_split_then_bits_equal_jax(be, jax_ref):
    import jax
    import jax.numpy as jnp

    sub = tf.split(be.xp, make_key(be, 3), 4)[2, :]
    jsub = jax.random.split(jax_ref.key(3), 4)[2]
    with jax.default_device(jax.devices("cpu")[0]):
        ref = np.asarray(jax.random.bits(jsub, (9,), dtype=jnp.uint32))
    np.testing.assert_array_equal(as_u64(be, tf.random_bits(be.xp, sub, (9,))), ref.astype(np.uint64))


@pytest.mark.parity  # compares against JAX: runs in the all-CPU cell, on every backend
def test_hash_high_counter_words_equal_jax(be, jax_ref, rng):
    """Arbitrary counters, high words included (``random_bits`` has them 0 below 2**32)."""
    k = rng.integers(0, 2**32, size=2, dtype=np.uint64)
    x0, x1 = (rng.integers(0, 2**32, size=257, dtype=np.uint64) for _ in range(2))
    r0, r1 = jax_ref.hash(k, x0.astype(np.uint32), x1.astype(np.uint32))
    y0, y1 = tf.threefry2x32(
        be.xp, int(k[0]), int(k[1]), be.asarray(x0, word_dtype(be)), be.asarray(x1, word_dtype(be))
    )
    np.testing.assert_array_equal(as_u64(be, y0), r0.astype(np.uint64))
    np.testing.assert_array_equal(as_u64(be, y1), r1.astype(np.uint64))


@pytest.mark.parity  # compares against JAX: runs in the all-CPU cell, on every backend
def test_bits_long_stream_equal_jax(be, jax_ref):
    """Longer than the NumPy fast path's chunk, and not a multiple of it."""
    n = tf._CHUNK * 2 + 3
    got = tf.random_bits(be.xp, make_key(be, 5), (n,))
    np.testing.assert_array_equal(as_u64(be, got), jax_ref.bits(5, (n,)).astype(np.uint64))


# ----------------------------------------------------------------- JAX tracing
def test_jit_with_traced_key(be, jax_ref):
    if be.kind != "jax":
        pytest.skip("jax.jit only applies to the jax backend")
    import jax
    import jax.numpy as jnp

    key = make_key(be, 42)

    @jax.jit
    def f(k):
        hi, lo = tf.random_bits(jnp, k, (2, 3), width=64)
        hashed = tf.threefry2x32(jnp, k[0], k[1], lo, hi)
        return tf.random_bits(jnp, k, (2, 3)), tf.split(jnp, k, 3), hi, lo, hashed

    bits, keys, hi, lo, (h0, h1) = f(key)
    np.testing.assert_array_equal(np.asarray(bits), jax_ref.bits(42, (2, 3)))
    np.testing.assert_array_equal(np.asarray(keys), jax_ref.split(42, 3))
    ref64 = jax_ref.bits64(42, (2, 3))
    np.testing.assert_array_equal(np.asarray(hi), (ref64 >> np.uint64(32)).astype(np.uint32))
    np.testing.assert_array_equal(np.asarray(lo), (ref64 & np.uint64(M32)).astype(np.uint32))
    r0, r1 = jax_ref.hash(seed_words(42), np.asarray(lo), np.asarray(hi))
    np.testing.assert_array_equal(np.asarray(h0), r0)
    np.testing.assert_array_equal(np.asarray(h1), r1)
    # A vmapped key batch traces too.
    many = jax.vmap(lambda k: tf.random_bits(jnp, k, (4,)))(jax.random.split(jax_ref.key(1), 3))
    for i, k in enumerate(np.asarray(jax.random.split(jax_ref.key(1), 3))):
        ref = np.asarray(jax.random.bits(jnp.asarray(k), (4,), dtype=jnp.uint32))
        np.testing.assert_array_equal(np.asarray(many[i]), ref)


# ------------------------------------------------------------- cross-backend
def _numpy_reference_bits(seed, shape, width=32):
    import array_api_compat

    xnp = array_api_compat.array_namespace(np.empty(0))
    w = tf._Words(xnp)
    k0, k1 = (int(v) for v in seed_words(seed))
    n = int(np.prod(shape))
    # The generic array-API code on NumPy: independent of the fast path.
    y0, y1 = tf._hash(w, k0, k1, 0, np.arange(n, dtype=np.uint32))
    if width == 64:
        return y0.reshape(shape), y1.reshape(shape)
    return (y0 ^ y1).reshape(shape)


@pytest.mark.parametrize("seed", [0, 42, -1])
def test_bits_equal_numpy_reference(be, seed):
    """Needs no JAX: every backend equals the generic code run on NumPy."""
    for shape in [(), (5,), (4, 3), (1000,)]:
        got = tf.random_bits(be.xp, make_key(be, seed), shape)
        np.testing.assert_array_equal(as_u64(be, got), _numpy_reference_bits(seed, shape).astype(np.uint64))
    hi, lo = tf.random_bits(be.xp, make_key(be, seed), (10,), width=64)
    rhi, rlo = _numpy_reference_bits(seed, (10,), 64)
    np.testing.assert_array_equal(as_u64(be, hi), rhi.astype(np.uint64))
    np.testing.assert_array_equal(as_u64(be, lo), rlo.astype(np.uint64))


def test_uniforms_open_and_equal_across_backends(be):
    key = make_key(be, 11)
    shape = (4096,)
    u32 = be.to_numpy(tf.uniform_from_bits(be.xp, tf.random_bits(be.xp, key, shape), dtype=be.xp.float32))
    hi, lo = tf.random_bits(be.xp, key, shape, width=64)
    u64 = be.to_numpy(tf.uniform_from_bits(be.xp, hi, lo, dtype=be.xp.float64))
    assert u32.dtype == np.float32 and u64.dtype == np.float64
    assert np.all((u32 > 0) & (u32 < 1)) and np.all((u64 > 0) & (u64 < 1))
    # Bit-for-bit equal to the formulas evaluated in NumPy from the reference bits.
    b = _numpy_reference_bits(11, shape).astype(np.uint64)
    ref32 = ((b >> np.uint64(9)).astype(np.float64) + 0.5) * 2.0**-23
    np.testing.assert_array_equal(u32, ref32.astype(np.float32))
    assert np.array_equal(ref32.astype(np.float32).astype(np.float64), ref32)  # exact in float32
    rhi, rlo = (v.astype(np.uint64) for v in _numpy_reference_bits(11, shape, 64))
    k52 = (rhi << np.uint64(20)) | (rlo >> np.uint64(12))
    ref64 = (k52.astype(np.float64) + 0.5) * 2.0**-52
    np.testing.assert_array_equal(u64, ref64)
    assert np.array_equal((u64 * 2.0**53).astype(np.uint64), k52 * np.uint64(2) + np.uint64(1))  # exact


def test_uniform_extremes(be):
    wd = word_dtype(be)
    words = be.asarray(np.array([0, 1 << 9, M32], np.uint64), wd)
    u = be.to_numpy(tf.uniform_from_bits(be.xp, words))
    np.testing.assert_array_equal(u, np.array([2.0**-24, 3 * 2.0**-24, 1 - 2.0**-24], np.float32))
    hi = be.asarray(np.array([0, 0, M32], np.uint64), wd)
    lo = be.asarray(np.array([0, 1 << 12, M32], np.uint64), wd)
    u = be.to_numpy(tf.uniform_from_bits(be.xp, hi, lo, dtype="float64"))
    np.testing.assert_array_equal(u, np.array([2.0**-53, 3 * 2.0**-53, 1 - 2.0**-53]))
    assert u[-1] < 1.0


def test_uniform_argument_errors(be):
    b = tf.random_bits(be.xp, make_key(be, 0), (3,))
    with pytest.raises(ValueError, match="pair"):
        tf.uniform_from_bits(be.xp, b, dtype=be.xp.float64)
    with pytest.raises(ValueError, match="one word"):
        tf.uniform_from_bits(be.xp, b, b, dtype=be.xp.float32)


# ------------------------------------------------------------------ key forms
def test_key_forms_and_dtypes(be):
    ref = _numpy_reference_bits(42, (6,)).astype(np.uint64)
    for key in [make_key(be, 42), seed_words(42), (0, 42), seed_words(42).astype(np.int64)]:
        np.testing.assert_array_equal(as_u64(be, tf.random_bits(be.xp, key, (6,))), ref)
    np.testing.assert_array_equal(as_u64(be, tf.random_bits(be.xp, make_key(be, 42), 6)), ref)
    empty = tf.random_bits(be.xp, make_key(be, 42), (0, 3))
    assert tuple(empty.shape) == (0, 3)
    with pytest.raises(ValueError):
        tf.random_bits(be.xp, make_key(be, 42), (2,), width=16)


# --------------------------------------------------------------- fast paths
@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_inplace_fast_paths_chunks_and_high_words(monkeypatch, lib):
    """Small chunks, odd lengths and counters crossing 2**32, against the generic code."""
    import array_api_compat

    xnp = array_api_compat.array_namespace(np.empty(0))
    w = tf._Words(xnp)
    if lib == "torch":
        torch = pytest.importorskip("torch")
        fast = tf._torch_random_bits
        to_np = lambda t: t.numpy().astype(np.uint32)  # noqa: E731
    else:
        fast = tf._np_random_bits
        to_np = np.asarray
    monkeypatch.setattr(tf, "_CHUNK", 64)
    k0, k1 = 0x13198A2E, 0xFFFFFFF0
    for start, n in [(0, 1), (0, 200), (2**32 - 128, 300), (5 * 2**32, 65)]:
        ctr = np.arange(start, start + n, dtype=np.uint64)
        hi = (ctr >> np.uint64(32)).astype(np.uint32)
        lo = (ctr & np.uint64(M32)).astype(np.uint32)
        y0, y1 = tf._hash(w, k0, k1, hi, lo)
        np.testing.assert_array_equal(to_np(fast(k0, k1, n, (n,), 32, start=start)), y0 ^ y1)
        g0, g1 = fast(k0, k1, n, (n,), 64, start=start)
        np.testing.assert_array_equal(to_np(g0), y0)
        np.testing.assert_array_equal(to_np(g1), y1)
        if lib == "numpy":
            f0, f1 = tf.threefry2x32(np, k0, k1, hi, lo)  # the in-place chunked hash
            np.testing.assert_array_equal(f0, y0)
            np.testing.assert_array_equal(f1, y1)
    with pytest.raises(ValueError, match="multiple"):
        fast(k0, k1, 10, (10,), 32, start=3)
    if lib == "torch":
        assert fast(k0, k1, 10, (2, 5), 32).dtype == torch.int64
