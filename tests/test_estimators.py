"""Gradient estimators: the conformance suite (runs on every backend of the session).

Statistical tests: every gradient estimate is compared with its exact value by a
z-test that uses the estimator's own per-sample standard error.  Keys are fixed.  A
test that checks ``m`` numbers at once uses the two-sided threshold
``z = Phi^{-1}(1 - ALPHA / (2 m))`` (Bonferroni), so a correct estimator fails a test
for at most ``ALPHA = 1e-3`` of keys (the false-failure rate), up to the normal
approximation of a mean of ``n >= 2e4`` terms.

Exact references: closed forms for the Normal (``E[x^2] = mu^2 + sigma^2``,
``E[cos x] = cos(mu) exp(-sigma^2/2)``), enumeration of all outcomes for the
Bernoulli (2^3 states) and Categorical objectives, and for the variance figures
closed-form moments of the quadratic cost against ``scipy.integrate.quad``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats

import diffsample as ds
from diffsample.estimators import (
    EstimatorResult,
    arm,
    disarm,
    gumbel_softmax_estimator,
    magic_box,
    measure_valued,
    pathwise,
    score_function,
    surrogate,
    variance_table,
)
from diffsample.estimators import score as score_mod
from diffsample.estimators.mohamed import empirical_variances, exact_variances
from diffsample.testing import check_primitive

ALPHA = 1e-3
N = 20_000


def z_crit(m: int) -> float:
    """Two-sided normal threshold for ``m`` simultaneous comparisons at total rate ALPHA."""
    return float(scipy.stats.norm.isf(ALPHA / (2 * m)))


def assert_unbiased(be, r: EstimatorResult, exact: dict, scale: float = 1.0):
    """z-test of every gradient entry of ``r`` against ``exact`` (NumPy arrays by name)."""
    m = sum(np.size(v) for v in exact.values())
    zc = z_crit(m)
    for k, ex in exact.items():
        g = be.to_numpy(r.grads[k]).astype(np.float64) * scale
        se = be.to_numpy(r.stderr(k)).astype(np.float64) * abs(scale)
        z = np.abs(g - np.asarray(ex)) / se
        assert np.all(z < zc), f"{k}: estimate {g}, exact {ex}, stderr {se}, z {z} >= {zc:.2f}"


def scalar(be, v):
    """A 0-d array of the backend (be.asarray makes 1-d arrays from scalars on torch)."""
    return be.asarray([float(v)])[0]


normal_fn = ds.Normal  # the class itself: dist_fn(loc=..., scale=...)


def normal_params(be, dtype="float64"):
    return {"loc": be.asarray([1.0, -0.5], dtype), "scale": be.asarray([0.5, 2.0], dtype)}


NORMAL_X2 = {"loc": [2.0, -1.0], "scale": [1.0, 4.0]}  # d/dmu, d/dsigma of mu^2 + sigma^2


def square(x):
    return x * x


def grad_square(x):
    return 2.0 * x


# ------------------------------------------------------------- local discrete models
# Small Bernoulli / Categorical models with hand-written log_prob VJPs, so that the
# score-function tests do not depend on the distribution family (tested separately,
# with the library's classes, in test_with_library_discrete_distributions).
@ds.primitive(name="tests.estimators.bernoulli_log_prob", nondiff=(0,))
def _bern_lp(xp, x, logits):
    return x * logits - xp.logaddexp(xp.zeros_like(logits), logits)


@_bern_lp.defvjp
def _(xp, inputs, out, g):
    x, logits = inputs
    return None, g * (x - 1.0 / (1.0 + xp.exp(-logits)))


class LocalBernoulli(ds.Distribution):
    _params = ("logits",)
    has_rsample = False

    def __init__(self, logits):
        super().__init__(True, logits=logits)

    def sample(self, key, sample_shape=()):
        xp = self._backend.xp
        shape = self._extended_shape(sample_shape)
        u = ds.random.uniform(key, shape, like=self.logits)
        return xp.astype(xp.log(u) - xp.log1p(-u) < self.logits, self.dtype)

    def log_prob(self, x):
        return _bern_lp(x, self.logits)


@ds.primitive(name="tests.estimators.categorical_log_prob", nondiff=(0,))
def _cat_lp(xp, onehot, logits):
    m = xp.max(logits, axis=-1, keepdims=True)
    lse = m + xp.log(xp.sum(xp.exp(logits - m), axis=-1, keepdims=True))
    return xp.sum(onehot * (logits - lse), axis=-1)


@_cat_lp.defvjp
def _(xp, inputs, out, g):
    onehot, logits = inputs
    e = xp.exp(logits - xp.max(logits, axis=-1, keepdims=True))
    p = e / xp.sum(e, axis=-1, keepdims=True)
    return None, g[..., None] * (onehot - p)


class LocalCategorical(ds.Distribution):
    _params = ("logits",)
    has_rsample = False

    def __init__(self, logits):
        super().__init__(True, logits=logits)
        self.batch_shape = tuple(logits.shape[:-1])

    def sample(self, key, sample_shape=()):
        xp = self._backend.xp
        shape = self._extended_shape(sample_shape) + (self.logits.shape[-1],)
        g = ds.random.gumbel(key, shape, like=self.logits)
        return xp.astype(xp.argmax(self.logits + g, axis=-1), self.dtype)  # float indices

    def log_prob(self, x):
        xp = self._backend.xp
        k = self.logits.shape[-1]
        onehot = xp.astype(x[..., None] == xp.astype(xp.arange(k), x.dtype), self.logits.dtype)
        if hasattr(onehot, "device") and hasattr(self.logits, "device") and onehot.device != self.logits.device:
            onehot = onehot.to(self.logits.device)
        return _cat_lp(onehot, self.logits)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


BERN_LOGITS = np.array([0.3, -1.0, 2.0])
BERN_W = np.array([1.0, 2.0, -1.0])


def bern_f_np(b):
    return (b @ BERN_W - 0.7) ** 2


def bern_exact(logits=BERN_LOGITS):
    """E f(b) and its gradient w.r.t. the logits by enumerating the 8 outcomes."""
    p = _sigmoid(logits)
    val, grad = 0.0, np.zeros(3)
    for bits in itertools.product([0.0, 1.0], repeat=3):
        b = np.array(bits)
        pr = np.prod(np.where(b == 1, p, 1 - p))
        fb = bern_f_np(b)
        val += pr * fb
        grad += pr * fb * (b - p)  # d pr / d logit_j = pr (b_j - p_j)
    return val, grad


def bern_f(be):
    w = be.asarray(BERN_W)

    def f(b):
        return (be.xp.sum(b * be.xp.astype(w, b.dtype), axis=-1) - 0.7) ** 2

    return f


# ------------------------------------------------------------------ result type
def test_result_type_and_namespace(be, dtype):
    p = normal_params(be, dtype)
    r = score_function(normal_fn, p, square, ds.random.key(0), N, "leave_one_out")
    assert isinstance(r, EstimatorResult)
    for arr in [r.value, *r.grads.values(), *r.per_sample.values(), *r.variance().values(), *r.stderr().values()]:
        assert type(arr) is type(p["loc"])
        assert arr.dtype == be.dtype(dtype)
    assert tuple(r.value.shape) == (2,) and r.n == N  # f acts entry-wise: one objective per entry
    assert tuple(r.grads["loc"].shape) == (2,) and tuple(r.per_sample["scale"].shape) == (N, 2)
    np.testing.assert_allclose(
        be.to_numpy(r.grads["scale"]), be.to_numpy(r.per_sample["scale"]).mean(0), rtol=1e-5 if dtype == "float32" else 1e-12
    )
    v = be.to_numpy(r.variance("loc"))
    np.testing.assert_allclose(v, be.to_numpy(r.per_sample["loc"]).var(0, ddof=1), rtol=1e-4 if dtype == "float32" else 1e-10)
    np.testing.assert_allclose(be.to_numpy(r.stderr("loc")), np.sqrt(v / N), rtol=1e-4)
    assert "EstimatorResult" in repr(r)
    with pytest.raises(KeyError, match="nope"):
        r.variance("nope")


def test_python_scalar_params_and_mixed_libraries(be):
    r = score_function(normal_fn, {"loc": 1.0, "scale": 0.5}, square, 0, 100)
    assert isinstance(r.value, np.ndarray)
    if be.kind != "numpy":
        with pytest.raises(TypeError, match="two libraries"):
            score_function(normal_fn, {"loc": be.asarray(1.0), "scale": np.asarray(0.5)}, square, 0, 100)


# --------------------------------------------------------------- score function
@pytest.mark.parametrize("baseline", [None, "leave_one_out", "optimal", "moving_average", "array", "callable"])
def test_score_function_unbiased_normal(be, baseline):
    p = normal_params(be)
    kw = {}
    bl = baseline
    if baseline == "moving_average":
        kw = {"baseline_state": be.asarray([1.1, 4.0])}
    elif baseline == "array":
        bl = be.asarray(1.0)
    elif baseline == "callable":
        bl = lambda loc, scale: loc * loc + scale * scale  # noqa: E731 - a critic of the parameters
    r = score_function(normal_fn, p, square, ds.random.key(1), N, bl, **kw)
    assert_unbiased(be, r, NORMAL_X2)
    np.testing.assert_allclose(be.to_numpy(r.value), [1.25, 4.25], rtol=0.1)


def test_baselines_reduce_variance(be):
    p = normal_params(be)
    var = {}
    for bl in (None, "leave_one_out", "optimal"):
        r = score_function(normal_fn, p, square, ds.random.key(2), N, bl)
        var[bl] = be.to_numpy(r.variance("scale"))
    # For f = x^2 the plain score-function variance is several times the baselined one.
    assert np.all(var["leave_one_out"] < 0.8 * var[None])
    assert np.all(var["optimal"] < 0.8 * var[None])


def test_rloo_is_unbiased_and_batch_mean_is_not(be):
    """n = 2 samples per problem, R = 20000 independent problems (a batch of parameters).

    RLOO's mean over the problems matches the exact gradient; the batch-mean baseline
    that includes the sample itself equals (1 - 1/n) x RLOO, i.e. half the gradient
    here, and the same z-test rejects it.
    """
    R, n = N, 2
    p = {"loc": be.asarray(np.full(R, 0.5)), "scale": be.asarray(np.full(R, 1.0))}
    r = score_function(normal_fn, p, square, ds.random.key(3), n, "leave_one_out")  # f acts entry-wise
    zc = z_crit(2)
    for k, exact in (("loc", 1.0), ("scale", 2.0)):
        g = be.to_numpy(r.grads[k])  # one RLOO estimate per problem
        est, se = g.mean(), g.std(ddof=1) / math.sqrt(R)
        assert abs(est - exact) / se < zc, (k, est, se)
        biased = (1 - 1 / n) * g
        assert abs(biased.mean() - exact) / (biased.std(ddof=1) / math.sqrt(R)) > zc  # |z| is about 50 here


def test_moving_average_state(be):
    p = normal_params(be)
    r0 = score_function(normal_fn, p, square, ds.random.key(4), N, "moving_average")
    v0 = be.to_numpy(r0.value)
    np.testing.assert_allclose(be.to_numpy(r0.state), v0)
    # With no state the first call has no baseline: identical to plain REINFORCE.
    rp = score_function(normal_fn, p, square, ds.random.key(4), N)
    np.testing.assert_allclose(be.to_numpy(r0.grads["scale"]), be.to_numpy(rp.grads["scale"]))
    r1 = score_function(normal_fn, p, square, ds.random.key(5), N, "moving_average", baseline_state=r0.state, decay=0.8)
    np.testing.assert_allclose(be.to_numpy(r1.state), 0.8 * v0 + 0.2 * be.to_numpy(r1.value), rtol=1e-12)
    # The baseline used was the state passed in.
    rc = score_function(normal_fn, p, square, ds.random.key(5), N, r0.state)
    np.testing.assert_allclose(be.to_numpy(r1.grads["loc"]), be.to_numpy(rc.grads["loc"]), rtol=1e-12)


def test_score_function_under_jit(be):
    if be.kind != "jax":
        pytest.skip("jax.jit")
    import jax

    p = normal_params(be)

    def step(key, loc, scale, state):
        return score_function(normal_fn, {"loc": loc, "scale": scale}, square, key, N, "moving_average", baseline_state=state)

    key = jax.numpy.asarray(ds.random.key(6))
    eager = step(key, p["loc"], p["scale"], be.asarray([1.0, 4.0]))
    jitted = jax.jit(step)(key, p["loc"], p["scale"], be.asarray([1.0, 4.0]))  # the whole result is a pytree
    assert isinstance(jitted, EstimatorResult)
    for a, b in [(eager.state, jitted.state), (eager.grads["loc"], jitted.grads["loc"]), (eager.value, jitted.value)]:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
    for bl in ("leave_one_out", "optimal"):
        fn = jax.jit(lambda k, l, s, bl=bl: score_function(normal_fn, {"loc": l, "scale": s}, square, k, N, bl).grads)
        ref = score_function(normal_fn, p, square, key, N, bl).grads
        out = fn(key, p["loc"], p["scale"])
        np.testing.assert_allclose(np.asarray(out["scale"]), np.asarray(ref["scale"]), rtol=1e-10)


@pytest.mark.parametrize("baseline", [None, "leave_one_out", "optimal"])
def test_score_function_unbiased_bernoulli(be, baseline):
    logits = be.asarray(BERN_LOGITS)
    r = score_function(lambda logits: LocalBernoulli(logits), {"logits": logits}, bern_f(be), ds.random.key(7), N, baseline)
    val, grad = bern_exact()
    assert_unbiased(be, r, {"logits": grad})
    assert abs(float(be.to_numpy(r.value)) - val) < 0.05


@pytest.mark.parametrize("baseline", [None, "leave_one_out"])
def test_score_function_unbiased_categorical(be, baseline):
    lg = np.array([0.5, -0.3, 1.2, 0.0])
    w = np.array([1.0, 3.0, -2.0, 0.5])
    logits = be.asarray(lg)
    wb = be.asarray(w)

    def f(x):  # x: float category indices of shape (n,)
        oh = be.xp.astype(x[:, None] == be.xp.astype(be.xp.arange(4), x.dtype), x.dtype)
        if be.kind == "torch":
            oh = oh.to(x.device)
        return be.xp.sum(oh * wb, axis=-1)

    r = score_function(lambda logits: LocalCategorical(logits), {"logits": logits}, f, ds.random.key(8), N, baseline)
    p = np.exp(lg) / np.exp(lg).sum()
    assert_unbiased(be, r, {"logits": p * (w - p @ w)})


def test_with_library_discrete_distributions(be):
    """The same checks through diffsample's own Bernoulli and Categorical."""
    from diffsample.distributions.bernoulli import Bernoulli
    from diffsample.distributions.categorical import Categorical

    r = score_function(Bernoulli, {"logits": be.asarray(BERN_LOGITS)}, bern_f(be), ds.random.key(9), N, "leave_one_out")
    assert_unbiased(be, r, {"logits": bern_exact()[1]})
    # The class itself with its parameter's own name: the scores come from Bernoulli.score;
    # under another name they come from the VJP of log_prob.  Both routes agree.
    for bl in ("optimal", None):
        r1 = score_function(Bernoulli, {"logits": be.asarray(BERN_LOGITS)}, bern_f(be), ds.random.key(9), 500, bl)
        r2 = score_function(
            lambda theta: Bernoulli(logits=theta), {"theta": be.asarray(BERN_LOGITS)}, bern_f(be), ds.random.key(9), 500, bl
        )
        np.testing.assert_allclose(
            be.to_numpy(r1.per_sample["logits"]), be.to_numpy(r2.per_sample["theta"]), rtol=1e-10, atol=1e-14
        )
    lg = np.array([0.5, -0.3, 1.2, 0.0])
    w = be.asarray(np.array([1.0, 3.0, -2.0, 0.5]))

    def f(x):
        return be.xp.take(w, be.xp.astype(x, be.xp.int64) if x.dtype != be.xp.int64 else x, axis=0)

    r = score_function(Categorical, {"logits": be.asarray(lg)}, f, ds.random.key(10), N, "optimal")
    p = np.exp(lg) / np.exp(lg).sum()
    wn = np.array([1.0, 3.0, -2.0, 0.5])
    assert_unbiased(be, r, {"logits": p * (wn - p @ wn)})


# ----------------------------------------------------------------------- DiCE
def _fixed_normal_draws(be, n=400, seed=0):
    rng = np.random.default_rng(seed)
    mu, sigma = 0.7, 1.3
    x = mu + sigma * rng.normal(size=n)
    return x, mu, sigma


def test_surrogate_value_and_gradient(be):
    """Value = mean(f) exactly; gradient = mean((f - b) * score), by every backend's route."""
    xn, mu, sigma = _fixed_normal_draws(be)
    x = be.asarray(xn)
    fx = be.asarray(np.cos(xn))
    for b in (None, 0.3):
        val, pullback = ds.vjp(
            lambda m, s: surrogate(ds.Normal(m, s).log_prob(x), fx, baseline=b), scalar(be, mu), scalar(be, sigma)
        )
        assert float(be.to_numpy(val)) == pytest.approx(np.mean(np.cos(xn)), rel=1e-14)
        g_mu, g_sigma = pullback(be.xp.ones_like(val))
        z = (xn - mu) / sigma
        fb = np.cos(xn) - (b or 0.0)
        np.testing.assert_allclose(be.to_numpy(g_mu), np.mean(fb * z / sigma), rtol=1e-12)
        np.testing.assert_allclose(be.to_numpy(g_sigma), np.mean(fb * (z * z - 1) / sigma), rtol=1e-12)


def test_surrogate_matches_score_function(be):
    p = normal_params(be)
    key = ds.random.key(11)
    r = score_function(normal_fn, p, square, key, N)
    x = ds.Normal(p["loc"], p["scale"]).sample(key, (N,))
    val, pullback = ds.vjp(lambda m, s: surrogate(ds.Normal(m, s).log_prob(x), x * x), p["loc"], p["scale"])
    g_loc, g_scale = pullback(be.xp.ones_like(val))
    # surrogate averages over all N x 2 entries; the estimator sums the batch.
    np.testing.assert_allclose(be.to_numpy(g_loc) * 2, be.to_numpy(r.grads["loc"]), rtol=1e-10)
    np.testing.assert_allclose(be.to_numpy(g_scale) * 2, be.to_numpy(r.grads["scale"]), rtol=1e-10)


def test_magic_box(be):
    lp = be.asarray([-1.3, -0.2, -5.0])
    m, pullback = ds.vjp(magic_box, lp)
    np.testing.assert_array_equal(be.to_numpy(m), 1.0)
    np.testing.assert_allclose(be.to_numpy(pullback(be.asarray([2.0, 3.0, 4.0]))[0]), [2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="log_prob"):
        magic_box(1.0)


@pytest.mark.parametrize("prim", [score_mod._magic, score_mod._dice_mean], ids=lambda p: p.name)
def test_dice_vjp_against_finite_differences(be, prim):
    check_primitive(prim, lambda a: be.asarray(a, "float64"), rtol=1e-6)


def _normal_hessian_by_hand(xn, mu, sigma, f):
    """mean over samples of f (s s^T + H), s and H the score and Hessian of log N(x | mu, sigma)."""
    z = (xn - mu) / sigma
    s = np.stack([z / sigma, (z * z - 1) / sigma], -1)
    h = np.empty((xn.size, 2, 2))
    h[:, 0, 0] = -1 / sigma**2
    h[:, 0, 1] = h[:, 1, 0] = -2 * z / sigma**2
    h[:, 1, 1] = (1 - 3 * z * z) / sigma**2
    per = f[:, None, None] * (s[:, :, None] * s[:, None, :] + h)
    return per.mean(0), per.std(0, ddof=1) / math.sqrt(xn.size)


def _framework_hessian(be, fn, mu, sigma):
    if be.kind == "torch":
        import torch

        m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
        s = torch.tensor(sigma, dtype=torch.float64, requires_grad=True)
        g = torch.autograd.grad(fn(m, s), (m, s), create_graph=True)
        rows = [torch.autograd.grad(gi, (m, s), retain_graph=True) for gi in g]
        return np.array([[float(a) for a in row] for row in rows])
    if be.kind == "jax":
        import jax

        # Reverse over reverse (custom_vjp supports it; forward mode it does not).
        hess = jax.jit(jax.jacrev(jax.grad(lambda v: fn(v[0], v[1]))))(be.asarray([mu, sigma]))
        return np.asarray(hess)
    pytest.skip("second derivatives need torch or jax autodiff")


def test_surrogate_second_derivative(be):
    """Hessian of the DiCE surrogate = mean(f (s s^T + H)) exactly; and ~ the exact Hessian.

    E[x^2] = mu^2 + sigma^2 has Hessian diag(2, 2).
    """
    if be.kind not in ("torch", "jax"):
        pytest.skip("second derivatives need torch or jax autodiff")
    rng = np.random.default_rng(1)
    mu, sigma, n = 0.7, 1.3, 200_000
    xn = mu + sigma * rng.normal(size=n)
    x = be.asarray(xn)
    hess = _framework_hessian(be, lambda m, s: surrogate(ds.Normal(m, s).log_prob(x), x * x), mu, sigma)
    by_hand, se = _normal_hessian_by_hand(xn, mu, sigma, xn * xn)
    np.testing.assert_allclose(hess, by_hand, rtol=1e-9, atol=1e-12)
    z = np.abs(by_hand - np.diag([2.0, 2.0])) / se
    assert np.all(z < z_crit(3)), z
    # And through magic_box with plain framework arithmetic, the usual DiCE spelling.
    hess2 = _framework_hessian(be, lambda m, s: be.xp.mean(magic_box(ds.Normal(m, s).log_prob(x)) * x * x), mu, sigma)
    np.testing.assert_allclose(hess2, by_hand, rtol=1e-9, atol=1e-12)


def test_dice_grads_match_framework_autodiff(be):
    """Our primitives against the plain formula exp(lp - stop(lp)) differentiated by the framework."""
    rng = np.random.default_rng(2)
    lpn, fn_, bn = rng.normal(size=6), rng.normal(size=6), 0.4
    if be.kind == "torch":
        import torch

        lp = torch.tensor(lpn, requires_grad=True)
        f = torch.tensor(fn_, requires_grad=True)
        ours = torch.autograd.grad(surrogate(lp * 1.5, f * f, baseline=bn), (lp, f))
        m = torch.exp(lp * 1.5 - (lp * 1.5).detach())
        plain = torch.autograd.grad(torch.mean(f * f * m + bn * (1 - m)), (lp, f))
    elif be.kind == "jax":
        import jax
        import jax.numpy as jnp

        def plain_fn(lp, f):
            m = jnp.exp(lp * 1.5 - jax.lax.stop_gradient(lp * 1.5))
            return jnp.mean(f * f * m + bn * (1 - m))

        ours = jax.grad(lambda lp, f: surrogate(lp * 1.5, f * f, baseline=bn), argnums=(0, 1))(
            jnp.asarray(lpn), jnp.asarray(fn_)
        )
        plain = jax.grad(plain_fn, argnums=(0, 1))(jnp.asarray(lpn), jnp.asarray(fn_))
    else:
        pytest.skip("framework autodiff")
    for a, b in zip(ours, plain):
        np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-12)


def test_dice_registered_gradient_check(be):
    rng = np.random.default_rng(3)
    lpn, fn_ = rng.normal(size=5), rng.normal(size=5)
    if be.kind == "torch":
        import torch

        args = (torch.tensor(lpn, requires_grad=True), torch.tensor(fn_, requires_grad=True))
        # The stopped copy is taken inside, so finite differences see a function whose
        # value never changes with lp: check the VJP through a fixed "stopped" input.
        c = 0.1  # the "stopped" input, fixed (a Python scalar works on every backend)
        assert torch.autograd.gradcheck(lambda lp, f: score_mod._dice_mean(lp, c, f, 0.2), args)
        assert torch.autograd.gradgradcheck(lambda lp, f: score_mod._dice_mean(lp, c, f, 0.2), args)
        assert torch.autograd.gradgradcheck(lambda lp: score_mod._magic(lp, c), (args[0],))
    elif be.kind == "jax":
        import jax.numpy as jnp
        from jax.test_util import check_grads

        c = 0.1
        args = (jnp.asarray(lpn), jnp.asarray(fn_))
        check_grads(lambda lp, f: score_mod._dice_mean(lp, c, f, 0.2), args, order=2, modes=["rev"])
        check_grads(lambda lp: score_mod._magic(lp, c), (jnp.asarray(lpn),), order=2, modes=["rev"])
    else:
        pytest.skip("framework gradient checks are for torch and jax")


# --------------------------------------------------------------------- pathwise
@pytest.mark.parametrize("use_grad_f", [True, False])
def test_pathwise_unbiased_normal(be, use_grad_f):
    if not use_grad_f and be.kind not in ("torch", "jax"):
        pytest.skip("autodiff of f needs torch or jax")
    p = normal_params(be)
    r = pathwise(normal_fn, p, square, ds.random.key(12), N, grad_f=grad_square if use_grad_f else None)
    assert_unbiased(be, r, NORMAL_X2)
    # A joint objective (one value per sample): the sum over the batch, same gradient.
    r2 = pathwise(
        normal_fn, p, lambda x: be.xp.sum(x * x, axis=-1), ds.random.key(12), N, grad_f=grad_square if use_grad_f else None
    )
    np.testing.assert_allclose(be.to_numpy(r2.grads["loc"]), be.to_numpy(r.grads["loc"]), rtol=1e-12)
    # Pathwise on f(x) = x^2 has much lower variance than the score function.
    rs = score_function(normal_fn, p, square, ds.random.key(12), N)
    assert np.all(be.to_numpy(r.variance("scale")) < be.to_numpy(rs.variance("scale")))


def test_pathwise_needs_grad_f_without_autodiff(be):
    p = normal_params(be)
    if be.kind in ("torch", "jax"):
        r = pathwise(normal_fn, p, square, 0, 10)  # autodiff of f
        assert tuple(r.grads["loc"].shape) == (2,)
        return
    with pytest.raises(ValueError, match="grad_f"):
        pathwise(normal_fn, p, square, 0, 10)


def test_pathwise_cos_and_jit(be):
    """E[cos x] = cos(mu) exp(-sigma^2/2); on JAX also under jit, equal to eager."""
    p = normal_params(be)
    mu, sg = np.array([1.0, -0.5]), np.array([0.5, 2.0])
    e = np.exp(-sg**2 / 2)
    exact = {"loc": -np.sin(mu) * e, "scale": -sg * np.cos(mu) * e}
    r = pathwise(normal_fn, p, be.xp.cos, ds.random.key(13), N, grad_f=lambda x: -be.xp.sin(x))
    assert_unbiased(be, r, exact)
    if be.kind == "jax":
        import jax

        key = jax.numpy.asarray(ds.random.key(13))
        fn = jax.jit(lambda k, l, s: pathwise(normal_fn, {"loc": l, "scale": s}, jax.numpy.cos, k, N).grads)
        out = fn(key, p["loc"], p["scale"])
        np.testing.assert_allclose(np.asarray(out["scale"]), np.asarray(r.grads["scale"]), rtol=1e-10)


# --------------------------------------------------------------- measure-valued
@pytest.mark.parametrize("coupling", [True, False])
def test_measure_valued_unbiased(be, coupling):
    p = normal_params(be)
    r = measure_valued(normal_fn, p, square, ds.random.key(14), N, coupling=coupling)
    assert_unbiased(be, r, NORMAL_X2)
    mu, sg = np.array([1.0, -0.5]), np.array([0.5, 2.0])
    e = np.exp(-sg**2 / 2)
    rc = measure_valued(normal_fn, p, be.xp.cos, ds.random.key(15), N, coupling=coupling)
    assert_unbiased(be, rc, {"loc": -np.sin(mu) * e, "scale": -sg * np.cos(mu) * e})
    np.testing.assert_allclose(be.to_numpy(rc.value), np.cos(mu) * e, atol=0.05)


def test_measure_valued_joint_objective_and_shared_scale(be):
    """One value per sample over a batch: coordinates are perturbed one at a time."""
    loc = be.asarray([1.0, -0.5])
    scale = scalar(be, 0.8)  # one scale shared by the batch: its gradient sums the batch

    def f(x):  # f(x) = (x0 x1)^2; E f = (mu0^2 + s^2) (mu1^2 + s^2)
        return (x[:, 0] * x[:, 1]) ** 2

    r = measure_valued(normal_fn, {"loc": loc, "scale": scale}, f, ds.random.key(16), N)
    m0, m1, s = 1.0, -0.5, 0.8
    a0, a1 = m0 * m0 + s * s, m1 * m1 + s * s
    exact = {"loc": [2 * m0 * a1, 2 * m1 * a0], "scale": 2 * s * (a0 + a1)}
    assert tuple(r.grads["scale"].shape) == ()
    assert_unbiased(be, r, exact)
    rs = score_function(normal_fn, {"loc": loc, "scale": scale}, f, ds.random.key(16), N, "leave_one_out")
    assert_unbiased(be, rs, exact)


def test_measure_valued_validation(be):
    p = normal_params(be)
    with pytest.raises(TypeError, match="Normal"):
        measure_valued(lambda loc, scale: LocalBernoulli(loc), p, square, 0, 10)
    with pytest.raises(ValueError, match="'scale' is neither"):
        measure_valued(lambda loc, scale: ds.Normal(loc, scale * 2.0), p, square, 0, 10)
    with pytest.raises(TypeError, match="coupling"):
        measure_valued(normal_fn, p, square, 0, 10, coupling=1)


# ------------------------------------------------------------------ ARM / DisARM
@pytest.mark.parametrize("est", [arm, disarm], ids=["arm", "disarm"])
def test_arm_disarm_unbiased(be, est):
    logits = be.asarray(BERN_LOGITS)
    r = est(logits, bern_f(be), ds.random.key(17), N)
    val, grad = bern_exact()
    assert_unbiased(be, r, {"logits": grad})
    assert abs(float(be.to_numpy(r.value)) - val) < 0.05
    # Entry-wise objective f_j(b_j) = w_j b_j: gradient w_j p_j (1 - p_j) per entry.
    w = be.asarray(BERN_W)
    re = est(logits, lambda b: b * w, ds.random.key(18), N)
    p = _sigmoid(BERN_LOGITS)
    assert tuple(re.value.shape) == (3,)
    assert_unbiased(be, re, {"logits": BERN_W * p * (1 - p)})


def test_disarm_beats_arm_and_score_function(be):
    logits = be.asarray(BERN_LOGITS)
    va = be.to_numpy(arm(logits, bern_f(be), ds.random.key(19), N).variance("logits"))
    vd = be.to_numpy(disarm(logits, bern_f(be), ds.random.key(19), N).variance("logits"))
    vs = be.to_numpy(
        score_function(LocalBernoulli, {"logits": logits}, bern_f(be), ds.random.key(19), N).variance("logits")
    )
    assert np.all(vd <= va * 1.05) and np.all(vd < vs)


def test_arm_validation(be):
    for est in (arm, disarm):
        with pytest.raises(ValueError, match=r"logits.*nan"):
            est(be.asarray([0.0, float("nan")]), lambda b: b[:, 0], 0, 10)
        with pytest.raises(TypeError, match="logits"):
            est([0.0], lambda b: b[:, 0], 0, 10)
        with pytest.raises(ValueError, match="f must return"):
            est(be.asarray([0.0, 1.0]), lambda b: b[:3, 0], 0, 10)


# ------------------------------------------------------------ Gumbel-Softmax / ST
def _softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_estimator(be, hard):
    """Per-sample gradient = d f(softmax((l + g)/tau)) / dl for the same noise; hard value unbiased."""
    lg = np.array([0.5, -0.3, 1.2, 0.0])
    wn = np.array([1.0, 3.0, -2.0, 0.5])
    w = be.asarray(wn)
    n, tau = N, 0.7
    key = ds.random.key(20)

    def f(y):
        return be.xp.sum(y * w, axis=-1) ** 2

    def grad_f(y):
        return 2.0 * be.xp.sum(y * w, axis=-1, keepdims=True) * w

    use = [grad_f] + ([None] if be.kind in ("torch", "jax") else [])
    results = [gumbel_softmax_estimator(be.asarray(lg), f, key, n, tau=tau, hard=hard, grad_f=gf) for gf in use]
    g = be.to_numpy(ds.random.gumbel(key, (n, 4), like=be.asarray(lg)))
    ys = _softmax((lg + g) / tau)
    y_used = np.eye(4)[ys.argmax(-1)] if hard else ys
    dfdy = 2 * (y_used @ wn)[:, None] * wn
    gz = ys * (dfdy - (dfdy * ys).sum(-1, keepdims=True))  # softmax VJP of the soft sample
    for r in results:
        np.testing.assert_allclose(be.to_numpy(r.per_sample["logits"]), gz / tau, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(float(be.to_numpy(r.value)), np.mean((y_used @ wn) ** 2), rtol=1e-12)
        assert abs(float(be.to_numpy(be.xp.sum(r.grads["logits"])))) < 1e-9  # softmax gradients sum to 0
    if hard:  # the one-hot forward is an exact categorical draw: the value is unbiased
        r = gumbel_softmax_estimator(be.asarray(lg), f, ds.random.key(21), N, tau=tau, hard=True, grad_f=grad_f)
        p = _softmax(lg)
        fv = be.to_numpy(f(be.asarray(np.eye(4))))  # f at each category
        ex, sd = p @ fv, math.sqrt(p @ fv**2 - (p @ fv) ** 2)
        assert abs(float(be.to_numpy(r.value)) - ex) / (sd / math.sqrt(N)) < z_crit(1)


# -------------------------------------------------------------------- validation
def test_validation(be):
    p = normal_params(be)
    with pytest.raises(ValueError, match=r"n must be an integer >= 1, got 0"):
        score_function(normal_fn, p, square, 0, 0)
    with pytest.raises(ValueError, match=r"n must be an integer >= 2, got 1"):
        score_function(normal_fn, p, square, 0, 1, "leave_one_out")
    with pytest.raises(ValueError, match=r"n must be .* got 2.5"):
        pathwise(normal_fn, p, square, 0, 2.5, grad_f=grad_square)
    with pytest.raises(ValueError, match=r"baseline must be .* got 'mean'"):
        score_function(normal_fn, p, square, 0, 10, "mean")
    with pytest.raises(ValueError, match=r"decay must be .* got 1.0"):
        score_function(normal_fn, p, square, 0, 10, "moving_average", decay=1.0)
    with pytest.raises(ValueError, match="baseline_state is only used with baseline='moving_average'"):
        score_function(normal_fn, p, square, 0, 10, "leave_one_out", baseline_state=be.asarray([1.0, 1.0]))
    with pytest.raises(ValueError, match="params must be a non-empty dict"):
        score_function(normal_fn, [1.0, 2.0], square, 0, 10)
    with pytest.raises(ValueError, match=r"f must return one value per sample.*got shape \(10, 3\)"):
        score_function(normal_fn, p, lambda x: be.xp.zeros((10, 3), dtype=x.dtype), 0, 10)
    with pytest.raises(ValueError, match=r"grad_f must return an array shaped like x"):
        pathwise(normal_fn, p, square, 0, 10, grad_f=lambda x: x[:, 0])
    with pytest.raises(ValueError, match="scale"):
        score_function(normal_fn, {"loc": p["loc"], "scale": be.asarray([1.0, -1.0])}, square, 0, 10)
    with pytest.raises(ValueError, match="baseline of shape"):
        score_function(normal_fn, p, square, 0, 10, be.asarray([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax_estimator(be.asarray([0.0, 1.0]), lambda y: y[:, 0], 0, 10, tau=0.0, grad_f=lambda y: y)
    with pytest.raises(TypeError, match="rsample"):
        pathwise(lambda logits: LocalBernoulli(logits), {"logits": be.asarray([0.0])}, square, 0, 10, grad_f=grad_square)


def test_no_graph_leaks_on_torch(be):
    if be.kind != "torch":
        pytest.skip("torch")
    import torch

    loc = torch.tensor([1.0, -0.5], dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    for r in (
        score_function(normal_fn, {"loc": loc, "scale": scale}, square, 0, 100, "optimal"),
        pathwise(normal_fn, {"loc": loc, "scale": scale}, square, 0, 100),
        measure_valued(normal_fn, {"loc": loc, "scale": scale}, square, 0, 100),
    ):
        assert not any(v.requires_grad for v in r.grads.values())
        assert not r.value.requires_grad
    assert loc.grad is None


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision_params(be, low):
    p = {"loc": be.asarray([100.0, -3.0], low), "scale": be.asarray([30.0, 1e-2], low)}
    gf = grad_square if be.kind not in ("torch", "jax") else None
    rs = [
        score_function(normal_fn, p, square, 0, N, "optimal"),
        score_function(normal_fn, p, square, 0, N, "leave_one_out"),
        pathwise(normal_fn, p, square, 0, N, grad_f=gf),
        measure_valued(normal_fn, p, square, 0, N),
        arm(p["loc"], lambda b: be.xp.sum(b, axis=-1), 0, N),
        disarm(p["loc"], lambda b: be.xp.sum(b, axis=-1), 0, N),
    ]
    for r in rs:
        for k, g in r.grads.items():
            assert g.dtype == be.dtype(low)
            assert np.all(np.isfinite(be.to_numpy(be.xp.astype(g, be.xp.float32)))), (k, g)


# ------------------------------------------------- Mohamed et al. (2020) variances
def test_exact_variances_closed_forms():
    """quad against closed-form moments for f = (x - k)^2, x ~ N(1, 1) (a = 1 - k).

    SF mu: a^4 + 18 a^2 + 15 - 4 a^2, sigma: 2 a^4 + 60 a^2 + 78 - 4; pathwise mu: 4, sigma: 4 a^2 + 8;
    measure-valued (coupled) mu: 4 a^2 (4/pi - 1), sigma: 4 a^2 + 4.
    """
    for k in (-3.0, 0.0, 3.0):
        a = 1.0 - k
        v = exact_variances("quadratic", k)
        assert v["grad"]["mu"] == pytest.approx(2 * a, rel=1e-9)
        assert v["grad"]["sigma"] == pytest.approx(2.0, rel=1e-9)
        assert v["score function"]["mu"] == pytest.approx(a**4 + 14 * a**2 + 15, rel=1e-8)
        assert v["score function"]["sigma"] == pytest.approx(2 * a**4 + 60 * a**2 + 74, rel=1e-8)
        assert v["pathwise"]["mu"] == pytest.approx(4.0, rel=1e-8)
        assert v["pathwise"]["sigma"] == pytest.approx(4 * a**2 + 8, rel=1e-8)
        assert v["measure-valued (coupled)"]["mu"] == pytest.approx(4 * a**2 * (4 / math.pi - 1), rel=1e-8)
        assert v["measure-valued (coupled)"]["sigma"] == pytest.approx(4 * a**2 + 4, rel=1e-6)


def test_variance_table_matches_exact():
    """Empirical per-sample variances agree with the integrals (Bonferroni over the table)."""
    rows = variance_table(n=N, print_table=False)
    zc = z_crit(len(rows) * 4)
    worst = max(r["worst_z"] for r in rows)
    assert worst < zc, worst
    v, se = empirical_variances("cos", [5.0], n=N)["score function"]["sigma"]
    assert abs(v[0] - exact_variances("cos", 5.0)["score function"]["sigma"]) < zc * se[0]
