"""Keys and base noise on every backend."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import diffsample as ds

ALPHA = 1e-3  # fixed keys; a correct stream fails a KS test for at most 1e-3 of keys


def test_key_equals_jax_prngkey():
    for seed in (0, 1, 42, 2**40 + 7, -1, 2**64 - 1):
        k = ds.random.key(seed)
        assert k.dtype == np.uint32 and k.shape == (2,)
        expect = [(seed % 2**64) >> 32, seed % 2**32]
        np.testing.assert_array_equal(k, expect)


@pytest.mark.parametrize("bad", [1.5, "3", True, None])
def test_bad_seed_type(bad):
    with pytest.raises(TypeError, match="seed"):
        ds.random.key(bad)


@pytest.mark.parametrize("bad", [2**64, -(2**63) - 1])
def test_bad_seed_range(bad):
    with pytest.raises(ValueError, match="seed"):
        ds.random.key(bad)


def test_split(be):
    k = ds.random.key(5, like=be.asarray([0.0]))
    ks = ds.random.split(k, 3)
    assert tuple(ks.shape) == (3, 2)
    rows = {tuple(int(v) for v in be.to_numpy(ks[i, :])) for i in range(3)}
    assert len(rows) == 3
    with pytest.raises(ValueError, match="num"):
        ds.random.split(k, 0)


@pytest.mark.parametrize("stream", ["native", "portable"])
@pytest.mark.parametrize("what", ["uniform", "normal", "gumbel"])
def test_noise(be, dtype, stream, what):
    like = be.asarray([0.0], dtype)
    with ds.random.stream(stream):
        x = getattr(ds.random, what)(ds.random.key(13), (5000,), like=like)
        again = getattr(ds.random, what)(ds.random.key(13), (5000,), like=like)
    assert x.dtype == like.dtype and type(x) is type(like)
    xn = be.to_numpy(x).astype(np.float64)
    np.testing.assert_array_equal(xn, be.to_numpy(again))
    assert np.all(np.isfinite(xn))
    if what == "uniform":
        assert np.all((xn > 0) & (xn < 1))
    dist = {"uniform": "uniform", "normal": "norm", "gumbel": "gumbel_r"}[what]
    assert scipy.stats.kstest(xn, dist).pvalue > ALPHA


def test_native_generators_are_accepted(be):
    like = be.asarray([0.0])
    if be.kind == "numpy":
        gen = np.random.default_rng(0)
    elif be.kind == "torch":
        import torch

        gen = torch.Generator(device=like.device).manual_seed(0)
    elif be.kind == "jax":
        import jax

        gen = jax.random.key(0)
    else:
        pytest.skip(f"{be.kind} has no native generator")
    x = ds.Normal(like, 1.0).rsample(gen, (10,))
    assert tuple(x.shape) == (10, 1)


def test_int_seed_is_a_key(be):
    d = ds.Normal(be.asarray([0.0, 0.0]), 1.0)
    np.testing.assert_array_equal(be.to_numpy(d.rsample(3, (4,))), be.to_numpy(d.rsample(ds.random.key(3), (4,))))


def test_generator_of_another_library_is_refused(be):
    if be.kind == "numpy":
        pytest.skip("needs a non-NumPy backend")
    with pytest.raises(TypeError, match="generator"):
        ds.Normal(be.asarray([0.0]), 1.0).rsample(np.random.default_rng(0))


def test_bad_stream_name():
    with pytest.raises(ValueError, match="mode"):
        with ds.random.stream("fast"):
            pass


def test_uniform_clamped_strictly_inside():
    # A generator that returns exact 0 and values next to 1 is clamped into (0, 1).
    from diffsample._lib.namespace import numpy_backend
    from diffsample.random.streams import _clip_open

    xp = numpy_backend().xp
    for dt in (np.float32, np.float64):
        u = _clip_open(xp, np.array([0.0, 1.0, 0.5], dtype=dt), dt)
        assert u.dtype == dt and np.all((u > 0) & (u < 1))
        assert np.all(np.isfinite(-np.log(-np.log(u))))


@pytest.mark.parametrize("stream", ["native", "portable"])
def test_draw_uniform01(be, dtype, stream):
    """The internal noise kind "uniform01": in [0, 1), uniform (KS), the same numbers
    for the same key, and on the native streams the generator's own output unclamped
    (NumPy's Generator.random, torch.rand).  KS at level ALPHA per case, as in
    test_noise (false failures at most ALPHA each)."""
    from diffsample._lib.namespace import backend_of
    from diffsample.random.streams import draw

    like = be.asarray([0.0], dtype)
    b = backend_of(like)
    with ds.random.stream(stream):
        x, again = (be.to_numpy(draw("uniform01", ds.random.key(5), (5000,), b, like.dtype)) for _ in range(2))
    np.testing.assert_array_equal(x, again)
    assert np.all((x >= 0) & (x < 1))
    assert scipy.stats.kstest(x.astype(np.float64), "uniform").pvalue > ALPHA
    if stream == "native" and be.kind == "numpy":
        got = draw("uniform01", np.random.default_rng(4), (7,), b, like.dtype)
        np.testing.assert_array_equal(got, np.random.default_rng(4).random(7, dtype=like.dtype))
    if stream == "native" and be.kind == "torch":
        import torch

        g = lambda: torch.Generator(device=like.device).manual_seed(4)  # noqa: E731
        got = draw("uniform01", g(), (7,), b, like.dtype)
        ref = torch.rand((7,), generator=g(), dtype=like.dtype, device=like.device)
        np.testing.assert_array_equal(be.to_numpy(got), be.to_numpy(ref))


def test_native_key_stream_is_the_documented_generator(be):
    """A key on NumPy draws like Generator(Philox(key=seed)), on torch like a Generator
    seeded with it, however the (per-thread, reused) generator was left by other draws,
    and in several threads at once."""
    import threading

    like = be.asarray([0.0], "float32")
    if be.kind == "numpy":

        def ref(seed: int) -> np.ndarray:
            return np.random.Generator(np.random.Philox(key=seed)).standard_normal(7, dtype=np.float32)

    elif be.kind == "torch":
        import torch

        def ref(seed: int) -> np.ndarray:
            g = torch.Generator(device=like.device).manual_seed(seed)
            return torch.randn(7, generator=g, dtype=torch.float32, device=like.device).cpu().numpy()

    else:
        pytest.skip(f"{be.kind}: no reused native generator")
    seeds = [0, 5, 2**40 + 3]
    for seed in seeds:
        ds.random.uniform(ds.random.key(99), (3,), like=like)  # leaves the generator mid-buffer
        np.testing.assert_array_equal(be.to_numpy(ds.random.normal(ds.random.key(seed), (7,), like=like)), ref(seed))
    out: dict = {}

    def work(i: int) -> None:
        out[i] = [be.to_numpy(ds.random.normal(ds.random.key(s), (7,), like=like)) for s in seeds * 20]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        for s, x in zip(seeds * 20, out[i]):
            np.testing.assert_array_equal(x, ref(s))


@pytest.mark.parametrize("stream", ["native", "portable"])
def test_key_of_another_shape_is_refused(be, stream):
    """A split key array (or any array not of shape (2,)) is refused with a message that
    says to index it, whichever way the key reaches the noise (the samplers' fast lane
    for key arrays included), in the backend's library and in NumPy."""
    like = be.asarray([0.0], "float32")
    d = ds.Normal(like, 1.0)
    bad = [ds.random.split(ds.random.key(0), 3), ds.random.split(ds.random.key(0, like=like), 3), ds.random.key(0)[:1]]
    with ds.random.stream(stream):
        for keys in bad:
            with pytest.raises(ValueError, match="index a split key"):
                d.rsample(keys, (2,))
            with pytest.raises(ValueError, match="index a split key"):
                ds.random.normal(keys, (2,), like=like)
            with pytest.raises(ValueError, match="index a split key"):
                ds.gumbel_softmax(be.asarray([[0.0, 1.0]]), keys)
