"""Gumbel-Softmax: the conformance suite (runs on every backend of the session)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import diffsample as ds
from diffsample.relax import gumbel as gs_mod
from diffsample.testing import check_primitive

# Fixed keys, threshold p > 1e-3: a correct sampler fails for at most 1e-3 of keys.
ALPHA = 1e-3


def _softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_shape_simplex_dtype(be, dtype):
    logits = be.asarray(np.random.default_rng(0).normal(size=(6, 4)), dtype)
    y = ds.gumbel_softmax(logits, ds.random.key(0), tau=0.5)
    assert tuple(y.shape) == (6, 4) and y.dtype == be.dtype(dtype) and type(y) is type(logits)
    yn = be.to_numpy(y)
    assert np.all(yn >= 0)
    np.testing.assert_allclose(yn.sum(-1), 1.0, rtol=1e-5)


def test_axis(be):
    logits = be.asarray(np.random.default_rng(1).normal(size=(3, 5, 2)))
    y0 = ds.gumbel_softmax(logits, 3, tau=1.0, axis=1)
    np.testing.assert_allclose(be.to_numpy(y0).sum(1), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="axis 3"):
        ds.gumbel_softmax(logits, 3, axis=3)


def test_noise_is_the_documented_gumbel_draw(be):
    """y == softmax((logits + g) / tau) with g = ds.random.gumbel for the same key."""
    logits = be.asarray(np.random.default_rng(2).normal(size=(4, 3)))
    key = ds.random.key(9)
    g = be.to_numpy(ds.random.gumbel(key, (4, 3), like=logits))
    y = be.to_numpy(ds.gumbel_softmax(logits, key, tau=0.7))
    np.testing.assert_allclose(y, _softmax((be.to_numpy(logits) + g) / 0.7), rtol=1e-12)


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_tau(be, tau):
    logits = be.asarray(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="tau"):
        ds.gumbel_softmax(logits, 0, tau=tau)
    with pytest.raises(ValueError, match="tau"):
        ds.gumbel_softmax(logits, 0, tau=be.asarray([[1.0], [tau]]))


def test_bad_logits(be):
    with pytest.raises(ValueError, match="NaN"):
        ds.gumbel_softmax(be.asarray([0.0, float("nan")]), 0)
    with pytest.raises(ValueError, match=r"\+inf"):
        ds.gumbel_softmax(be.asarray([0.0, float("inf")]), 0)
    with pytest.raises(ValueError, match="all -inf"):
        ds.gumbel_softmax(be.asarray([[0.0, 1.0], [float("-inf"), float("-inf")]]), 0)
    with pytest.raises(TypeError, match="logits"):
        ds.gumbel_softmax([0.0, 1.0], 0)
    with pytest.raises(TypeError, match="hard"):
        ds.gumbel_softmax(be.asarray([0.0, 1.0]), 0, hard=1)


@pytest.mark.parametrize("hard", [False, True])
def test_neg_inf_logits(be, dtype, hard):
    """A -inf class has probability 0, is never drawn and gets gradient 0 (not NaN)."""
    ninf = float("-inf")
    logits = be.asarray(np.tile([0.0, ninf, 1.0, ninf], (200, 1)), dtype)
    tau = be.asarray(0.5, dtype)
    y, pullback = ds.vjp(lambda l, t: ds.gumbel_softmax(l, ds.random.key(4), tau=t, hard=hard), logits, tau)
    yn = be.to_numpy(y)
    assert np.all(yn[:, [1, 3]] == 0.0)
    w = be.asarray(np.random.default_rng(0).normal(size=(200, 4)), dtype)
    g_logits, g_tau = pullback(w)
    gl, gt = be.to_numpy(g_logits), be.to_numpy(g_tau)
    assert np.all(np.isfinite(gl)) and np.all(np.isfinite(gt))
    assert np.all(gl[:, [1, 3]] == 0.0)


def test_hard_is_one_hot_with_soft_gradient(be, dtype):
    logits = be.asarray(np.random.default_rng(3).normal(size=(50, 6)), dtype)
    key = ds.random.key(12)
    w = be.asarray(np.random.default_rng(4).normal(size=(50, 6)), dtype)
    yh, pb_h = ds.vjp(lambda l: ds.gumbel_softmax(l, key, tau=0.8, hard=True), logits)
    ys, pb_s = ds.vjp(lambda l: ds.gumbel_softmax(l, key, tau=0.8, hard=False), logits)
    yh_n, ys_n = be.to_numpy(yh), be.to_numpy(ys)
    assert set(np.unique(yh_n)) <= {0.0, 1.0}
    np.testing.assert_array_equal(yh_n.sum(-1), 1.0)
    np.testing.assert_array_equal(yh_n.argmax(-1), ys_n.argmax(-1))
    np.testing.assert_allclose(be.to_numpy(pb_h(w)[0]), be.to_numpy(pb_s(w)[0]), rtol=1e-5, atol=1e-6)


def test_tiny_temperature(be, dtype):
    """tau = 1e-8: finite rows equal to one_hot(argmax(logits + g)) for the same noise."""
    rng = np.random.default_rng(5)
    logits_np = rng.normal(size=(300, 7))
    logits = be.asarray(logits_np, dtype)
    key = ds.random.key(21)
    y, pullback = ds.vjp(lambda l: ds.gumbel_softmax(l, key, tau=1e-8), logits)
    yn = be.to_numpy(y)
    g = be.to_numpy(ds.random.gumbel(key, (300, 7), like=logits))
    expect = np.eye(7)[np.argmax(be.to_numpy(logits) + g, axis=-1)]
    assert np.all(np.isfinite(yn))
    np.testing.assert_allclose(yn, expect, atol=1e-6)
    assert np.all(np.isfinite(be.to_numpy(pullback(be.asarray(rng.normal(size=(300, 7)), dtype))[0])))


@pytest.mark.parametrize("hard", [False, True])
def test_huge_logits(be, dtype, hard):
    rng = np.random.default_rng(6)
    logits = be.asarray(rng.choice([-1e4, 1e4, 0.0, 9999.0], size=(64, 5)), dtype)
    tau = be.asarray(0.3, dtype)
    y, pullback = ds.vjp(lambda l, t: ds.gumbel_softmax(l, ds.random.key(2), tau=t, hard=hard), logits, tau)
    gl, gt = pullback(be.asarray(rng.normal(size=(64, 5)), dtype))
    for a in (y, gl, gt):
        assert np.all(np.isfinite(be.to_numpy(a)))


def test_hard_frequencies_chi_square(be):
    """Hard samples are exact draws from Categorical(softmax(logits))."""
    p = np.array([0.05, 0.1, 0.15, 0.3, 0.4])
    n = 20000
    logits = be.asarray(np.tile(np.log(p), (n, 1)))
    y = be.to_numpy(ds.gumbel_softmax(logits, ds.random.key(31), tau=1.0, hard=True))
    counts = y.sum(0)
    assert counts.sum() == n
    assert scipy.stats.chisquare(counts, n * p).pvalue > ALPHA


@pytest.mark.parametrize("prim", ["_gumbel_softmax", "_gumbel_softmax_fixed_tau"])
def test_vjp_against_finite_differences(be, prim):
    check_primitive(getattr(gs_mod, prim), lambda a: be.asarray(a, "float64"), rtol=1e-6)


def test_grads_match_framework_autodiff(be):
    rng = np.random.default_rng(7)
    logits = be.asarray(rng.normal(size=(5, 4)))
    tau = be.asarray(np.full((5, 1), 0.6))
    key = ds.random.key(8)
    g = ds.random.gumbel(key, (5, 4), like=logits)
    w = rng.normal(size=(5, 4))
    if be.kind == "torch":
        import torch

        outs = []
        for plain in (False, True):
            l, t = logits.clone().requires_grad_(True), tau.clone().requires_grad_(True)
            y = torch.softmax((l + g) / t, -1) if plain else ds.gumbel_softmax(l, key, tau=t)
            outs.append(torch.autograd.grad((y * torch.from_numpy(w)).sum(), (l, t)))
    elif be.kind == "jax":
        import jax
        import jax.numpy as jnp

        outs = []
        for plain in (False, True):

            def loss(l, t, plain=plain):
                y = jax.nn.softmax((l + g) / t, -1) if plain else ds.gumbel_softmax(l, key, tau=t)
                return jnp.sum(y * w)

            outs.append(jax.grad(loss, argnums=(0, 1))(logits, tau))
    else:
        pytest.skip("no framework autodiff on this backend")
    for a, b in zip(*outs):
        np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-10, atol=1e-12)


def test_registered_gradient_check(be):
    rng = np.random.default_rng(9)
    logits = be.asarray(rng.normal(size=(3, 4)))
    tau = be.asarray(np.array([[0.5], [1.0], [2.0]]))
    key = ds.random.key(1)
    if be.kind == "torch":
        import torch

        args = (logits.clone().requires_grad_(True), tau.clone().requires_grad_(True))
        assert torch.autograd.gradcheck(lambda l, t: ds.gumbel_softmax(l, key, tau=t), args)
    elif be.kind == "jax":
        from jax.test_util import check_grads

        # check_grads evaluates its finite differences on NumPy arrays, so the noise
        # must be the same on both backends: the portable stream.
        with ds.random.stream("portable"):
            check_grads(lambda l, t: ds.gumbel_softmax(l, key, tau=t), (logits, tau), order=1, modes=["rev"])
    else:
        pytest.skip("framework gradient checks are for torch and jax")


def test_under_jit_and_vmap(be):
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda k, l, t: ds.gumbel_softmax(l, k, tau=t, hard=True))
    y = f(jnp.asarray(ds.random.key(0)), jnp.zeros((4, 3)), 0.5)
    np.testing.assert_array_equal(np.asarray(y).sum(-1), 1.0)
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    ys = jax.vmap(lambda k: ds.gumbel_softmax(jnp.zeros(3), k))(keys)
    assert ys.shape == (5, 3)
    gl = jax.jit(jax.grad(lambda l: jnp.sum(ds.gumbel_softmax(l, jnp.asarray(ds.random.key(0)), tau=0.5) ** 2)))
    assert np.all(np.isfinite(np.asarray(gl(jnp.zeros(3)))))


def test_inference_mode_call_does_not_poison_later_training(be):
    """A call under torch.inference_mode must not leave an inference tensor behind
    (e.g. a cached constant for tau) that a later autograd call would trip on."""
    if be.kind != "torch":
        pytest.skip("torch only")
    import torch

    logits = be.asarray(np.zeros((4, 3)), "float32")
    with torch.inference_mode():
        ds.gumbel_softmax(logits, ds.random.key(0), tau=0.7)
    leaf = logits.clone().requires_grad_(True)
    y = ds.gumbel_softmax(leaf, ds.random.key(0), tau=0.7)
    (y * torch.arange(3.0)).sum().backward()
    assert torch.isfinite(leaf.grad).all()
