"""Uniform, Exponential, Gumbel, Laplace, Cauchy: one conformance suite, every backend.

Each test is written once and runs for the five distributions (``dist`` parameter)
on every backend of the session (``be`` fixture of ``tests/conftest.py``).

References: log_prob, cdf, log_cdf and icdf are the closed forms evaluated with
mpmath at 50 digits, at the test points *after* rounding them (and the parameters)
to the dtype under test, so that only our arithmetic is measured; those closed forms
are checked against ``scipy.stats`` (``uniform``, ``expon``, ``gumbel_r``,
``laplace``, ``cauchy``) in the bulk, where SciPy is accurate (in the far tails it is
not always: e.g. its Laplace ``logpdf`` is ``-inf`` 800 scale units out).  Entropy,
mean, variance and standard deviation come from ``scipy.stats``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import mpmath
import numpy as np
import pytest
import scipy.stats

import diffsample as ds
from diffsample.distributions import cauchy as cauchy_mod
from diffsample.distributions import exponential as exponential_mod
from diffsample.distributions import gumbel as gumbel_mod
from diffsample.distributions import laplace as laplace_mod
from diffsample.distributions import uniform as uniform_mod
from diffsample.distributions.cauchy import Cauchy
from diffsample.distributions.exponential import Exponential
from diffsample.distributions.gumbel import Gumbel
from diffsample.distributions.laplace import Laplace
from diffsample.distributions.uniform import Uniform
from diffsample.testing import check_primitive

# Every statistical test below uses a fixed key and the threshold p > 1e-3: under the
# null hypothesis the KS p-value is uniform on (0, 1), so a correct sampler fails a
# given test for at most 1e-3 of keys (the false-failure rate per test).
ALPHA = 1e-3
EULER = 0.57721566490153286061
# One sample shape and 8 test points everywhere: on JAX every new shape compiles each op anew.
N = 8


# ------------------------------------------------------------------------ the cases
@dataclass
class Case:
    name: str
    cls: type
    mod: Any
    params: dict[str, np.ndarray]  # batch of 4, float64
    scipy: Callable[..., Any]  # params -> frozen scipy.stats distribution
    # test points, shape (k, 4), as a function of the parameters (tails included)
    points: Callable[..., np.ndarray]
    prims: list = field(default_factory=list)
    has_moments: bool = True

    def make(self, be: Any, dtype: str = "float64", **kw: Any) -> Any:
        return self.cls(*[be.asarray(v, dtype) for v in self.params.values()], **kw)

    def __str__(self) -> str:
        return self.name


def _prims(mod: Any) -> list:
    # (the moments are the shared location-scale primitives, checked in test_normal.py)
    return [getattr(mod, n) for n in ("_rsample", "_log_prob", "_cdf", "_log_cdf", "_icdf") if hasattr(mod, n)]


def _z_points(loc: np.ndarray, scale: np.ndarray, zs: list[float]) -> np.ndarray:
    return loc + scale * np.asarray(zs)[:, None]


CASES = [
    Case(
        "uniform", Uniform, uniform_mod,
        {"low": np.array([0.0, -1.0, 2.0, -3.0]), "high": np.array([1.0, 3.0, 2.5, 7.0])},
        lambda low, high: scipy.stats.uniform(loc=low, scale=high - low),
        # inside, 1e-9 widths from either end (log_cdf near -inf and near 0), outside
        lambda low, high: low + (high - low) * np.array([0.3, 0.7, 0.5, 1e-9, 0.999, 1.0 - 1e-9, -0.5, 1.5])[:, None],
    ),
    Case(
        "exponential", Exponential, exponential_mod,
        {"rate": np.array([1.0, 0.5, 3.0, 10.0])},
        lambda rate: scipy.stats.expon(scale=1.0 / rate),
        # log_cdf near 0 (x = 1e-12 / rate), bulk, upper tail (log_cdf ~ -exp(-40)), x < 0
        lambda rate: np.array([1e-12, 1e-5, 0.5, 2.0, 5.0, 40.0, 700.0, -1.0])[:, None] / rate,
    ),
    Case(
        "gumbel", Gumbel, gumbel_mod,
        {"loc": np.array([0.0, 1.0, -2.0, 3.0]), "scale": np.array([1.0, 0.5, 2.0, 3.0])},
        lambda loc, scale: scipy.stats.gumbel_r(loc=loc, scale=scale),
        # cdf far left (z = -6: cdf ~ 6e-176), log_cdf at z = -50 (-5e21), right tail
        lambda loc, scale: _z_points(loc, scale, [-50.0, -6.0, -3.0, -0.4, 0.0, 2.0, 8.0, 30.0]),
    ),
    Case(
        "laplace", Laplace, laplace_mod,
        {"loc": np.array([0.0, 1.0, -2.0, 3.0]), "scale": np.array([1.0, 0.5, 2.0, 3.0])},
        lambda loc, scale: scipy.stats.laplace(loc=loc, scale=scale),
        # log_cdf 50 and 800 scale units left of loc (cdf underflows there), right tail
        lambda loc, scale: _z_points(loc, scale, [-800.0, -50.0, -5.0, -0.3, 0.0, 0.7, 5.0, 40.0]),
    ),
    Case(
        "cauchy", Cauchy, cauchy_mod,
        {"loc": np.array([0.0, 1.0, -2.0, 3.0]), "scale": np.array([1.0, 0.5, 2.0, 3.0])},
        lambda loc, scale: scipy.stats.cauchy(loc=loc, scale=scale),
        # far tails (log_cdf ~ -1/(pi 1e12) on the right), z = 1e30 (z**2 overflows float32)
        lambda loc, scale: _z_points(loc, scale, [-1e30, -1e12, -1e3, -0.5, 0.7, 1e3, 1e12, 1e30]),
        has_moments=False,
    ),
]
for _c in CASES:
    _c.prims = _prims(_c.mod)
ALL_PRIMS = [p for c in CASES for p in c.prims]
IDS = [c.name for c in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def dist(request: pytest.FixtureRequest) -> Case:
    return request.param


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    """``a`` rounded to ``dtype`` and back to float64 (references are taken there)."""
    return np.asarray(a, dtype=dtype).astype(np.float64)


def _params_np(case: Case, dtype: str) -> dict[str, np.ndarray]:
    return {k: _rounded(v, dtype) for k, v in case.params.items()}


def _run(be: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, under ``jax.jit`` on JAX: every method also runs traced there (the
    parameters enter as arguments, so they are traced and validation is skipped, as
    documented); the other tests run them eagerly."""
    if be.kind == "jax":
        import jax

        return jax.jit(fn)(*args)
    return fn(*args)


# ------------------------------------------------------------ shapes and randomness
def test_rsample_shape_dtype_namespace(be, dtype, dist):
    d = dist.make(be, dtype)
    assert d.batch_shape == (4,)

    def fn(*ps):
        d = dist.cls(*ps)
        x = d.rsample(ds.random.key(0), (N,))
        return x, d.log_prob(x), d.sample(ds.random.key(1), N)

    params = [be.asarray(v, dtype) for v in dist.params.values()]
    x, lp, s = fn(*params)
    assert tuple(x.shape) == (N, 4) and tuple(s.shape) == (N, 4)
    assert x.dtype == be.dtype(dtype) and lp.dtype == be.dtype(dtype)
    assert type(x) is type(params[0])
    xn = be.to_numpy(x)
    assert np.all(np.isfinite(xn))
    assert np.all(np.isfinite(be.to_numpy(lp)))
    assert np.all(np.isfinite(be.to_numpy(s)))
    lo, hi = d.support
    lo = np.broadcast_to(be.to_numpy(lo) if not isinstance(lo, float) else lo, (4,))
    hi = np.broadcast_to(be.to_numpy(hi) if not isinstance(hi, float) else hi, (4,))
    assert np.all((xn >= lo) & (xn <= hi))


def test_batch_broadcasting(be, dist):
    vals = list(dist.params.values())
    # first parameter of shape (3, 1), the others of shape (4,): batch shape (3, 4)
    args = [be.asarray(np.broadcast_to(vals[0][:1], (3, 1)) + 0.0)] + [be.asarray(v) for v in vals[1:]]
    if dist.name == "uniform":
        args = [be.asarray(np.full((3, 1), -5.0)), be.asarray(vals[1])]
    batch = (3, 4) if len(args) > 1 else (3, 1)
    assert dist.cls(*args).batch_shape == batch
    x = be.asarray(np.full((5, 1, 1), 0.5))

    def fn(x, *ps):
        d = dist.cls(*ps)
        return (d.rsample(1, (2,)), d.entropy(), d.mean, d.variance, d.stddev, d.log_prob(x),
                *d.score(x).values())

    out = _run(be, fn, x, *args)
    assert tuple(out[0].shape) == (2, *batch)
    for m in out[1:5]:
        assert tuple(m.shape) == batch
    for v in out[5:]:
        assert tuple(v.shape) == (5, *batch)


def test_same_key_same_numbers(be, dist):
    d = dist.make(be)
    a, b = d.rsample(ds.random.key(7), (N,)), d.rsample(ds.random.key(7), (N,))
    c = d.rsample(ds.random.key(8), (N,))
    assert np.array_equal(be.to_numpy(a), be.to_numpy(b))
    assert not np.array_equal(be.to_numpy(a), be.to_numpy(c))


@pytest.mark.parametrize("stream", ["native", "portable"])
def test_rsample_is_icdf_of_the_uniform_draw(be, dist, stream):
    """rsample(key) == icdf(u) for u = ds.random.uniform(key) (the documented inverse-CDF draw)."""
    d = dist.make(be)
    like = next(iter(vars(d).values()))
    with ds.random.stream(stream):
        x = d.rsample(ds.random.key(3), (N,))
        u = ds.random.uniform(ds.random.key(3), (N, 4), like=like)
    np.testing.assert_allclose(be.to_numpy(x), be.to_numpy(d.icdf(u)), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("stream", ["native", "portable"])
def test_ks(be, dtype, dist, stream):
    params = {k: v[1] for k, v in dist.params.items()}  # one member of the batch
    with ds.random.stream(stream):
        x = _run(be, lambda *ps: dist.cls(*ps).sample(ds.random.key(3), (4000,)),
                 *[be.asarray(v, dtype) for v in params.values()])
    x = be.to_numpy(x).astype(np.float64)
    ref = dist.scipy(**{k: _rounded(v, dtype) for k, v in params.items()})
    assert scipy.stats.kstest(x, ref.cdf).pvalue > ALPHA


# --------------------------------------------------------------- values vs SciPy
TOL = {"float32": dict(rtol=3e-5), "float64": dict(rtol=2e-12)}


def _close(ours: Any, ref: np.ndarray, dtype: str, rtol: float | None = None, atol: float = 0.0) -> None:
    ref_d = _rounded(ref, dtype)  # what a correctly rounded result would be
    tiny = float(np.finfo(dtype).tiny)
    np.testing.assert_allclose(ours, ref_d, rtol=rtol or TOL[dtype]["rtol"], atol=max(atol, tiny))


def _mp_methods(name: str, params: dict[str, float]) -> dict[str, Callable[[float], Any]]:
    """Closed forms of log_prob, cdf, log_cdf and icdf in mpmath (50 digits) at one parameter set."""
    mp = mpmath
    f = mp.mpf
    P = {k: f(v) for k, v in params.items()}
    ninf = -mp.inf

    def safe_log(v):
        return mp.log(v) if v > 0 else ninf

    if name == "uniform":
        lo, hi = P["low"], P["high"]
        cdf = lambda x: min(max((f(x) - lo) / (hi - lo), f(0)), f(1))  # noqa: E731
        return {"log_prob": lambda x: -mp.log(hi - lo) if lo <= f(x) <= hi else ninf, "cdf": cdf,
                "log_cdf": lambda x: safe_log(cdf(x)), "icdf": lambda p: lo + f(p) * (hi - lo)}
    if name == "exponential":
        r = P["rate"]
        cdf = lambda x: -mp.expm1(-r * f(x)) if x > 0 else f(0)  # noqa: E731
        return {"log_prob": lambda x: mp.log(r) - r * f(x) if x >= 0 else ninf, "cdf": cdf,
                "log_cdf": lambda x: mp.log1p(-mp.exp(-r * f(x))) if x > 0 else ninf,
                "icdf": lambda p: -mp.log1p(-f(p)) / r}
    loc, sc = P["loc"], P["scale"]
    z = lambda x: (f(x) - loc) / sc  # noqa: E731
    if name == "gumbel":
        return {"log_prob": lambda x: -z(x) - mp.exp(-z(x)) - mp.log(sc), "cdf": lambda x: mp.exp(-mp.exp(-z(x))),
                "log_cdf": lambda x: -mp.exp(-z(x)), "icdf": lambda p: loc - sc * mp.log(-mp.log(f(p)))}
    if name == "laplace":
        cdf = lambda x: mp.exp(z(x)) / 2 if z(x) < 0 else 1 - mp.exp(-z(x)) / 2  # noqa: E731
        return {"log_prob": lambda x: -abs(z(x)) - mp.log(2 * sc), "cdf": cdf, "log_cdf": lambda x: mp.log(cdf(x)),
                "icdf": lambda p: loc + sc * mp.log(2 * f(p)) if p < 0.5 else loc - sc * mp.log(2 * (1 - f(p)))}
    cdf = lambda x: f(1) / 2 + mp.atan(z(x)) / mp.pi  # noqa: E731
    return {"log_prob": lambda x: -mp.log(mp.pi * sc * (1 + z(x) ** 2)), "cdf": cdf,
            "log_cdf": lambda x: mp.log(cdf(x)), "icdf": lambda p: loc + sc * mp.tan(mp.pi * (f(p) - f(1) / 2))}


_REF_CACHE: dict = {}


def _references(case: Case, dtype: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(x, p, {method: reference}) at the dtype-rounded points, by mpmath at 50 digits."""
    key = (case.name, dtype)
    if key not in _REF_CACHE:
        mpmath.mp.dps = 50
        params = _params_np(case, dtype)
        x = _rounded(case.points(**params), dtype)
        eps = float(np.finfo(dtype).eps)
        p = _rounded(np.array([1e-30, 1e-6, 0.3, 0.5, 0.7, 0.9, 1 - 1e-6, 1 - eps / 2]), dtype)[:, None] + np.zeros(4)
        refs = {}
        for j in range(4):
            fns = _mp_methods(case.name, {k: v[j] for k, v in params.items()})
            for m, fn in fns.items():
                pts = p if m == "icdf" else x
                col = refs.setdefault(m, np.zeros(pts.shape))
                col[:, j] = [float(fn(float(a))) for a in pts[:, j]]
        _REF_CACHE[key] = (x, p, refs)
    return _REF_CACHE[key]


def test_mpmath_references_agree_with_scipy(dist):
    """The closed forms above against scipy.stats in float64, where scipy is accurate (the bulk)."""
    x, p, refs = _references(dist, "float64")
    ref = dist.scipy(**dist.params)
    with np.errstate(all="ignore"):
        sp = {"log_prob": ref.logpdf(x), "cdf": ref.cdf(x), "log_cdf": ref.logcdf(x), "icdf": ref.ppf(p)}
    for m, ours in refs.items():
        bulk = np.isfinite(sp[m]) & (np.abs(sp[m]) > 1e-200) & (np.abs(sp[m]) < 1e200)
        np.testing.assert_allclose(ours[bulk], sp[m][bulk], rtol=1e-6, err_msg=m)


def test_methods_against_references(be, dtype, dist):
    """Every method, float32 and float64, tails included: mpmath closed forms and scipy.stats."""
    params = _params_np(dist, dtype)
    x, p, refs = _references(dist, dtype)
    ref = dist.scipy(**params)
    d = dist.make(be, dtype)
    xs = be.asarray(x, dtype)
    # cond: the relative error that rounding z = (x - loc)/scale once causes, e.g.
    # |z| e^{-z} ~ 2.4e3 for the Gumbel CDF at z = -6; tolerances carry it where needed.
    cond = 60.0 if dist.name == "gumbel" else 2.0
    rtol = TOL[dtype]["rtol"]
    _close(be.to_numpy(d.log_prob(xs)), refs["log_prob"], dtype, rtol * cond)
    _close(be.to_numpy(d.cdf(xs)), refs["cdf"], dtype, rtol * (3e3 if dist.name == "gumbel" else 2))
    _close(be.to_numpy(d.log_cdf(xs)), refs["log_cdf"], dtype, rtol * cond)
    # loc + scale * q cancels where the quantile crosses 0: absolute error ~ eps * |loc|
    shift = 0.0 if dist.name == "exponential" else float(np.max(np.abs(next(iter(params.values())))))
    _close(be.to_numpy(d.icdf(be.asarray(p, dtype))), refs["icdf"], dtype, rtol * 4, atol=rtol * shift)
    # entropy and moments: scipy.stats
    _close(be.to_numpy(d.entropy()), ref.entropy(), dtype)
    if dist.has_moments:
        _close(be.to_numpy(d.mean), ref.mean(), dtype)
        _close(be.to_numpy(d.variance), ref.var(), dtype)
        _close(be.to_numpy(d.stddev), ref.std(), dtype)
    else:  # the Cauchy distribution has neither: NaN of batch shape, like torch
        for m in (d.mean, d.variance, d.stddev):
            assert tuple(m.shape) == (4,) and m.dtype == be.dtype(dtype)
            assert np.all(np.isnan(be.to_numpy(m)))


def _mp_tail_refs() -> list[tuple[str, str, float, float, float]]:
    """(dist, method, x or p, reference, rtol) at standard parameters, by mpmath at 50 digits."""
    mpmath.mp.dps = 50
    f = mpmath.mpf
    refs = [
        ("exponential", "log_cdf", 1e-12, mpmath.log(-mpmath.expm1(-f(1e-12))), 1e-14),
        ("exponential", "log_cdf", 40.0, mpmath.log1p(-mpmath.exp(-f(40))), 1e-14),
        ("exponential", "icdf", 1 - 2.0**-53, -mpmath.log(f(2) ** -53), 1e-14),
        ("gumbel", "cdf", -6.0, mpmath.exp(-mpmath.exp(f(6))), 1e-12),
        ("gumbel", "log_cdf", -50.0, -mpmath.exp(f(50)), 1e-14),
        ("gumbel", "log_prob", -50.0, f(50) - mpmath.exp(f(50)), 1e-14),
        ("gumbel", "icdf", 1e-300, -mpmath.log(-mpmath.log(f(1e-300))), 1e-14),
        ("gumbel", "icdf", 1 - 2.0**-53, -mpmath.log(-mpmath.log(1 - f(2) ** -53)), 1e-14),
        ("laplace", "log_cdf", -50.0, f(-50) - mpmath.log(2), 1e-15),
        ("laplace", "cdf", -50.0, mpmath.exp(f(-50)) / 2, 1e-14),
        ("laplace", "log_cdf", 40.0, mpmath.log1p(-mpmath.exp(f(-40)) / 2), 1e-14),
        ("laplace", "icdf", 1e-300, mpmath.log(2 * f(1e-300)), 1e-14),
        ("cauchy", "cdf", -1e12, mpmath.atan(1 / f(1e12)) / mpmath.pi, 1e-14),
        ("cauchy", "log_cdf", 1e12, mpmath.log(1 - mpmath.atan(1 / f(1e12)) / mpmath.pi), 1e-14),
        ("cauchy", "log_prob", 1e200, -mpmath.log(mpmath.pi * (1 + f(1e200) ** 2)), 1e-14),
        ("cauchy", "icdf", 1e-300, -1 / mpmath.tan(mpmath.pi * f(1e-300)), 1e-14),
        ("cauchy", "icdf", 1 - 2.0**-53, 1 / mpmath.tan(mpmath.pi * f(2) ** -53), 1e-14),
        ("uniform", "log_cdf", 1 - 1e-12, mpmath.log(f(1 - 1e-12)), 1e-12),
    ]
    return [(n, m, a, float(r), tol) for n, m, a, r, tol in refs]


@pytest.mark.parametrize("name,method,arg,ref,rtol", _mp_tail_refs(), ids=lambda v: str(v)[:12])
def test_tails_against_mpmath(be, name, method, arg, ref, rtol):
    """Far-tail values, float64, standard parameters (loc 0, scale 1, rate 1, [0, 1])."""
    case = next(c for c in CASES if c.name == name)
    std = {"uniform": (0.0, 1.0), "exponential": (1.0,)}.get(name, (0.0, 1.0))
    d = case.cls(*[be.asarray(v, "float64") for v in std])
    out = getattr(d, method)(be.asarray(np.array([arg]), "float64"))
    np.testing.assert_allclose(be.to_numpy(out), [ref], rtol=rtol, atol=0)


def test_edges_and_outside_support(be, dtype, dist):
    """icdf at 0 and 1 is the support's end, NaN outside [0, 1]; off-support values and zero gradients."""
    d = dist.make(be, dtype)
    params = [be.asarray(v, dtype) for v in dist.params.values()]
    p = be.asarray(np.array([[0.0], [1.0], [-0.5], [1.5], [np.nan]]), dtype)
    q = be.to_numpy(_run(be, lambda p, *ps: dist.cls(*ps).icdf(p), p, *params))
    lo, hi = d.support
    lo = be.to_numpy(lo) if not isinstance(lo, float) else lo
    hi = be.to_numpy(hi) if not isinstance(hi, float) else hi
    np.testing.assert_array_equal(q[0], np.broadcast_to(lo, (4,)))
    np.testing.assert_array_equal(q[1], np.broadcast_to(hi, (4,)))
    assert np.all(np.isnan(q[2:]))
    if dist.name in ("uniform", "exponential"):
        first = dist.params["low"] if dist.name == "uniform" else np.zeros(4)
        below = be.asarray(first - 1.0, dtype)

        def fn(below, *params):
            d = dist.cls(*params)
            # gradient through log_prob off the support: exactly 0, not NaN
            _, pullback = ds.vjp(lambda *ps: dist.cls(*ps).log_prob(below), *params)
            return d.log_prob(below), d.cdf(below), d.log_cdf(below), d.score(below), pullback(be.xp.ones_like(below))

        lp, cdf, lcdf, score, grads = _run(be, fn, below, *params)
        assert np.all(be.to_numpy(lp) == -np.inf)
        assert np.all(be.to_numpy(cdf) == 0.0)
        assert np.all(be.to_numpy(lcdf) == -np.inf)
        for v in (*score.values(), *grads):
            assert np.all(be.to_numpy(v) == 0.0)


def test_uniform_icdf_stays_in_support(be):
    """0.1 + (0.3 - 0.1) * 1 rounds to 0.30000000000000004: icdf(1) must still be high."""
    low, high = be.asarray(np.array([0.1, -0.3])), be.asarray(np.array([0.3, -0.1]))
    x = Uniform(low, high).icdf(be.asarray(np.array([1.0, 0.0])))
    np.testing.assert_array_equal(be.to_numpy(x), [0.3, -0.3])
    assert np.all(np.isfinite(be.to_numpy(Uniform(low, high).log_prob(x))))


# --------------------------------------------------------------------- gradients
@pytest.mark.parametrize("prim", ALL_PRIMS, ids=lambda p: p.name)
def test_vjp_against_finite_differences(be, prim):
    check_primitive(prim, lambda a: be.asarray(a, "float64"), rtol=1e-6)


def test_score_matches_log_prob_vjp(be, dtype, dist):
    """score(x) equals the VJP of log_prob per sample, and sums to it over samples."""
    names = list(dist.params)
    assert sorted(dist.make(be, dtype).score(be.asarray(np.zeros(4), dtype))) == sorted(names)
    params = [be.asarray(v, dtype) for v in dist.params.values()]
    # per sample: parameters broadcast to the sample shape (own memory for each)
    full = [be.xp.broadcast_to(p, (N, 4)) + be.xp.zeros((N, 4), dtype=p.dtype) for p in params]

    def fn(params, full):
        x = dist.cls(*params).sample(ds.random.key(2), (N,))
        score = dist.cls(*params).score(x)
        lp, pullback = ds.vjp(lambda *ps: dist.cls(*ps).log_prob(x), *full)
        per_sample = pullback(be.xp.ones_like(lp))  # cotangent of ones
        lp, pullback = ds.vjp(lambda *ps: dist.cls(*ps).log_prob(x), *params)
        return [score[n] for n in names], per_sample, pullback(be.xp.ones_like(lp))

    score, per_sample, summed = fn(params, full)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for s, g, gb in zip(score, per_sample, summed):
        assert s.dtype == be.dtype(dtype) and tuple(s.shape) == (N, 4)
        np.testing.assert_allclose(be.to_numpy(s), be.to_numpy(g), rtol=rtol, atol=rtol)
        # batch parameters: the VJP sums the per-sample scores
        np.testing.assert_allclose(be.to_numpy(gb), be.to_numpy(s).sum(0), rtol=rtol * 10, atol=rtol * 10)


def _plain(be: Any, name: str) -> dict[str, Callable[..., Any]]:
    """Textbook formulas in the framework's own ops, for its autodiff to differentiate."""
    xp = be.xp
    if be.kind == "torch":
        import torch

        atan = torch.atan
    else:
        import jax.numpy as jnp

        atan = jnp.arctan
    pi = math.pi

    def loc_scale(fn: Callable[..., Any]) -> Callable[..., Any]:
        return lambda x, l, s: fn((x - l) / s, s)

    if name == "uniform":
        return {
            "log_prob": lambda x, lo, hi: -xp.log(hi - lo) + 0 * x,
            "cdf": lambda x, lo, hi: (x - lo) / (hi - lo),
            "log_cdf": lambda x, lo, hi: xp.log((x - lo) / (hi - lo)),
            "icdf": lambda p, lo, hi: lo + p * (hi - lo),
            "entropy": lambda lo, hi: xp.log(hi - lo),
            "mean": lambda lo, hi: (lo + hi) / 2,
            "variance": lambda lo, hi: (hi - lo) ** 2 / 12,
            "stddev": lambda lo, hi: (hi - lo) / math.sqrt(12),
            "rsample": lambda u, lo, hi: lo + u * (hi - lo),
        }
    if name == "exponential":
        return {
            "log_prob": lambda x, r: xp.log(r) - r * x,
            "cdf": lambda x, r: 1 - xp.exp(-r * x),
            "log_cdf": lambda x, r: xp.log(1 - xp.exp(-r * x)),
            "icdf": lambda p, r: -xp.log(1 - p) / r,
            "entropy": lambda r: 1 - xp.log(r),
            "mean": lambda r: 1 / r,
            "variance": lambda r: 1 / r**2,
            "stddev": lambda r: 1 / r,
            "rsample": lambda u, r: -xp.log(1 - u) / r,
        }
    if name == "gumbel":
        return {
            "log_prob": loc_scale(lambda z, s: -z - xp.exp(-z) - xp.log(s)),
            "cdf": loc_scale(lambda z, s: xp.exp(-xp.exp(-z))),
            "log_cdf": loc_scale(lambda z, s: -xp.exp(-z)),
            "icdf": lambda p, l, s: l - s * xp.log(-xp.log(p)),
            "entropy": lambda l, s: xp.log(s) + 1 + EULER + 0 * l,
            "mean": lambda l, s: l + EULER * s,
            "variance": lambda l, s: pi**2 / 6 * s**2 + 0 * l,
            "stddev": lambda l, s: pi / math.sqrt(6) * s + 0 * l,
            "rsample": lambda u, l, s: l - s * xp.log(-xp.log(u)),
        }
    if name == "laplace":
        return {
            "log_prob": loc_scale(lambda z, s: -xp.abs(z) - xp.log(2 * s)),
            "cdf": loc_scale(lambda z, s: xp.where(z < 0, 0.5 * xp.exp(z), 1 - 0.5 * xp.exp(-z))),
            "log_cdf": loc_scale(lambda z, s: xp.log(xp.where(z < 0, 0.5 * xp.exp(z), 1 - 0.5 * xp.exp(-z)))),
            "icdf": lambda p, l, s: l - s * xp.sign(p - 0.5) * xp.log(1 - 2 * xp.abs(p - 0.5)),
            "entropy": lambda l, s: 1 + xp.log(2 * s) + 0 * l,
            "mean": lambda l, s: l + 0 * s,
            "variance": lambda l, s: 2 * s**2 + 0 * l,
            "stddev": lambda l, s: math.sqrt(2) * s + 0 * l,
            "rsample": lambda u, l, s: l - s * xp.sign(u - 0.5) * xp.log(1 - 2 * xp.abs(u - 0.5)),
        }
    return {
        "log_prob": loc_scale(lambda z, s: -xp.log(pi * s * (1 + z**2))),
        "cdf": loc_scale(lambda z, s: 0.5 + atan(z) / pi),
        "log_cdf": loc_scale(lambda z, s: xp.log(0.5 + atan(z) / pi)),
        "icdf": lambda p, l, s: l + s * xp.tan(pi * (p - 0.5)),
        "entropy": lambda l, s: xp.log(4 * pi * s) + 0 * l,
        "rsample": lambda u, l, s: l + s * xp.tan(pi * (u - 0.5)),
    }


def _framework_grads(be, cases):
    """For each ``(fn, args)``: gradients of ``sum(fn(*args) * w)`` by framework autodiff (on JAX
    all in one jitted program: one compilation instead of one per operation)."""
    if be.kind == "torch":
        import torch

        out = []
        for fn, args in cases:
            ts = [a.detach().clone().requires_grad_(True) for a in args]
            y = fn(*ts)
            w = torch.linspace(0.5, 1.5, y.numel(), dtype=y.dtype).reshape(y.shape)
            out.append(torch.autograd.grad((y * w).sum(), ts, allow_unused=True, materialize_grads=True))
        return out
    import jax
    import jax.numpy as jnp

    def grads(fn, args):
        def loss(*a):
            y = fn(*a)
            return jnp.sum(y * jnp.linspace(0.5, 1.5, y.size, dtype=y.dtype).reshape(y.shape))

        return jax.grad(loss, argnums=tuple(range(len(args))))(*args)

    fns = [fn for fn, _ in cases]
    return jax.jit(lambda arglists: [grads(fn, a) for fn, a in zip(fns, arglists)])([a for _, a in cases])


def _interior(dist: Case) -> np.ndarray:
    """Points inside the support, away from kinks (Laplace at loc) and the support's ends."""
    pnp = dist.params
    if dist.name == "uniform":
        return pnp["low"] + (pnp["high"] - pnp["low"]) * np.array([0.2, 0.7, 0.4, 0.9])
    if dist.name == "exponential":
        return np.array([0.3, 2.0, 0.1, 0.05])
    return pnp["loc"] + pnp["scale"] * np.array([-1.3, 0.4, 2.5, -0.2])


def test_grads_match_framework_autodiff(be, dist):
    if be.kind not in ("torch", "jax"):
        pytest.skip("no framework autodiff on this backend")
    plain = _plain(be, dist.name)
    params = [be.asarray(v, "float64") for v in dist.params.values()]
    x = be.asarray(_interior(dist), "float64")
    p = be.asarray(np.array([0.2, 0.6, 0.9, 0.35]), "float64")
    u = ds.random.uniform(ds.random.key(4), (N, 4), like=params[0])
    ours = {
        "log_prob": lambda x, *ps: dist.cls(*ps).log_prob(x),
        "cdf": lambda x, *ps: dist.cls(*ps).cdf(x),
        "log_cdf": lambda x, *ps: dist.cls(*ps).log_cdf(x),
        "icdf": lambda p, *ps: dist.cls(*ps).icdf(p),
        "entropy": lambda *ps: dist.cls(*ps).entropy(),
        "mean": lambda *ps: dist.cls(*ps).mean,
        "variance": lambda *ps: dist.cls(*ps).variance,
        "stddev": lambda *ps: dist.cls(*ps).stddev,
    }
    ours_cases, plain_cases = [], []
    for method, fn_plain in plain.items():
        if method == "rsample":
            fn_ours = lambda *ps: dist.cls(*ps).rsample(ds.random.key(4), (N,))  # noqa: E731
            args = params
            fn_plain = lambda *ps, f=fn_plain: f(u, *ps)  # noqa: E731
        elif method in ("log_prob", "cdf", "log_cdf", "icdf"):
            fn_ours, args = ours[method], [p if method == "icdf" else x, *params]
        else:
            fn_ours, args = ours[method], params
        ours_cases.append((fn_ours, args))
        plain_cases.append((fn_plain, args))
    for method, a, b in zip(plain, _framework_grads(be, ours_cases), _framework_grads(be, plain_cases)):
        for ga, gb in zip(a, b):
            np.testing.assert_allclose(be.to_numpy(ga), be.to_numpy(gb), rtol=1e-10, atol=1e-12, err_msg=method)
    assert len(plain) == (9 if dist.has_moments else 6)


def test_registered_gradient_check(be, dist):
    """torch.autograd.gradcheck / gradgradcheck and jax check_grads through our VJPs."""
    key = ds.random.key(5)
    params = [be.asarray(v, "float64") for v in dist.params.values()]
    x0_np, p0_np = _interior(dist), np.array([0.2, 0.6, 0.9, 0.35])

    def like(a, ref):  # jax's check_grads evaluates f on NumPy arrays too
        return np.asarray(a) if isinstance(ref, np.ndarray) else be.asarray(a, "float64")

    def f(*ps):
        d = dist.cls(*ps)
        x0, p0 = like(x0_np, ps[0]), like(p0_np, ps[0])
        out = d.log_prob(x0) + d.cdf(x0) + d.log_cdf(x0) + d.icdf(p0) + d.entropy() + d.rsample(key, (N,))
        if dist.has_moments:
            out = out + d.mean + d.variance + d.stddev
        return out

    def draws_sq(*ps):
        return dist.cls(*ps).rsample(key, (3,)) ** 2

    if be.kind == "torch":
        import torch

        args = tuple(a.clone().requires_grad_(True) for a in params)
        assert torch.autograd.gradcheck(f, args)
        assert torch.autograd.gradgradcheck(draws_sq, args)
        x0 = be.asarray(x0_np, "float64")
        assert torch.autograd.gradgradcheck(lambda *ps: dist.cls(*ps).log_prob(x0), args)
    elif be.kind == "jax":
        from jax.test_util import check_grads

        # check_grads evaluates its finite differences on NumPy arrays, so the noise
        # must be the same on both backends: the portable stream.
        with ds.random.stream("portable"):
            check_grads(f, tuple(params), order=1, modes=["rev"])
            check_grads(draws_sq, tuple(params), order=2, modes=["rev"])
    else:
        pytest.skip("framework gradient checks are for torch and jax")


# -------------------------------------------------------------------- validation
def _bad_params(name: str) -> list[tuple[dict[str, float], str]]:
    nan, inf = float("nan"), float("inf")
    if name == "uniform":
        return [({"low": nan}, r"low.*nan"), ({"high": nan}, r"high.*nan"), ({"low": -inf}, r"low.*-inf"),
                ({"high": inf}, r"high.*inf"), ({"low": 5.0}, r"low must be less than high.*low=5\.0.*high=3\.0"),
                ({"high": -1.0}, r"low=-1\.0.*high=-1\.0")]
    if name == "exponential":
        return [({"rate": v}, rf"rate.*{s}") for v, s in [(0.0, "0.0"), (-1.0, "-1.0"), (nan, "nan"), (inf, "inf")]]
    return [({"scale": v}, rf"scale.*{s}") for v, s in [(0.0, "0.0"), (-2.0, "-2.0"), (nan, "nan"), (inf, "inf")]] + [
        ({"loc": nan}, r"loc.*nan"), ({"loc": inf}, r"loc.*inf")]


def test_validation(be, dist):
    base = {k: v.copy() for k, v in dist.params.items()}
    for bad, pattern in _bad_params(dist.name):
        params = {k: v.copy() for k, v in base.items()}
        for k, v in bad.items():
            params[k][1] = v  # one bad element of the batch
        with pytest.raises(ValueError, match=pattern):
            dist.cls(*[be.asarray(v, "float64") for v in params.values()])
        scalars = {k: float(v[1]) for k, v in params.items()}  # the same with Python scalars
        with pytest.raises(ValueError, match=pattern):
            dist.cls(*scalars.values())
    names = list(base)
    if len(names) == 2:
        with pytest.raises(ValueError, match=rf"{names[0]} \(3,\).*{names[1]} \(4,\)"):
            dist.cls(be.asarray(np.zeros(3)), be.asarray(base[names[1]]))
    d = dist.make(be)
    with pytest.raises(ValueError, match="sample_shape"):
        d.rsample(0, (-1,))
    # validate_args=False skips the checks (for traced code paths)
    params = {k: v.copy() for k, v in base.items()}
    params[names[-1]][0] = -1.0
    dist.cls(*[be.asarray(v) for v in params.values()], validate_args=False)
    assert np.all(np.isfinite(be.to_numpy(d.rsample(0, (N,)))))


# ------------------------------------------------------------- narrow dtypes
@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(be, dist, low):
    params = [be.asarray(v, low) for v in dist.params.values()]
    # a heavy tail in a narrow dtype saturates instead of overflowing: scale 1e3, rate 1e-4
    wide = [be.asarray(v * {"scale": 1e3, "rate": 1e-4}.get(k, 1.0), low) for k, v in dist.params.items()]
    p = be.asarray(np.array([[0.05], [0.3], [0.95]]), low)
    p_tail = be.asarray(np.array([[1e-4], [0.9999]]), low)

    def fn(p, p_tail, params, wide):
        d = dist.cls(*params)
        x = d.rsample(ds.random.key(0), (2000,))
        q = d.icdf(p)
        # (log_cdf at the quantiles: a Uniform draw rounded onto ``low`` has log_cdf -inf, rightly)
        outs = [d.log_prob(x), d.cdf(x), d.log_cdf(q), q, d.entropy(), *d.score(x).values()]
        if dist.has_moments:
            outs += [d.mean, d.variance, d.stddev]
        w = dist.cls(*wide)
        return x, outs, [w.rsample(ds.random.key(1), (2000,)), w.icdf(p_tail)]

    def f32(a):
        return be.to_numpy(be.xp.astype(a, be.xp.float32))

    x, outs, tails = _run(be, fn, p, p_tail, params, wide)
    assert x.dtype == be.dtype(low)
    xs = f32(x)
    assert np.all(np.isfinite(xs))
    med = np.median(xs, axis=0)
    ref_med = dist.scipy(**_params_np(dist, "float32")).median()
    np.testing.assert_allclose(med, ref_med, atol=0.2, rtol=0.1)
    for out in outs + tails:
        assert out.dtype == be.dtype(low)
        assert np.all(np.isfinite(f32(out)))


def test_no_warnings_in_far_tails(be, dist):
    """No warning (overflow, divide by zero: errors for diffsample in pyproject) and no NaN."""
    pts = {
        "uniform": [-1e300, 1e300],
        "exponential": [-1e300, 1e-300, 1e300],
        "gumbel": [-1e300, -800.0, 1e300],
        "laplace": [-1e300, 1e300],
        "cauchy": [-1e300, 1e300],
    }[dist.name]
    x = be.asarray(np.array(pts)[:, None] + np.zeros(4), "float64")
    params = [be.asarray(v, "float64") for v in dist.params.values()]

    def fn(x, *params):
        out = []
        for m in ("log_prob", "cdf", "log_cdf"):
            value, pullback = ds.vjp(lambda *ps, m=m: getattr(dist.cls(*ps), m)(x), *params)
            out += [value, *pullback(be.xp.ones_like(x))]
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _run(be, fn, x, *params)
    for v in out:
        assert not np.any(np.isnan(be.to_numpy(v)))


# ------------------------------------------------------------ framework transforms
def test_jax_transforms(be, dist):
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    params = tuple(jnp.asarray(v[1]) for v in dist.params.values())

    def loss(key, *ps):
        d = dist.cls(*ps)
        return jnp.mean(d.cdf(d.rsample(key, (500,))))

    # E[cdf(X)] = 1/2 for every parameter: the pathwise gradient is 0 up to Monte Carlo error.
    g = jax.jit(jax.grad(loss, argnums=tuple(range(1, 1 + len(params)))))(jnp.asarray(ds.random.key(0)), *params)
    for gi in g:
        assert abs(float(gi)) < 0.2
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    # (parameters enter as arguments: traced, so validation is skipped)
    x = jax.jit(jax.vmap(lambda k, *ps: dist.cls(*ps).rsample(k, (5,)), in_axes=(0, *[None] * len(params))))(
        keys, *params)
    assert x.shape == (3, 5)
    assert not np.allclose(np.asarray(x[0]), np.asarray(x[1]))


def test_torch_func(be, dist):
    if be.kind != "torch":
        pytest.skip("torch only")
    import torch

    params = [torch.tensor(v, dtype=torch.float64) for v in dist.params.values()]
    g = torch.func.grad(lambda p0: dist.cls(p0, *params[1:]).rsample(ds.random.key(0), (7,)).sum())(params[0])
    assert g.shape == params[0].shape and torch.all(torch.isfinite(g))
    if dist.name in ("gumbel", "laplace", "cauchy"):
        np.testing.assert_allclose(g.numpy(), 7.0)  # d x / d loc = 1
