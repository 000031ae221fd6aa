"""Categorical, OneHotCategorical and Bernoulli: the conformance suite (every backend).

References: ``scipy.stats.multinomial(1, p)`` (log-pmf and entropy of one draw),
``scipy.stats.rv_discrete`` (moments of the index) and ``scipy.stats.bernoulli``, all
in float64.  Gradients are checked against central finite differences (every
primitive, float64, every backend), against torch/JAX autodiff of the plain formulas,
and through the registered VJPs with ``torch.autograd.gradcheck`` and
``jax.test_util.check_grads``.
"""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
import scipy.stats

import diffsample as ds
from diffsample.distributions import bernoulli as bern_mod
from diffsample.distributions import categorical as cat_mod
from diffsample.distributions.bernoulli import Bernoulli
from diffsample.distributions.categorical import Categorical, OneHotCategorical
from diffsample.testing import check_primitive

# Statistical tests use fixed keys.  Under the null hypothesis a p-value is uniform on
# (0, 1); a test that makes m comparisons requires p > 1e-3 / m for each (Bonferroni),
# so a correct sampler fails a given test for at most 1e-3 of keys.
ALPHA = 1e-3

PRIMS = [
    cat_mod._log_prob,
    cat_mod._entropy,
    cat_mod._mean,
    cat_mod._variance,
    cat_mod._probs,
    cat_mod._logits,
    cat_mod._onehot_variance,
    bern_mod._log_prob,
    bern_mod._entropy,
    bern_mod._sigmoid,
    bern_mod._logit,
    bern_mod._variance,
]

TOL = {"float32": dict(rtol=3e-6, atol=3e-6), "float64": dict(rtol=1e-12, atol=1e-13)}
NINF = float("-inf")
P5 = np.array([0.1, 0.0, 0.2, 0.3, 0.4])


def _np(be, a):
    return be.to_numpy(a).astype(np.float64) if be.to_numpy(a).dtype.kind == "f" else be.to_numpy(a)


def _np32(be, a):
    """Any floating array (bfloat16 included) as NumPy float32/float64."""
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


def grads(be, fn, primals, ct):
    """``pullback(ct)`` of ``ds.vjp(fn, *primals)``, jitted on JAX (``ct`` an argument, so one compilation)."""
    return run(be, lambda c, *p: ds.vjp(fn, *p)[1](c), ct, *primals)


def _cat(be, dtype, param, p=P5):
    if param == "logits":
        with np.errstate(divide="ignore"):
            return Categorical(logits=be.asarray(np.log(p) + 0.7, dtype))  # unnormalized on purpose
    return Categorical(probs=be.asarray(p, dtype))


# --------------------------------------------------------------------- shapes
@pytest.mark.parametrize("param", ["logits", "probs"])
def test_shapes_and_dtypes(be, dtype, param):
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    d = Categorical(**{param: be.asarray(np.log(p + 1e-300) if param == "logits" else p, dtype)})
    assert d.batch_shape == (2,) and d.event_shape == () and d.num_categories == 3
    theta = d._theta

    def cat(t):
        d = Categorical(**{param: t})
        x = d.sample(ds.random.key(0), (5,))
        o = OneHotCategorical(**{param: t})
        y = o.sample(ds.random.key(0), (5,))
        return (x, d.log_prob(x), d.entropy(), d.mean, d.variance, d.probs, d.logits,
                y, o.log_prob(y), o.mean, o.variance)

    x, lp, h, m, v, probs, logits, y, lpo, mo, vo = run(be, cat, theta)
    assert tuple(x.shape) == (5, 2) and x.dtype == be.xp.int64 and type(x) is type(theta)
    for f in (lp, h, m, v, lpo, vo):
        assert f.dtype == be.dtype(dtype)
    assert tuple(lp.shape) == (5, 2) and tuple(h.shape) == (2,) and tuple(m.shape) == (2,)
    assert tuple(probs.shape) == (2, 3) and tuple(logits.shape) == (2, 3)
    np.testing.assert_array_equal(be.to_numpy(d.enumerate_support()), [[0, 0], [1, 1], [2, 2]])
    assert tuple(d.enumerate_support(expand=False).shape) == (3, 1)
    assert d.enumerate_support().dtype == be.xp.int64

    o = OneHotCategorical(**{param: theta})
    assert tuple(y.shape) == (5, 2, 3) and y.dtype == be.dtype(dtype) and o.event_shape == (3,)
    np.testing.assert_array_equal(be.to_numpy(y).sum(-1), 1.0)
    np.testing.assert_array_equal(be.to_numpy(y).argmax(-1), be.to_numpy(x))  # same key, same draw
    assert tuple(lpo.shape) == (5, 2)
    assert tuple(o.enumerate_support().shape) == (3, 2, 3) and tuple(o.enumerate_support(False).shape) == (3, 1, 3)
    np.testing.assert_array_equal(be.to_numpy(o.enumerate_support())[:, 0], np.eye(3))
    assert tuple(vo.shape) == (2, 3) and tuple(mo.shape) == (2, 3)

    bp = np.array([0.1, 0.5, 1.0])
    with np.errstate(divide="ignore"):
        b = Bernoulli(**{param: be.asarray(np.log(bp) - np.log1p(-bp) if param == "logits" else bp, dtype)})
    z = run(be, lambda t: Bernoulli(**{param: t}).sample(ds.random.key(1), (4,)), b._theta)
    assert tuple(z.shape) == (4, 3) and z.dtype == be.dtype(dtype)
    assert set(np.unique(be.to_numpy(z))) <= {0.0, 1.0}
    np.testing.assert_array_equal(be.to_numpy(b.enumerate_support()), [[0.0] * 3, [1.0] * 3])
    assert tuple(b.enumerate_support(expand=False).shape) == (2, 1)


def test_same_key_same_draws(be):
    d = Categorical(logits=be.asarray(np.zeros((3, 7))))
    a, b, c = d.sample(ds.random.key(4), (20,)), d.sample(ds.random.key(4), (20,)), d.sample(ds.random.key(5), (20,))
    assert np.array_equal(be.to_numpy(a), be.to_numpy(b)) and not np.array_equal(be.to_numpy(a), be.to_numpy(c))


def test_no_rsample(be):
    for d in (Categorical(logits=be.asarray(np.zeros(3))), Bernoulli(probs=be.asarray(0.3))):
        assert d.has_rsample is False
        with pytest.raises(NotImplementedError, match="score"):
            d.rsample(0)


# ------------------------------------------------------------------ statistics
@pytest.mark.parametrize("param", ["logits", "probs"])
def test_categorical_frequencies_chi_square(be, dtype, param):
    n = 20000
    d = _cat(be, dtype, param)
    x = be.to_numpy(d.sample(ds.random.key(11), (n,)))
    counts = np.bincount(x, minlength=5)
    assert counts.sum() == n and counts[1] == 0  # probability 0: never drawn
    pos = P5 > 0
    assert scipy.stats.chisquare(counts[pos], n * P5[pos]).pvalue > ALPHA


def test_categorical_batched_frequencies(be):
    """Each batch row is drawn from its own row of probabilities (3 chi-square tests)."""
    p = np.array([[0.5, 0.25, 0.25], [0.05, 0.05, 0.9], [1 / 3, 1 / 3, 1 / 3]])
    n = 6000
    x = be.to_numpy(Categorical(probs=be.asarray(p)).sample(ds.random.key(12), (n,)))
    for i in range(3):
        c = np.bincount(x[:, i], minlength=3)
        assert scipy.stats.chisquare(c, n * p[i]).pvalue > ALPHA / 3


@pytest.mark.parametrize("batched", [False, True])
def test_trailing_zero_probabilities_never_drawn(be, dtype, batched):
    """u * c[-1] never passes the last category of positive probability (both search paths)."""
    p = np.array([1e-3, 0.999, 0.0, 0.0])
    probs = be.asarray(np.tile(p, (3, 1)) if batched else p, dtype)
    x = be.to_numpy(run(be, lambda q: Categorical(probs=q).sample(ds.random.key(15), (20000,)), probs))
    assert x.max() <= 1 and x.min() >= 0
    with np.errstate(divide="ignore"):
        xl = be.to_numpy(run(be, lambda l: Categorical(logits=l).sample(ds.random.key(16), (20000,)), be.asarray(np.log(p), dtype)))
    assert xl.max() <= 1


def test_onehot_frequencies(be, dtype):
    n = 20000
    y = be.to_numpy(OneHotCategorical(probs=be.asarray(P5, dtype)).sample(ds.random.key(13), (n,)))
    counts = y.sum(0)
    assert counts[1] == 0
    assert scipy.stats.chisquare(counts[P5 > 0], n * P5[P5 > 0]).pvalue > ALPHA


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_bernoulli_frequencies(be, dtype, param):
    """Three binomial tests at p > 1e-3 / 3; p = 0 and p = 1 are exact."""
    p = np.array([0.02, 0.5, 0.9, 0.0, 1.0])
    n = 20000
    with np.errstate(divide="ignore"):
        theta = np.log(p) - np.log1p(-p) if param == "logits" else p
    x = be.to_numpy(Bernoulli(**{param: be.asarray(theta, dtype)}).sample(ds.random.key(14), (n,)))
    k = x.sum(0)
    assert k[3] == 0 and k[4] == n
    for i in range(3):
        assert scipy.stats.binomtest(int(k[i]), n, p[i]).pvalue > ALPHA / 3


# -------------------------------------------------------------- values vs SciPy
@pytest.mark.parametrize("param", ["logits", "probs"])
def test_categorical_values_against_scipy(be, dtype, param):
    d = _cat(be, dtype, param)
    ref = scipy.stats.multinomial(1, P5)
    idx = np.array([0, 1, 2, 3, 4, 4, 0])
    lp = _np(be, d.log_prob(be.asarray(idx)))
    expect = ref.logpmf(np.eye(5)[idx])
    assert np.array_equal(np.isneginf(lp), np.isneginf(expect))
    fin = np.isfinite(expect)
    np.testing.assert_allclose(lp[fin], expect[fin], **TOL[dtype])
    np.testing.assert_allclose(_np(be, d.entropy()), ref.entropy(), **TOL[dtype])
    rv = scipy.stats.rv_discrete(values=(np.arange(5), P5))
    np.testing.assert_allclose(_np(be, d.mean), rv.mean(), **TOL[dtype])
    np.testing.assert_allclose(_np(be, d.variance), rv.var(), **TOL[dtype])
    np.testing.assert_allclose(_np(be, d.probs), P5, **TOL[dtype])
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(_np(be, d.logits), np.log(P5), **TOL[dtype])
    # Float indices are accepted too; one-hot log_prob agrees.
    np.testing.assert_allclose(_np(be, d.log_prob(be.asarray(np.array([2.0, 3.0]), dtype))), expect[2:4], **TOL[dtype])
    o = OneHotCategorical(**{param: d._theta})
    lo = _np(be, o.log_prob(be.asarray(np.eye(5)[idx], dtype)))
    np.testing.assert_allclose(lo[fin], expect[fin], **TOL[dtype])
    np.testing.assert_allclose(_np(be, o.variance), P5 * (1 - P5), **TOL[dtype])
    np.testing.assert_allclose(_np(be, o.mean), P5, **TOL[dtype])


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_bernoulli_values_against_scipy(be, dtype, param):
    p = np.array([1e-6, 0.25, 0.5, 0.999, 0.0, 1.0])
    with np.errstate(divide="ignore"):
        theta = np.log(p) - np.log1p(-p) if param == "logits" else p
    d = Bernoulli(**{param: be.asarray(theta, dtype)})
    ref = scipy.stats.bernoulli(p)
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-13)
    for v in (0.0, 1.0):
        lp = _np(be, d.log_prob(be.asarray(np.full(6, v), dtype)))
        expect = ref.logpmf(np.full(6, v))
        assert np.array_equal(np.isneginf(lp), np.isneginf(expect))
        np.testing.assert_allclose(lp[np.isfinite(expect)], expect[np.isfinite(expect)], **tol)
    np.testing.assert_allclose(_np(be, d.entropy()), ref.entropy(), **tol)
    np.testing.assert_allclose(_np(be, d.mean), ref.mean(), **tol)
    np.testing.assert_allclose(_np(be, d.variance), ref.var(), **tol)
    np.testing.assert_allclose(_np(be, d.probs), p, **tol)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(_np(be, d.logits)[1:4], theta[1:4] if param == "logits" else np.log(p / (1 - p))[1:4], rtol=1e-5 if dtype == "float32" else 1e-12)
    lg = _np(be, d.logits)
    assert lg[4] == NINF and lg[5] == float("inf")


# ------------------------------------------------------------- -inf and zeros
def test_neg_inf_logits(be, dtype):
    """-inf logits: probability 0, log_prob -inf, everything else finite, no NaN gradients."""
    logits = be.asarray(np.array([[0.5, NINF, -1.0, NINF], [NINF, 2.0, NINF, NINF]]), dtype)
    Categorical(logits=logits)  # valid (the checks run eagerly here)
    w = be.asarray(np.array([0.7, -1.3]), dtype)
    idx_ok = be.asarray(np.array([2, 1]))
    idx_bad = be.asarray(np.array([[1, 0], [0, 1]]))
    idx_bad0 = be.asarray(np.array([1, 0]))
    fns = [
        lambda l: Categorical(logits=l).entropy(),
        lambda l: Categorical(logits=l).mean,
        lambda l: Categorical(logits=l).variance,
        lambda l: Categorical(logits=l).log_prob(idx_ok),
        lambda l: Categorical(logits=l).log_prob(idx_bad0),  # an impossible outcome in row 0
    ]

    def everything(l, w):
        d = Categorical(logits=l)
        vals = (d.sample(ds.random.key(3), (500,)), d.log_prob(idx_bad), d.log_prob(idx_ok), d.entropy(), d.mean, d.variance, d.probs)
        return vals, [ds.vjp(fn, l)[1](w)[0] for fn in fns]

    (x, lp_bad, lp_ok, *finite), gs = run(be, everything, logits, w)
    x, lp_bad, lp_ok = be.to_numpy(x), _np(be, lp_bad), _np(be, lp_ok)
    assert set(np.unique(x[:, 0])) <= {0, 2} and set(np.unique(x[:, 1])) == {1}
    assert lp_bad[0, 0] == NINF and lp_bad[0, 1] == NINF and np.isfinite(lp_bad[1]).all()
    assert lp_ok[1] == 0.0  # a certain outcome
    for f in finite:
        assert np.isfinite(_np(be, f)).all()
    np.testing.assert_allclose(_np(be, finite[0])[1], 0.0, atol=1e-7)
    for g in gs:  # finite, and exactly 0 at the -inf logits (except for the impossible outcome's own logit)
        assert np.isfinite(_np(be, g)).all()
    for g in gs[:4]:
        np.testing.assert_array_equal(_np(be, g)[np.isneginf(_np(be, logits))], 0.0)

    bl = be.asarray(np.array([NINF, float("inf"), 0.0]), dtype)
    Bernoulli(logits=bl)
    v1, v0 = be.asarray(np.array([0.0, 1.0, 1.0]), dtype), be.asarray(np.array([1.0, 0.0, 1.0]), dtype)
    bfns = (lambda l: Bernoulli(logits=l).entropy(), lambda l: Bernoulli(logits=l).variance,
            lambda l: Bernoulli(logits=l).log_prob(v0))

    def bern(l):
        b = Bernoulli(logits=l)
        vals = (b.sample(ds.random.key(4), (200,)), b.log_prob(v1), b.log_prob(v0), b.entropy(), b.mean, b.variance)
        return vals, [ds.vjp(fn, l)[1](be.xp.ones_like(l))[0] for fn in bfns]

    (z, lp1, lp0, *finite), gs = run(be, bern, bl)
    z = be.to_numpy(z)
    assert np.all(z[:, 0] == 0) and np.all(z[:, 1] == 1)
    np.testing.assert_array_equal(_np(be, lp1)[:2], [0.0, 0.0])
    np.testing.assert_array_equal(_np(be, lp0)[:2], [NINF, NINF])
    for f in (*finite, *gs):
        assert np.isfinite(_np(be, f)).all()


def test_zero_probs_gradients(be):
    """probs with zeros: no NaN anywhere; infinite slopes come out as +-inf, zero cotangents as 0."""
    p = be.asarray(np.array([0.5, 0.0, 0.5]), "float64")
    q = be.asarray(np.array([0.0, 1.0, 0.3]), "float64")
    i0, i1 = be.asarray(np.array([0])), be.asarray(np.array([1]))
    v = be.asarray(np.array([0.0, 1.0, 1.0]), "float64")
    c = be.asarray(np.array([1.0, 0.0, 1.0]), "float64")

    def everything(p, q, c):
        ent = ds.vjp(lambda r: Categorical(probs=r).entropy(), p)[1]
        one = be.xp.ones_like(p[0])
        return (
            ent(one)[0], ent(0.0 * one)[0],
            ds.vjp(lambda r: Categorical(probs=r).log_prob(i0), p)[1](be.xp.ones_like(p[:1]))[0],
            ds.vjp(lambda r: Categorical(probs=r).log_prob(i1), p)[1](be.xp.ones_like(p[:1]))[0],
            ds.vjp(lambda r: Categorical(probs=r).logits, p)[1](c)[0],
            *[ds.vjp(fn, q)[1](be.xp.ones_like(q))[0] for fn in (
                lambda r: Bernoulli(probs=r).entropy(), lambda r: Bernoulli(probs=r).log_prob(v),
                lambda r: Bernoulli(probs=r).variance, lambda r: Bernoulli(probs=r).logits)],
        )

    g_ent, g_ent0, g_lp0, g_lp1, g_logits, *g_bern = (_np(be, a) for a in run(be, everything, p, q, c))
    assert g_ent[1] == float("inf") and np.isfinite(g_ent[[0, 2]]).all()
    assert g_ent0.tolist() == [0.0, 0.0, 0.0]
    assert np.isfinite(g_lp0).all()
    assert not np.isnan(g_lp1).any() and g_lp1[1] == float("inf")
    for g in (g_logits, *g_bern):
        assert not np.isnan(g).any()


# ------------------------------------------------------------------- gradients
@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_vjp_against_finite_differences(be, prim):
    check_primitive(prim, lambda a: be.asarray(a, "float64"), rtol=1e-6)


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_score_is_the_per_sample_gradient(be, param):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.1, 1.0, size=(2, 4))
    p /= p.sum(-1, keepdims=True)
    theta = be.asarray(np.log(p) if param == "logits" else p)
    x = Categorical(**{param: theta}).sample(ds.random.key(6), (3,))
    s = be.to_numpy(Categorical(**{param: theta}).score(x)[param])
    assert s.shape == (3, 2, 4)
    def pullback(e, t):
        return ds.vjp(lambda a: Categorical(**{param: a}).log_prob(x), t)[1](e)[0]

    if be.kind == "jax":
        import jax

        pullback = jax.jit(pullback)  # one compilation for the six calls
    for i in range(3):
        for j in range(2):
            e = np.zeros((3, 2))
            e[i, j] = 1.0
            np.testing.assert_allclose(be.to_numpy(pullback(be.asarray(e), theta))[j], s[i, j], rtol=1e-12, atol=1e-12)
    onehot = np.eye(4)[be.to_numpy(x)]
    expect = onehot - p if param == "logits" else onehot / p - 1.0
    np.testing.assert_allclose(s, expect, rtol=1e-12, atol=1e-12)
    so = be.to_numpy(OneHotCategorical(**{param: theta}).score(be.asarray(onehot))[param])
    np.testing.assert_allclose(so, expect, rtol=1e-12, atol=1e-12)

    q = np.array([0.2, 0.7])
    bt = be.asarray(np.log(q / (1 - q)) if param == "logits" else q)
    v = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    sb = be.to_numpy(Bernoulli(**{param: bt}).score(be.asarray(v))[param])
    expect = v - q if param == "logits" else v / q - (1 - v) / (1 - q)
    np.testing.assert_allclose(sb, expect, rtol=1e-12, atol=1e-12)
    g = grads(be, lambda t, v: Bernoulli(**{param: t}).log_prob(v), (bt, be.asarray(v)), be.asarray(np.ones((3, 2))))[0]
    np.testing.assert_allclose(be.to_numpy(g), sb.sum(0), rtol=1e-12)


def _plain_formulas(be):
    """The quantities written in the framework's own ops (autodiff reference)."""
    if be.kind == "torch":
        import torch

        lsm, sig, sp = torch.log_softmax, torch.sigmoid, torch.nn.functional.softplus

        def take(a, i):
            return torch.take_along_dim(a, i[..., None], dim=-1)[..., 0]

    elif be.kind == "jax":
        import jax
        import jax.numpy as jnp

        lsm, sig, sp = jax.nn.log_softmax, jax.nn.sigmoid, jax.nn.softplus

        def take(a, i):
            return jnp.take_along_axis(a, i[..., None], axis=-1)[..., 0]

    else:
        pytest.skip("no framework autodiff on this backend")
    xp = be.xp

    def logq(t, param):
        return lsm(t, -1) if param == "logits" else xp.log(t / xp.sum(t, axis=-1, keepdims=True))

    def index_moments(t, param):
        q = xp.exp(logq(t, param))
        k = xp.arange(t.shape[-1], dtype=t.dtype)
        m = xp.sum(q * k, axis=-1)
        return m, xp.sum(q * (k - m[..., None]) ** 2, axis=-1)

    return {
        "log_prob": lambda t, param, x: take(xp.broadcast_to(logq(t, param), tuple(x.shape) + tuple(t.shape[-1:])), x),
        "entropy": lambda t, param: -xp.sum(xp.exp(logq(t, param)) * logq(t, param), axis=-1),
        "mean": lambda t, param: index_moments(t, param)[0],
        "variance": lambda t, param: index_moments(t, param)[1],
        "probs": lambda t, param: xp.exp(logq(t, param)),
        "logits": lambda t, param: logq(t, param),
        "b_log_prob": lambda t, param, x: (x * t - sp(t)) if param == "logits" else x * xp.log(t) + (1 - x) * xp.log1p(-t),
        "b_entropy": lambda t, param: (sp(t) - t * sig(t)) if param == "logits" else -(t * xp.log(t) + (1 - t) * xp.log1p(-t)),
        "b_variance": lambda t, param: (sig(t) * sig(-t)) if param == "logits" else t * (1 - t),
        "b_flip": lambda t, param: sig(t) if param == "logits" else xp.log(t) - xp.log1p(-t),
    }


def _grad(be, fn, t):
    """Gradient of sum(fn(t) * w) for a fixed weight w (jitted on JAX)."""
    if be.kind == "torch":
        import torch

        tt = t.detach().clone().requires_grad_(True)
        out = fn(tt)
        w = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
        (g,) = torch.autograd.grad((out * w).sum(), (tt,))
        return g.numpy()
    import jax
    import jax.numpy as jnp

    def loss(a):
        out = fn(a)
        return jnp.sum(out * jnp.linspace(0.5, 1.5, out.size, dtype=out.dtype).reshape(out.shape))

    return np.asarray(jax.jit(jax.grad(loss))(t))


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_grads_match_framework_autodiff(be, param):
    plain = _plain_formulas(be)
    rng = np.random.default_rng(8)
    p = rng.uniform(0.1, 1.0, size=(3, 4))
    p /= p.sum(-1, keepdims=True)
    t = be.asarray(np.log(p) + 0.3 if param == "logits" else p)
    x = be.asarray(np.array([[0, 3, 1], [2, 2, 0]]))  # sample_shape (2,), batch (3,)
    cases = [
        (lambda a: Categorical(**{param: a}).log_prob(x), lambda a: plain["log_prob"](a, param, x)),
        (lambda a: Categorical(**{param: a}).entropy(), lambda a: plain["entropy"](a, param)),
        (lambda a: Categorical(**{param: a}).mean, lambda a: plain["mean"](a, param)),
        (lambda a: Categorical(**{param: a}).variance, lambda a: plain["variance"](a, param)),
        (lambda a: Categorical(**{param: a}).probs, lambda a: plain["probs"](a, param)),
        (lambda a: Categorical(**{param: a}).logits, lambda a: plain["logits"](a, param)),
        (lambda a: OneHotCategorical(**{param: a}).variance, lambda a: plain["probs"](a, param) * (1 - plain["probs"](a, param))),
    ]
    for ours, theirs in cases:
        np.testing.assert_allclose(_grad(be, ours, t), _grad(be, theirs, t), rtol=1e-10, atol=1e-12)
    q = rng.uniform(0.05, 0.95, size=(4,))
    bt = be.asarray(np.log(q / (1 - q)) if param == "logits" else q)
    v = be.asarray(np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
    bcases = [
        (lambda a: Bernoulli(**{param: a}).log_prob(v), lambda a: plain["b_log_prob"](a, param, v)),
        (lambda a: Bernoulli(**{param: a}).entropy(), lambda a: plain["b_entropy"](a, param)),
        (lambda a: Bernoulli(**{param: a}).variance, lambda a: plain["b_variance"](a, param)),
        (lambda a: Bernoulli(**{param: a}).probs if param == "logits" else Bernoulli(probs=a).logits, lambda a: plain["b_flip"](a, param)),
    ]
    for ours, theirs in bcases:
        np.testing.assert_allclose(_grad(be, ours, bt), _grad(be, theirs, bt), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_registered_gradient_check(be, param):
    """torch.autograd.gradcheck / jax check_grads through the hand-written VJPs."""
    rng = np.random.default_rng(9)
    p = rng.uniform(0.2, 1.0, size=(2, 3))
    p /= p.sum(-1, keepdims=True)
    t = be.asarray(np.log(p) if param == "logits" else p)
    q = rng.uniform(0.2, 0.8, size=(3,))
    bt = be.asarray(np.log(q / (1 - q)) if param == "logits" else q)

    def f(a, c):
        # jax's check_grads also calls f on NumPy arrays: make the values in a's namespace.
        xpa = array_api_compat.array_namespace(a)
        x, v = xpa.asarray(np.array([[2, 0], [1, 1]])), xpa.asarray(np.array([1.0, 0.0, 1.0]))
        d = Categorical(**{param: a}, validate_args=False)
        o = OneHotCategorical(**{param: a}, validate_args=False)
        bd = Bernoulli(**{param: c}, validate_args=False)
        return (d.log_prob(x), d.entropy(), d.mean, d.variance, d.probs, d.logits, o.variance,
                bd.log_prob(v), bd.entropy(), bd.variance, bd.probs, bd.logits)

    if be.kind == "torch":
        import torch

        assert torch.autograd.gradcheck(f, (t.clone().requires_grad_(True), bt.clone().requires_grad_(True)))
    elif be.kind == "jax":
        import jax
        from jax.test_util import check_grads

        check_grads(jax.jit(f), (t, bt), order=1, modes=["rev"])  # jitted: one compilation
    else:
        pytest.skip("framework gradient checks are for torch and jax")


# ------------------------------------------------------------------ validation
def test_validation(be):
    ok = be.asarray(np.array([0.2, 0.8]))
    with pytest.raises(ValueError, match="exactly one of logits and probs.*neither"):
        Categorical()
    with pytest.raises(ValueError, match="exactly one of logits and probs.*both"):
        Categorical(logits=ok, probs=ok)
    with pytest.raises(ValueError, match="exactly one of logits and probs"):
        Bernoulli()
    with pytest.raises(ValueError, match=r"probs must be in \[0, 1\], got -0.1"):
        Categorical(probs=be.asarray(np.array([-0.1, 1.1])))
    with pytest.raises(ValueError, match=r"probs must sum to 1 along the last axis \(within 1e-06\), got a row summing to 0.75"):
        Categorical(probs=be.asarray(np.array([[0.5, 0.5], [0.25, 0.5]])))
    with pytest.raises(ValueError, match="probs.*nan"):
        Categorical(probs=be.asarray(np.array([float("nan"), 1.0])))
    with pytest.raises(ValueError, match="logits.*nan"):
        Categorical(logits=be.asarray(np.array([0.0, float("nan")])))
    with pytest.raises(ValueError, match=r"logits must be less than \+inf, got inf"):
        Categorical(logits=be.asarray(np.array([0.0, float("inf")])))
    with pytest.raises(ValueError, match="all -inf"):
        Categorical(logits=be.asarray(np.array([[0.0, 1.0], [NINF, NINF]])))
    with pytest.raises(ValueError, match="at least one category"):
        Categorical(logits=be.xp.reshape(be.asarray(np.array([1.0])), ()))
    with pytest.raises(TypeError, match="logits must be an array"):
        Categorical(logits=[0.0, 1.0])
    d = Categorical(probs=ok)
    with pytest.raises(ValueError, match=r"value must be an integer category index in \[0, 1\], got 2"):
        d.log_prob(be.asarray(np.array([0, 2])))
    with pytest.raises(ValueError, match="value.*0.5"):
        d.log_prob(be.asarray(np.array([0.5])))
    with pytest.raises(ValueError, match="value.*-1"):
        d.score(be.asarray(np.array([-1])))
    with pytest.raises(ValueError, match="one-hot"):
        OneHotCategorical(probs=ok).log_prob(be.asarray(np.array([1.0, 1.0])))
    with pytest.raises(ValueError, match="categories on its last axis"):
        OneHotCategorical(probs=ok).log_prob(be.asarray(np.array([1.0, 0.0, 0.0])))
    with pytest.raises(ValueError, match=r"probs must be in \[0, 1\], got 1.5"):
        Bernoulli(probs=be.asarray(np.array([0.5, 1.5])))
    with pytest.raises(ValueError, match=r"probs must be in \[0, 1\], got -0.5"):
        Bernoulli(probs=-0.5)
    with pytest.raises(ValueError, match="logits.*nan"):
        Bernoulli(logits=be.asarray(np.array([float("nan")])))
    with pytest.raises(ValueError, match="value must be 0 or 1, got 0.5"):
        Bernoulli(probs=ok).log_prob(be.asarray(np.array([0.5, 1.0])))
    # Without validation: an index outside the support has log_prob -inf, not an error.
    lp = Categorical(probs=ok, validate_args=False).log_prob(be.asarray(np.array([0, 5])))
    assert _np(be, lp)[1] == NINF
    # Nothing was lost: the objects still work after the errors.
    assert np.isfinite(_np(be, d.log_prob(be.asarray(np.array([1, 0]))))).all()


def test_probs_tolerance_scales_with_dtype(be):
    """float32 rows normalized in float32 pass; float64 rows 1e-3 off fail."""
    p = np.random.default_rng(0).uniform(size=(50, 300)).astype(np.float32)
    p /= p.sum(-1, keepdims=True)
    Categorical(probs=be.asarray(p, "float32"))
    with pytest.raises(ValueError, match="sum to 1"):
        Categorical(probs=be.asarray(np.array([0.5, 0.501]), "float64"))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(be, low):
    logits = be.asarray(np.array([[0.0, NINF, 1.0, -3.0], [1e4, 0.0, -1e4, 2.0]]), low)
    p = be.asarray(np.array([0.25, 0.25, 0.5]), low)
    bl = be.asarray(np.array([-1e4, 0.0, 3.0, 1e4]), low)
    Categorical(logits=logits), Categorical(probs=p), Bernoulli(logits=bl)  # valid (checked eagerly)

    def everything(logits, p, bl):
        d = Categorical(logits=logits)
        x = d.sample(ds.random.key(0), (300,))
        dp = Categorical(probs=p)
        b = Bernoulli(logits=bl)
        z = b.sample(ds.random.key(2), (300,))
        g = ds.vjp(lambda t: Bernoulli(logits=t).entropy(), bl)[1](be.xp.ones_like(bl))[0]
        return x, z, (d.log_prob(x), d.entropy(), d.mean, d.variance, d.probs, OneHotCategorical(logits=logits).variance,
                      dp.log_prob(dp.sample(1, (100,))), b.log_prob(z), b.entropy(), b.variance, b.probs,
                      b.log_prob(be.xp.ones_like(z)), g)

    x, z, outs = run(be, everything, logits, p, bl)
    assert z.dtype == be.dtype(low)
    for f in outs:
        assert f.dtype == be.dtype(low)
        assert np.isfinite(_np32(be, f)).all()
    xs = be.to_numpy(x)
    assert not np.any(xs[:, 0] == 1) and np.all(xs[:, 1] == 0)


# ------------------------------------------------------------------- transforms
def test_jax_jit_and_grad(be):
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    @jax.jit
    def f(key, logits):
        d = Categorical(logits=logits)
        x = d.sample(key, (4000,))
        return x, jnp.mean(d.log_prob(x)), jax.grad(lambda l: jnp.sum(Categorical(logits=l).entropy()))(logits)

    x, lp, g = f(jnp.asarray(ds.random.key(0)), jnp.log(jnp.asarray([0.2, 0.3, 0.5])))
    counts = np.bincount(np.asarray(x), minlength=3)
    assert scipy.stats.chisquare(counts, 4000 * np.array([0.2, 0.3, 0.5])).pvalue > ALPHA
    assert np.isfinite(float(lp)) and np.all(np.isfinite(np.asarray(g)))
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    z = jax.jit(jax.vmap(lambda k: Bernoulli(probs=jnp.asarray(0.5)).sample(k, (10,))))(keys)
    assert z.shape == (3, 10)


def test_torch_func(be):
    if be.kind != "torch":
        pytest.skip("torch only")
    import torch

    logits = torch.tensor([0.1, -0.4, 1.2], dtype=torch.float64)
    x = torch.tensor([2, 0, 2])
    g = torch.func.grad(lambda l: Categorical(logits=l).log_prob(x).sum())(logits)
    expect = np.eye(3)[[2, 0, 2]].sum(0) - 3 * torch.softmax(logits, -1).numpy()
    np.testing.assert_allclose(g.numpy(), expect, rtol=1e-12)
