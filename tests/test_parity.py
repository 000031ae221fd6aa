"""Cross-backend parity in portable mode (the all-CPU nox cell runs these).

The portable stream computes Threefry in each backend's integer ops, so uniforms are
bitwise equal everywhere; transformed draws agree to a few ulps (transcendental
functions differ slightly between libraries).
"""

from __future__ import annotations

import numpy as np
import pytest

import diffsample as ds
from conftest import available_backends

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def backends():
    bs = available_backends()
    if len(bs) < 2:
        pytest.fail(f"parity tests need at least two backends, this session has {[b.name for b in bs]}")
    return bs


def test_uniforms_bitwise_equal(backends, dtype):
    outs = {}
    with ds.random.stream("portable"):
        for be in backends:
            outs[be.name] = be.to_numpy(ds.random.uniform(ds.random.key(2026), (4, 1000), like=be.asarray([0.0], dtype)))
    ref = outs[backends[0].name]
    for name, u in outs.items():
        np.testing.assert_array_equal(u, ref, err_msg=name)


def test_bits_equal_everywhere(backends):
    ref = None
    for be in backends:
        b = be.to_numpy(ds.random.bits(ds.random.key(7), (257,), like=be.asarray([0.0]))).astype(np.uint64)
        ref = b if ref is None else ref
        np.testing.assert_array_equal(b, ref, err_msg=be.name)


def test_normal_and_gumbel_softmax_within_ulps(backends, dtype):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 10)) * 3
    loc, scale = rng.normal(size=10), rng.uniform(0.5, 2, size=10)
    xs, ys = {}, {}
    with ds.random.stream("portable"):
        for be in backends:
            xs[be.name] = be.to_numpy(ds.Normal(be.asarray(loc, dtype), be.asarray(scale, dtype)).rsample(ds.random.key(1), (50,)))
            ys[be.name] = be.to_numpy(ds.gumbel_softmax(be.asarray(logits, dtype), ds.random.key(2), tau=0.5))
    eps = np.finfo(dtype).eps
    first = backends[0].name
    for name in xs:
        # A few ulps of the magnitudes involved (ndtri/exp/log differ by an ulp or two).
        np.testing.assert_allclose(xs[name], xs[first], rtol=16 * eps, atol=16 * eps, err_msg=name)
        np.testing.assert_allclose(ys[name], ys[first], rtol=64 * eps, atol=16 * eps, err_msg=name)
