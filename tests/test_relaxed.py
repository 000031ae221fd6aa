"""RelaxedOneHotCategorical (Concrete) and RelaxedBernoulli (binary Concrete): conformance suite.

References: ``torch.distributions.RelaxedOneHotCategorical.log_prob`` and
``torch.distributions.RelaxedBernoulli.log_prob`` in float64 (computed on NumPy copies
of the data, whatever the backend under test); the Concrete densities integrate to 1
by quadrature (trapezoid rule in the logit coordinate, float64); the binary Concrete
CDF ``P(Y <= y) = sigmoid(t logit(y) - l)`` for KS tests.
"""

from __future__ import annotations


import array_api_compat
import numpy as np
import pytest
import scipy.special
import scipy.stats

import diffsample as ds
from diffsample.distributions import relaxed as rel_mod
from diffsample.distributions.relaxed import RelaxedBernoulli, RelaxedOneHotCategorical
from diffsample.testing import check_primitive

# Fixed keys; a test making m comparisons requires p > 1e-3 / m for each (Bonferroni),
# so a correct sampler fails a given test for at most 1e-3 of keys.
ALPHA = 1e-3
NINF = float("-inf")

PRIMS = [rel_mod._expand_last, rel_mod._concrete_log_prob, rel_mod._rb_rsample, rel_mod._binary_concrete_log_prob]


def _np32(be, a):
    if a.dtype in (be.xp.float32, be.xp.float64):
        return be.to_numpy(a)
    return be.to_numpy(be.xp.astype(a, be.xp.float32))


def run(be, fn, *args):
    """``fn(*args)``; on JAX under one ``jax.jit`` (one compilation, not one per operation).

    Argument checks read values, so they are skipped inside; the validation tests run eagerly.
    """
    if be.kind == "jax":
        import jax

        return jax.jit(fn)(*args)
    return fn(*args)


def value_and_grads(be, fn, primals, ct=None):
    """``(fn(*primals), pullback(ct))`` via ``ds.vjp`` (``ct`` defaults to ones), jitted on JAX."""

    def go(*p):
        v, pb = ds.vjp(fn, *p)
        return v, pb(be.xp.ones_like(v) if ct is None else ct)

    return run(be, go, *primals)


def _scalar(be, v, dtype="float64"):
    """A 0-d array (be.asarray turns NumPy 0-d data into shape (1,) on torch)."""
    return be.xp.reshape(be.asarray(np.array([v]), dtype), ())


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ------------------------------------------------------------------- draws
@pytest.mark.parametrize("param", ["logits", "probs"])
def test_onehot_shapes_and_documented_noise(be, dtype, param):
    """y == softmax((logits + g) / t) with g = ds.random.gumbel for the same key."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 1.0, size=(2, 4))
    p /= p.sum(-1, keepdims=True)
    t = np.array([0.5, 2.0])
    theta = be.asarray(np.log(p) if param == "logits" else p, dtype)
    d = RelaxedOneHotCategorical(be.asarray(t, dtype), **{param: theta})
    assert d.batch_shape == (2,) and d.event_shape == (4,)
    key = ds.random.key(3)

    def go(th, tt):
        d = RelaxedOneHotCategorical(tt, **{param: th})
        y = d.rsample(key, (5,))
        return y, d.sample(key, (5,)), d.probs, d.log_prob(y)

    y, y2, probs, lp = run(be, go, theta, be.asarray(t, dtype))
    assert tuple(y.shape) == (5, 2, 4) and y.dtype == be.dtype(dtype) and type(y) is type(theta)
    g = be.to_numpy(ds.random.gumbel(key, (5, 2, 4), like=theta))
    expect = _softmax((np.log(p) + g) / t[:, None])
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(be.to_numpy(y), expect, **tol)
    np.testing.assert_allclose(be.to_numpy(y2), be.to_numpy(y))
    np.testing.assert_allclose(be.to_numpy(probs), p, **tol)
    assert tuple(lp.shape) == (5, 2) and lp.dtype == be.dtype(dtype)


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_bernoulli_shapes_and_documented_noise(be, dtype, param):
    """y == sigmoid((logits + log u - log(1 - u)) / t) with u = ds.random.uniform for the key."""
    q = np.array([[0.1, 0.5, 0.8]])
    t = np.array([[0.3], [1.0]])
    theta = be.asarray(np.log(q / (1 - q)) if param == "logits" else q, dtype)
    d = RelaxedBernoulli(be.asarray(t, dtype), **{param: theta})
    assert d.batch_shape == (2, 3) and d.event_shape == ()
    key = ds.random.key(4)

    def go(th, tt):
        d = RelaxedBernoulli(tt, **{param: th})
        y = d.rsample(key, (6,))
        return y, d.log_prob(y), d.probs

    y, lp, probs = run(be, go, theta, be.asarray(t, dtype))
    assert tuple(y.shape) == (6, 2, 3) and y.dtype == be.dtype(dtype)
    u = be.to_numpy(ds.random.uniform(key, (6, 2, 3), like=theta)).astype(np.float64)
    expect = scipy.special.expit((np.log(q / (1 - q)) + np.log(u) - np.log1p(-u)) / t)
    tol = dict(rtol=3e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(be.to_numpy(y), expect, **tol)
    assert tuple(lp.shape) == (6, 2, 3)
    np.testing.assert_allclose(be.to_numpy(probs), q, **tol)


def test_onehot_argmax_is_categorical(be, dtype):
    """argmax of a Concrete draw is an exact Categorical(softmax(logits)) draw (chi-square)."""
    p = np.array([0.1, 0.2, 0.3, 0.4])
    n = 20000
    y = be.to_numpy(RelaxedOneHotCategorical(_scalar(be, 0.7, dtype), probs=be.asarray(p, dtype)).sample(ds.random.key(21), (n,)))
    counts = np.bincount(y.argmax(-1), minlength=4)
    assert scipy.stats.chisquare(counts, n * p).pvalue > ALPHA


def test_ks_binary_concrete(be, dtype):
    """KS tests against the binary Concrete CDF, for RelaxedBernoulli and for K = 2 Concrete."""
    l, t, n = 0.8, 0.6, 3000

    def cdf(y):
        return scipy.special.expit(t * scipy.special.logit(y) - l)

    yb = be.to_numpy(RelaxedBernoulli(_scalar(be, t, dtype), logits=_scalar(be, l, dtype)).sample(ds.random.key(22), (n,)))
    yc = be.to_numpy(RelaxedOneHotCategorical(t, logits=be.asarray(np.array([l, 0.0]), dtype)).sample(ds.random.key(23), (n,)))
    for y in (yb.astype(np.float64).ravel(), yc[:, 0].astype(np.float64)):
        assert scipy.stats.kstest(y, cdf).pvalue > ALPHA / 2


# ---------------------------------------------------------------- densities
def test_concrete_log_prob_against_torch(be):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 5)) * 2
    temps = np.array([0.2, 0.8, 3.0])
    y = _softmax((logits + rng.gumbel(size=(7, 3, 5))) / temps[:, None])
    ours, ours_p = (be.to_numpy(a) for a in run(
        be, lambda t, l, p, v: (RelaxedOneHotCategorical(t, logits=l).log_prob(v), RelaxedOneHotCategorical(t, probs=p).log_prob(v)),
        be.asarray(temps), be.asarray(logits), be.asarray(_softmax(logits)), be.asarray(y)))
    for i in range(3):  # torch's RelaxedOneHotCategorical takes one temperature at a time
        ref = torch.distributions.RelaxedOneHotCategorical(torch.tensor(temps[i]), logits=torch.from_numpy(logits[i]))
        np.testing.assert_allclose(ours[:, i], ref.log_prob(torch.from_numpy(y[:, i])).numpy(), rtol=1e-10, atol=1e-10)
    # probs parameterization: the same density.
    np.testing.assert_allclose(ours_p, ours, rtol=1e-10, atol=1e-10)


def test_binary_concrete_log_prob_against_torch(be):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(4,)) * 2
    temps = np.array([0.2, 0.8, 1.0, 3.0])
    y = scipy.special.expit((logits + rng.logistic(size=(6, 4))) / temps)
    q = scipy.special.expit(logits)
    ours, ours_p = (be.to_numpy(a) for a in run(
        be, lambda t, l, p, v: (RelaxedBernoulli(t, logits=l).log_prob(v), RelaxedBernoulli(t, probs=p).log_prob(v)),
        be.asarray(temps), be.asarray(logits), be.asarray(q), be.asarray(y)))
    ref = torch.distributions.RelaxedBernoulli(torch.from_numpy(temps), logits=torch.from_numpy(logits)).log_prob(torch.from_numpy(y))
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours_p, ours, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("t", [0.3, 1.0, 2.5])
def test_densities_integrate_to_one(be, t):
    """Trapezoid rule in x = logit(y1): int p(y) dy = int p(sigmoid(x), sigmoid(-x)) y1 y2 dx = 1.

    Both coordinates are formed separately (never as 1 - y), so nothing is clamped on
    the grid; the logistic tails beyond |x| = 60 / t + 10 hold less than 1e-12 of the mass.
    """
    l = np.array([0.7, -0.4])
    lim = 60.0 / t + 10.0
    x = np.linspace(-lim, lim, 40001)
    y1, y2 = scipy.special.expit(x), scipy.special.expit(-x)
    jac = y1 * y2
    lp = be.to_numpy(RelaxedOneHotCategorical(t, logits=be.asarray(l)).log_prob(be.asarray(np.stack([y1, y2], -1))))
    np.testing.assert_allclose(np.trapezoid(np.exp(lp) * jac, x), 1.0, rtol=1e-6)
    # RelaxedBernoulli(l1 - l2) is the first coordinate of the K = 2 Concrete.  Given y
    # alone it must form 1 - y, which loses digits as y -> 1 (and is clamped at y == 1),
    # so its integral is taken over y <= 1/2 for logits l and -l: p_l(y) = p_{-l}(1 - y).
    lb = {s: be.to_numpy(RelaxedBernoulli(t, logits=_scalar(be, s * (l[0] - l[1]))).log_prob(be.asarray(y1)))
          for s in (1.0, -1.0)}
    left = x <= 0
    total = sum(np.trapezoid(np.exp(lb[s][left]) * jac[left], x[left]) for s in (1.0, -1.0))
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)
    mid = np.abs(x) <= 15
    np.testing.assert_allclose(lb[1.0][mid], lp[mid], rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(lb[-1.0][mid], lp[::-1][mid], rtol=1e-8, atol=1e-8)


def test_neg_inf_logits_reduce_the_simplex(be, dtype):
    """A -inf category is always exactly 0 and the density is that of the smaller simplex."""
    logits = np.array([0.3, NINF, -0.5, 1.0])
    lt = be.asarray(logits, dtype)
    w = be.asarray(np.random.default_rng(3).normal(size=(50, 4)), dtype)

    def draws(l):
        d = RelaxedOneHotCategorical(0.6, logits=l)
        y = d.rsample(ds.random.key(5), (50,))
        return y, d.log_prob(y)

    def reduced(l, y3):
        return RelaxedOneHotCategorical(0.6, logits=l).log_prob(y3)

    y, lp = run(be, draws, lt)
    yn, lp = be.to_numpy(y), be.to_numpy(lp)
    assert np.all(yn[:, 1] == 0.0) and np.all(np.isfinite(lp))
    ref = be.to_numpy(run(be, reduced, be.asarray(logits[[0, 2, 3]], dtype), be.asarray(yn[:, [0, 2, 3]], dtype)))
    np.testing.assert_allclose(lp, ref, rtol=1e-5 if dtype == "float32" else 1e-12)
    _, (g,) = value_and_grads(be, lambda l: draws(l)[0], (lt,), w)
    g = be.to_numpy(g)
    assert np.all(np.isfinite(g)) and g[1] == 0.0
    _, (g, _) = value_and_grads(be, lambda l, v: RelaxedOneHotCategorical(0.6, logits=l).log_prob(v), (lt, y))
    g = be.to_numpy(g)
    assert np.all(np.isfinite(g)) and g[1] == 0.0

    # Infinite Bernoulli logits: the constant 0 or 1.
    def binary(l):
        b = RelaxedBernoulli(0.5, logits=l)
        z = b.rsample(ds.random.key(6), (20,))
        return z, b.log_prob(z), b.log_prob(be.xp.full_like(l, 0.5))

    z, lz, lhalf = (be.to_numpy(a) for a in run(be, binary, be.asarray(np.array([NINF, float("inf"), 0.0]), dtype)))
    assert np.all(z[:, 0] == 0.0) and np.all(z[:, 1] == 1.0)
    assert np.all(np.isfinite(lz)) and np.all(lz[:, :2] == 0.0)
    assert lhalf[0] == NINF and lhalf[1] == NINF and np.isfinite(lhalf[2])


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_tiny_temperature(be, dtype, param):
    """t = 1e-8: one-hot / 0-1 draws, finite log_prob and finite gradients, never NaN."""
    p = np.array([[0.1, 0.0, 0.3, 0.6]] * 3)
    q = np.array([0.2, 0.5, 0.9, 0.0])
    with np.errstate(divide="ignore"):
        theta = be.asarray(np.log(p) if param == "logits" else p, dtype)
        bt = be.asarray(np.log(q) - np.log1p(-q) if param == "logits" else q, dtype)
    t = _scalar(be, 1e-8, dtype)
    key = ds.random.key(7)
    w = be.asarray(np.random.default_rng(4).normal(size=(40, 3, 4)), dtype)
    RelaxedOneHotCategorical(t, **{param: theta})  # valid (the checks run eagerly here)
    RelaxedBernoulli(t, **{param: bt})

    def onehot(a, s):
        return RelaxedOneHotCategorical(s, **{param: a}).rsample(key, (40,))

    def binary(a, s):
        return RelaxedBernoulli(s, **{param: a}).rsample(key, (40,))

    def everything(a, s, c):
        y, pby = ds.vjp(onehot, a, s)
        ga, gs = pby(w)
        lp, pb = ds.vjp(lambda v, a_, s_: RelaxedOneHotCategorical(s_, **{param: a_}).log_prob(v), y, a, s)
        z, pbz = ds.vjp(binary, c, s)
        lz, pblz = ds.vjp(lambda v, s_: RelaxedBernoulli(s_, **{param: c}).log_prob(v), z, s)
        return y, lp, z, lz, (ga, gs), pb(be.xp.ones_like(lp)), pbz(be.xp.ones_like(z)), pblz(be.xp.ones_like(lz))

    y, lp, z, lz, g_draw, g_lp, g_z, g_lz = run(be, everything, theta, t, bt)
    yn, zn = be.to_numpy(y), be.to_numpy(z)
    assert not np.isnan(yn).any()
    np.testing.assert_allclose(yn.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(yn, np.eye(4)[yn.argmax(-1)], atol=1e-6)  # one-hot (XLA may round 1 to 1 - ulp)
    assert np.all(yn[..., 1] == 0.0)
    np.testing.assert_allclose(zn, np.round(zn), atol=1e-6)
    assert np.all(zn[:, 3] == 0.0)
    assert np.all(np.isfinite(be.to_numpy(lp))) and np.all(np.isfinite(be.to_numpy(lz)))
    for g in (*g_draw, *g_z):
        assert not np.isnan(be.to_numpy(g)).any()
    for g in (*g_lp, *g_lz):
        assert np.all(np.isfinite(be.to_numpy(g)))


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_vjp_against_finite_differences(be, prim):
    check_primitive(prim, lambda a: be.asarray(a, "float64"), rtol=1e-6)


def _plain(be):
    if be.kind == "torch":
        import torch

        return torch.softmax, torch.logsumexp, torch.sigmoid, torch.lgamma
    if be.kind == "jax":
        import jax
        import jax.scipy.special as jss

        return jax.nn.softmax, jss.logsumexp, jax.nn.sigmoid, jss.gammaln
    pytest.skip("no framework autodiff on this backend")


def _grads(be, fn, args):
    """Gradients of sum(fn(*args) * w) for a fixed weight w (jitted on JAX)."""
    if be.kind == "torch":
        import torch

        ts = [a.detach().clone().requires_grad_(True) for a in args]
        out = fn(*ts)
        w = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
        return [g.numpy() for g in torch.autograd.grad((out * w).sum(), ts)]
    import jax
    import jax.numpy as jnp

    def loss(*a):
        out = fn(*a)
        return jnp.sum(out * jnp.linspace(0.5, 1.5, out.size, dtype=out.dtype).reshape(out.shape))

    return [np.asarray(g) for g in jax.jit(jax.grad(loss, argnums=tuple(range(len(args)))))(*args)]


def test_grads_match_framework_autodiff(be):
    softmax, logsumexp, sigmoid, lgamma = _plain(be)
    xp = be.xp
    rng = np.random.default_rng(10)
    logits = be.asarray(rng.normal(size=(3, 4)))
    temps = be.asarray(np.array([0.4, 1.0, 2.0]))
    key = ds.random.key(11)
    g = ds.random.gumbel(key, (5, 3, 4), like=logits)
    u = ds.random.uniform(key, (5, 3, 4), like=logits)
    noise = xp.log(u) - xp.log1p(-u)
    k = 4.0

    def concrete_plain(y, l, t):
        tt = t[:, None]
        return (lgamma(xp.asarray(k, dtype=y.dtype)) + (k - 1) * xp.log(t) + xp.sum(l - (tt + 1) * xp.log(y), axis=-1)
                - k * logsumexp(l - tt * xp.log(y), -1))

    def binary_plain(y, l, t):
        tt = t[:, None]
        return (xp.log(tt) + l - (tt + 1) * (xp.log(y) + xp.log1p(-y))
                - 2 * xp.logaddexp(l - tt * xp.log(y), -tt * xp.log1p(-y)))

    y = RelaxedOneHotCategorical(temps, logits=logits).rsample(key, (5,))
    yb = be.asarray(scipy.special.expit(rng.normal(size=(5, 3, 4))))
    cases = [
        (lambda l, t: RelaxedOneHotCategorical(t, logits=l).rsample(key, (5,)), lambda l, t: softmax((l + g) / t[:, None], -1), (logits, temps)),
        (lambda l, t: RelaxedBernoulli(t[:, None], logits=l).rsample(key, (5,)), lambda l, t: sigmoid((l + noise) / t[:, None]), (logits, temps)),
        (lambda v, l, t: RelaxedOneHotCategorical(t, logits=l).log_prob(v), concrete_plain, (y, logits, temps)),
        (lambda v, l, t: RelaxedBernoulli(t[:, None], logits=l).log_prob(v), binary_plain, (yb, logits, temps)),
    ]
    for ours, theirs, args in cases:
        for a, b in zip(_grads(be, ours, args), _grads(be, theirs, args)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_registered_gradient_check(be):
    rng = np.random.default_rng(12)
    logits = be.asarray(rng.normal(size=(2, 3)))
    temps = be.asarray(np.array([0.5, 1.5]))
    key = ds.random.key(13)

    def f(l, t):
        xpa = array_api_compat.array_namespace(l)
        d = RelaxedOneHotCategorical(t, logits=l, validate_args=False)
        y = d.rsample(key, (2,))
        b = RelaxedBernoulli(xpa.reshape(t, (2, 1)), logits=l, validate_args=False)
        z = b.rsample(key, (2,))
        return y, d.log_prob(y * 0.5 + 0.5 / 3), z, b.log_prob(z * 0.5 + 0.25)

    if be.kind == "torch":
        import torch

        assert torch.autograd.gradcheck(f, (logits.clone().requires_grad_(True), temps.clone().requires_grad_(True)))
    elif be.kind == "jax":
        from jax.test_util import check_grads

        # check_grads takes its finite differences on NumPy arrays: the noise must be the
        # same on both backends, so the portable stream is used.
        # (jitted: one compilation instead of one per operation.)
        import jax

        with ds.random.stream("portable"):
            check_grads(jax.jit(f), (logits, temps), order=1, modes=["rev"])
    else:
        pytest.skip("framework gradient checks are for torch and jax")


# --------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_temperature(be, bad):
    logits = be.asarray(np.zeros(3))
    for cls in (RelaxedOneHotCategorical, RelaxedBernoulli):
        with pytest.raises(ValueError, match=rf"temperature.*{bad}"):
            cls(bad, logits=logits)
        with pytest.raises(ValueError, match=rf"temperature.*{bad}"):
            cls(be.asarray(np.array([1.0, bad])) if cls is RelaxedBernoulli else be.asarray(np.array([bad])), logits=logits[:2] if cls is RelaxedBernoulli else logits)


def test_validation(be):
    ok = be.asarray(np.array([0.2, 0.8]))
    for cls in (RelaxedOneHotCategorical, RelaxedBernoulli):
        with pytest.raises(ValueError, match="exactly one of logits and probs"):
            cls(1.0)
        with pytest.raises(ValueError, match="exactly one of logits and probs"):
            cls(1.0, logits=ok, probs=ok)
        with pytest.raises(ValueError, match="logits.*nan"):
            cls(1.0, logits=be.asarray(np.array([0.0, float("nan")])))
    with pytest.raises(ValueError, match=r"probs must sum to 1.*0.75"):
        RelaxedOneHotCategorical(1.0, probs=be.asarray(np.array([0.25, 0.5])))
    with pytest.raises(ValueError, match=r"probs must be in \[0, 1\], got 1.5"):
        RelaxedBernoulli(1.0, probs=be.asarray(np.array([1.5])))
    with pytest.raises(ValueError, match=r"temperature \(3,\).*batch shape \(2,\)"):
        RelaxedOneHotCategorical(be.asarray(np.ones(3)), logits=be.asarray(np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"temperature \(3,\).*logits \(2,\)"):
        RelaxedBernoulli(be.asarray(np.ones(3)), logits=be.asarray(np.zeros(2)))
    d = RelaxedOneHotCategorical(1.0, probs=ok)
    with pytest.raises(ValueError, match=r"value must be in \[0, 1\], got 1.5"):
        d.log_prob(be.asarray(np.array([1.5, -0.5])))
    with pytest.raises(ValueError, match="value must sum to 1.*0.5"):
        d.log_prob(be.asarray(np.array([0.25, 0.25])))
    with pytest.raises(ValueError, match="categories on its last axis"):
        d.log_prob(be.asarray(np.array([0.5, 0.25, 0.25])))
    with pytest.raises(ValueError, match=r"value must be in \[0, 1\], got 2.0"):
        RelaxedBernoulli(1.0, probs=ok).log_prob(be.asarray(np.array([0.5, 2.0])))
    assert np.all(np.isfinite(be.to_numpy(d.log_prob(d.rsample(0, (3,))))))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(be, low):
    """float16/bfloat16 parameters: draws, log_prob and gradients finite (noise in float32)."""
    logits = be.asarray(np.array([[0.0, NINF, 2.0], [1e4, -1e4, 0.0]]), low)
    tiny = 1e-8 if low == "bfloat16" else 1e-4  # float16's smallest normal is 6.1e-5
    for t in (0.5, tiny):
        RelaxedOneHotCategorical(t, logits=logits)  # valid (the checks run eagerly here)
        RelaxedBernoulli(t, logits=logits)

        def go(l, t=t):
            y, pb = ds.vjp(lambda a: RelaxedOneHotCategorical(t, logits=a).rsample(ds.random.key(0), (50,)), l)
            b = RelaxedBernoulli(t, logits=l)
            z = b.rsample(ds.random.key(1), (50,))
            return y, RelaxedOneHotCategorical(t, logits=l).log_prob(y), pb(be.xp.ones_like(y))[0], z, b.log_prob(z)

        outs = run(be, go, logits)
        assert outs[0].dtype == be.dtype(low) and outs[3].dtype == be.dtype(low)
        for a in outs:
            assert np.all(np.isfinite(_np32(be, a)))
    if low == "float16":
        with pytest.raises(ValueError, match="temperature 1e-08 is not representable"):
            RelaxedBernoulli(1e-8, logits=logits)


def test_huge_logits_tiny_temperature(be, dtype):
    """Logits of magnitude 1e4 at t = 1e-8: one-hot / 0-1 draws, finite log_prob and gradients."""
    logits = be.asarray(np.array([[1e4, -1e4, 0.0, 9999.0], [0.0, 1e4, NINF, -1e4]]), dtype)
    key = ds.random.key(30)

    def go(l):
        y, pby = ds.vjp(lambda a: RelaxedOneHotCategorical(1e-8, logits=a).rsample(key, (20,)), l)
        z, pbz = ds.vjp(lambda a: RelaxedBernoulli(1e-8, logits=a).rsample(key, (20,)), l)
        lp = RelaxedOneHotCategorical(1e-8, logits=l).log_prob(y)
        return y, pby(be.xp.ones_like(y))[0], lp, z, pbz(be.xp.ones_like(z))[0], RelaxedBernoulli(1e-8, logits=l).log_prob(z)

    y, g_y, lp, z, g_z, lz = (be.to_numpy(a) for a in run(be, go, logits))
    assert np.all((z == 0.0) | (z == 1.0))
    for a in (g_z, lz):
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(y, np.eye(4)[y.argmax(-1)], atol=1e-6)
    for a in (g_y, lp):
        assert np.all(np.isfinite(a))


# --------------------------------------------------------------- transforms
def test_jax_jit_vmap_grad(be):
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    @jax.jit
    def loss(key, logits, t):
        d = RelaxedOneHotCategorical(t, logits=logits)
        y = d.rsample(key, (256,))
        return jnp.mean(d.log_prob(y)) + jnp.mean(y[..., 0])

    g = jax.grad(loss, argnums=(1, 2))(jnp.asarray(ds.random.key(0)), jnp.zeros(3), jnp.asarray(0.5))
    assert all(np.all(np.isfinite(np.asarray(a))) for a in g)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    z = jax.jit(jax.vmap(lambda k: RelaxedBernoulli(jnp.asarray(0.3), logits=jnp.zeros(2)).rsample(k, (3,))))(keys)
    assert z.shape == (4, 3, 2)
    assert not np.allclose(np.asarray(z[0]), np.asarray(z[1]))
