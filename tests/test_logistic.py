"""Logistic: the conformance suite (runs on every backend of the session)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

import diffsample as ds
from diffsample.distributions import base as base_mod
from diffsample.distributions import logistic as logistic_mod
from diffsample.distributions.logistic import Logistic
from diffsample.testing import check_primitive

# Every statistical test below uses a fixed key and the threshold p > 1e-3: under the
# null hypothesis a p-value is uniform on (0, 1), so a correct sampler fails a given
# test for at most 1e-3 of keys (the false-failure rate).
ALPHA = 1e-3

PRIMS = [
    logistic_mod._log_prob,
    logistic_mod._cdf,
    logistic_mod._log_cdf,
    logistic_mod._icdf,
    logistic_mod._score,
]

TOL = {"float32": dict(rtol=2e-6, atol=1e-6), "float64": dict(rtol=1e-13, atol=1e-14)}


def test_rsample_shape_dtype_namespace(be, dtype):
    loc = be.asarray([0.0, 1.0, -2.0], dtype)
    x = Logistic(loc, 2.0).rsample(ds.random.key(0), (4,))
    assert tuple(x.shape) == (4, 3)
    assert x.dtype == be.dtype(dtype)
    assert type(x) is type(loc)
    assert np.all(np.isfinite(be.to_numpy(x)))


def test_batch_broadcasting(be):
    d = Logistic(be.asarray(np.zeros((3, 1))), be.asarray(np.ones(4)))
    assert d.batch_shape == (3, 4)
    assert tuple(d.rsample(1, (2,)).shape) == (2, 3, 4)
    for v in (d.entropy(), d.mean, d.variance, d.stddev):
        assert tuple(v.shape) == (3, 4)


def test_rsample_is_the_documented_inverse_cdf(be):
    """x == loc + scale * (log u - log1p(-u)) with u = ds.random.uniform for the same key."""
    loc, scale = be.asarray([0.5, -1.0]), be.asarray([2.0, 0.5])
    key = ds.random.key(4)
    u = be.to_numpy(ds.random.uniform(key, (6, 2), like=loc))
    x = be.to_numpy(Logistic(loc, scale).rsample(key, (6,)))
    np.testing.assert_allclose(x, [0.5, -1.0] + np.array([2.0, 0.5]) * (np.log(u) - np.log1p(-u)), rtol=1e-13)


@pytest.mark.parametrize("stream", ["native", "portable"])
def test_ks(be, dtype, stream):
    loc, scale = 1.5, 0.5
    with ds.random.stream(stream):
        x = Logistic(be.asarray(loc, dtype), be.asarray(scale, dtype)).sample(ds.random.key(3), (4000,))
    p = scipy.stats.kstest(be.to_numpy(x).astype(np.float64), "logistic", args=(loc, scale)).pvalue
    assert p > ALPHA


def test_methods_against_scipy(be, dtype):
    # References: scipy.stats.logistic in float64 (its logcdf is -log1p(exp(-z)) in a
    # form accurate in both tails; logpdf, ppf and entropy are closed forms).
    loc = np.array([0.0, 1.0, -3.0, 2.0, 0.0])
    scale = np.array([1.0, 0.5, 2.0, 3.0, 1.0])
    x = np.array([0.3, -4.0, -30.0, 9.0, 80.0])
    p = np.array([0.5, 1e-6, 0.999, 0.25, 0.9])
    ref = scipy.stats.logistic(loc, scale)
    d = Logistic(be.asarray(loc, dtype), be.asarray(scale, dtype))
    xs, ps = be.asarray(x, dtype), be.asarray(p, dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(be.to_numpy(d.log_prob(xs)), ref.logpdf(x), **tol)
    np.testing.assert_allclose(be.to_numpy(d.cdf(xs)), ref.cdf(x), **tol)
    np.testing.assert_allclose(be.to_numpy(d.log_cdf(xs)), ref.logcdf(x), rtol=tol["rtol"] * 10, atol=1e-300)
    np.testing.assert_allclose(be.to_numpy(d.icdf(ps)), ref.ppf(p), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    np.testing.assert_allclose(be.to_numpy(d.entropy()), ref.entropy(), **tol)
    np.testing.assert_allclose(be.to_numpy(d.mean), loc, **tol)
    np.testing.assert_allclose(be.to_numpy(d.variance), ref.var(), **tol)
    np.testing.assert_allclose(be.to_numpy(d.stddev), ref.std(), **tol)


def test_log_cdf_far_tails(be, dtype):
    """log_cdf = -softplus(-z): exact where 1 + exp(-z) would overflow or round to 1."""
    d = Logistic(be.asarray(0.0, dtype), 1.0)
    z = np.array([-80.0, -30.0, 30.0, 80.0])
    got = be.to_numpy(d.log_cdf(be.asarray(z, dtype)))
    # log sigmoid(z) = z - log1p(exp(z)) for z < 0 and -log1p(exp(-z)) for z > 0, in float64.
    ref = np.where(z < 0, z - np.log1p(np.exp(z)), -np.log1p(np.exp(-z)))
    np.testing.assert_allclose(got, ref, rtol=TOL[dtype]["rtol"], atol=0)
    assert np.all(np.isfinite(be.to_numpy(d.log_prob(be.asarray([-1e4, 1e4], dtype)))))


def test_score_is_the_log_prob_gradient(be):
    """score(x) equals the VJP of log_prob (per sample) and the closed forms."""
    x = be.asarray([0.3, -2.0, 5.0], "float64")
    loc = be.asarray([0.1, 0.2, -0.5], "float64")
    scale = be.asarray([1.0, 0.7, 2.0], "float64")
    s = Logistic(loc, scale).score(x)
    _, pullback = ds.vjp(lambda m, sc: Logistic(m, sc).log_prob(x), loc, scale)
    g_loc, g_scale = pullback(be.xp.ones_like(x))
    np.testing.assert_allclose(be.to_numpy(s["loc"]), be.to_numpy(g_loc), rtol=1e-13)
    np.testing.assert_allclose(be.to_numpy(s["scale"]), be.to_numpy(g_scale), rtol=1e-13)
    z = (np.array([0.3, -2.0, 5.0]) - [0.1, 0.2, -0.5]) / [1.0, 0.7, 2.0]
    np.testing.assert_allclose(be.to_numpy(s["loc"]), np.tanh(z / 2) / [1.0, 0.7, 2.0], rtol=1e-13)


@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_vjp_against_finite_differences(be, prim):
    check_primitive(prim, lambda a: be.asarray(a, "float64"), rtol=1e-6)


def test_rsample_vjp_values(be, dtype):
    """d/dloc sum(x) = n and d/dscale sum(x) = sum(logit(u)), by every backend's route."""
    key = ds.random.key(11)
    loc, scale = be.asarray([0.5, -1.0], dtype), be.asarray([2.0, 0.5], dtype)
    x, pullback = ds.vjp(lambda m, s: Logistic(m, s).rsample(key, (50,)), loc, scale)
    g_loc, g_scale = pullback(be.xp.ones_like(x))
    eps = (be.to_numpy(x).astype(np.float64) - [0.5, -1.0]) / [2.0, 0.5]
    np.testing.assert_allclose(be.to_numpy(g_loc), [50.0, 50.0])
    np.testing.assert_allclose(be.to_numpy(g_scale), eps.sum(0), rtol=1e-4 if dtype == "float32" else 1e-12)


def test_validation(be):
    ok = be.asarray([1.0, 2.0], "float64")
    for bad, what in [(0.0, "0.0"), (-1.0, "-1.0"), (float("nan"), "nan"), (float("inf"), "inf")]:
        with pytest.raises(ValueError, match=rf"scale.*{what}"):
            Logistic(ok, be.asarray([1.0, bad], "float64"))
        with pytest.raises(ValueError, match="scale"):
            Logistic(ok, bad)
    with pytest.raises(ValueError, match=r"loc.*nan"):
        Logistic(be.asarray([float("nan"), 0.0], "float64"), 1.0)
    with pytest.raises(ValueError, match=r"loc.*inf"):
        Logistic(be.asarray([float("inf"), 0.0], "float64"), 1.0)
    with pytest.raises(ValueError, match=r"loc \(3,\).*scale \(2,\)"):
        Logistic(be.asarray(np.zeros(3)), ok)
    assert np.all(np.isfinite(be.to_numpy(Logistic(ok, ok).rsample(0, (2,)))))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(be, low):
    loc = be.asarray([0.0, 100.0, -3.0], low)
    scale = be.asarray([1.0, 3000.0, 1e-3], low)
    d = Logistic(loc, scale)
    x = d.rsample(ds.random.key(0), (2000,))
    assert x.dtype == be.dtype(low)
    xs = be.to_numpy(be.xp.astype(x, be.xp.float32))
    assert np.all(np.isfinite(xs))  # large scale * logit(u) saturates instead of overflowing
    # (the variance, 3000**2 pi**2/3, is beyond float16 itself: not checked)
    for v in (d.log_prob(x), d.cdf(x), d.log_cdf(x), d.entropy(), d.stddev, d.score(x)["scale"]):
        assert np.all(np.isfinite(be.to_numpy(be.xp.astype(v, be.xp.float32))))


# --------------------------------------------------------------- framework checks
def _framework_grads(be, fn_ds, fn_plain, *args):
    """Gradients of sum(fn(*args) * w) by our primitive and by plain framework autodiff."""
    if be.kind == "torch":
        import torch

        outs = []
        for fn in (fn_ds, fn_plain):
            ts = [a.detach().clone().requires_grad_(True) for a in args]
            y = fn(*ts)
            w = torch.linspace(0.5, 1.5, y.numel(), dtype=y.dtype, device=y.device).reshape(y.shape)
            outs.append(torch.autograd.grad((y * w).sum(), ts, allow_unused=True, materialize_grads=True))
        return outs
    if be.kind == "jax":
        import jax
        import jax.numpy as jnp

        outs = []
        for fn in (fn_ds, fn_plain):

            def loss(*a, fn=fn):
                y = fn(*a)
                return jnp.sum(y * jnp.linspace(0.5, 1.5, y.size, dtype=y.dtype).reshape(y.shape))

            outs.append(jax.grad(loss, argnums=tuple(range(len(args))))(*args))
        return outs
    pytest.skip("no framework autodiff on this backend")


def test_grads_match_framework_autodiff(be):
    if be.kind not in ("torch", "jax"):
        pytest.skip("no framework autodiff on this backend")
    xp = be.xp
    x = be.asarray([0.3, -2.0, 1.0], "float64")
    loc = be.asarray([0.1, 0.2, -0.5], "float64")
    scale = be.asarray([1.0, 0.7, 2.0], "float64")
    p = be.asarray([0.2, 0.6, 0.9], "float64")
    u = be.asarray([0.3, 0.05, 0.8], "float64")

    def sig(t):
        return 1.0 / (1.0 + xp.exp(-t))

    cases = [
        (lambda l, s: base_mod._ls_rsample(l, s, xp.log(u) - xp.log(1 - u)), lambda l, s: l + s * (xp.log(u) - xp.log(1 - u))),
        (lambda l, s: Logistic(l, s).log_prob(x), lambda l, s: xp.log(sig((x - l) / s) * sig(-(x - l) / s) / s)),
        (lambda l, s: Logistic(l, s).cdf(x), lambda l, s: sig((x - l) / s)),
        (lambda l, s: Logistic(l, s).log_cdf(x), lambda l, s: xp.log(sig((x - l) / s))),
        (lambda l, s: Logistic(l, s).icdf(p), lambda l, s: l + s * xp.log(p / (1 - p))),
        (lambda l, s: Logistic(l, s).entropy(), lambda l, s: 2.0 + xp.log(s) + 0 * l),
        (lambda l, s: Logistic(l, s).variance, lambda l, s: s * s * math.pi**2 / 3 + 0 * l),
        (lambda l, s: Logistic(l, s).score(x)["loc"], lambda l, s: xp.tanh((x - l) / s / 2) / s),
        (lambda l, s: Logistic(l, s).score(x)["scale"], lambda l, s: ((x - l) / s * xp.tanh((x - l) / s / 2) - 1) / s),
    ]
    for fn_ds, fn_plain in cases:
        ours, theirs = _framework_grads(be, fn_ds, fn_plain, loc, scale)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-10, atol=1e-12)


def test_registered_gradient_check(be):
    """torch.autograd.gradcheck / gradgradcheck and jax check_grads through our VJPs."""
    key = ds.random.key(5)
    loc = be.asarray([0.1, 0.2, -0.5], "float64")
    scale = be.asarray([1.0, 0.7, 2.0], "float64")

    def f(l, s):
        d = Logistic(l, s)
        return d.log_prob(d.rsample(key, (4,)) * 0.5) + d.cdf(l * 0.3) + d.log_cdf(l - 1.0) + d.entropy()

    if be.kind == "torch":
        import torch

        args = (loc.clone().requires_grad_(True), scale.clone().requires_grad_(True))
        assert torch.autograd.gradcheck(f, args)
        assert torch.autograd.gradcheck(lambda l, s: Logistic(l, s).score(l * 0.5 + 1.0)["scale"], args)
        assert torch.autograd.gradgradcheck(lambda l, s: Logistic(l, s).rsample(key, (3,)) ** 2, args)
        assert torch.autograd.gradgradcheck(lambda l, s: Logistic(l, s).log_prob(l * 0.3 + 1.0), args)
    elif be.kind == "jax":
        from jax.test_util import check_grads

        # check_grads evaluates its finite differences on NumPy arrays, so the noise
        # must be the same on both backends: the portable stream.
        with ds.random.stream("portable"):
            check_grads(f, (loc, scale), order=1, modes=["rev"])
            check_grads(lambda l, s: Logistic(l, s).rsample(key, (3,)) ** 2, (loc, scale), order=2, modes=["rev"])
    else:
        pytest.skip("framework gradient checks are for torch and jax")


def test_jax_transforms(be):
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    def loss(key, m, s):
        return jnp.mean(Logistic(m, s).rsample(key, (4000,)) ** 2)

    g = jax.jit(jax.grad(loss, argnums=(1, 2)))(jnp.asarray(ds.random.key(0)), jnp.array([1.0]), jnp.array([2.0]))
    # E[x^2] = m^2 + s^2 pi^2/3: gradients 2m = 2 and 2 s pi^2/3 = 13.16, up to Monte-Carlo error.
    np.testing.assert_allclose(np.asarray(g[0]), [2.0], atol=0.4)
    np.testing.assert_allclose(np.asarray(g[1]), [4 * math.pi**2 / 3], rtol=0.1)
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    x = jax.jit(jax.vmap(lambda k, m: Logistic(m, 1.0).rsample(k, (5,))))(keys, jnp.arange(3.0))
    assert x.shape == (3, 5)
