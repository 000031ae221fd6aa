"""TruncatedNormal, TruncatedLogistic and Truncated: the conformance suite.

References, and how each is computed
-----------------------------------
* mpmath at 60 significant digits (``_mp_*`` below): the truncated CDF as
  ``(F(x) - F(low)) / (F(high) - F(low))`` for windows left of the centre and
  ``(S(low) - S(x)) / (S(low) - S(high))`` (survival functions) right of it, with
  ``F = mpmath.ncdf`` (normal) or ``1/(1 + exp(-t))`` (logistic); log densities as
  ``log f(x) - log Z``; normal moments from the closed forms
  ``m = (phi(a) - phi(b))/Z``, ``v = 1 + (a phi(a) - b phi(b))/Z - m**2``,
  ``H = log(sqrt(2 pi e) Z) + (a phi(a) - b phi(b))/(2Z)`` (60 digits absorb their
  cancellation); logistic moments by ``mpmath.quad`` on split intervals.  Used
  everywhere SciPy is inaccurate: windows in the tails.
* SciPy in float64: ``scipy.stats.truncnorm`` (bulk windows only: its variance is off
  by 2e-5 relative on [100, 101] and negative on [-10001, -10000]), and the truncated
  logistic built from ``scipy.stats.logistic.cdf``/``sf``.
* Inputs are rounded to the tested dtype before the reference is computed, and
  tolerances follow ``K * eps * (1 + cond)`` with ``cond`` the summed relative
  condition number of the reference w.r.t. every input (mpmath derivatives).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

import diffsample as ds
from diffsample.distributions import truncated as tr
from diffsample.distributions.logistic import Logistic
from diffsample.distributions.truncated import Truncated, TruncatedLogistic, TruncatedNormal
from diffsample.testing import check_primitive

mp = pytest.importorskip("mpmath")
mp.mp.dps = 60

# Every statistical test below uses a fixed key and a threshold whose false-failure
# rate is at most 1e-3: KS tests require p > 1e-3 (p is uniform under the null);
# moment and gradient-estimate tests allow 4.5 standard errors (two-sided normal tail
# 6.8e-6 per comparison, at most ~40 comparisons per test).
ALPHA = 1e-3
ZMAX = 4.5

FAMILIES = {"normal": TruncatedNormal, "logistic": TruncatedLogistic}
INF = math.inf

PRIMS = [
    tr._rsample, tr._icdf, tr._log_prob, tr._cdf, tr._log_cdf, tr._score, tr._mean, tr._variance, tr._entropy,
    tr._finite_part, tr._clip_window, tr._g_log_prob, tr._g_log_cdf, tr._g_quantile, tr._exp,
    tr._wsum, tr._wvar, tr._fill_where,
]


# ----------------------------------------------------------------- mpmath references
def _mp_fns(family):
    if family == "normal":
        return mp.ncdf, (lambda t: mp.ncdf(-t)), (lambda t: -t * t / 2 - mp.log(mp.sqrt(2 * mp.pi)))

    def F(t):
        return 1 / (1 + mp.exp(-t))

    def S(t):
        return 1 / (1 + mp.exp(t))

    return F, S, (lambda t: -abs(t) - 2 * mp.log(1 + mp.exp(-abs(t))))


def _mpf(v):
    if isinstance(v, mp.mpf):
        return v
    return mp.mpf(float(v)) if math.isfinite(v) else (mp.inf if v > 0 else -mp.inf)


def _mp_window(family, lo, hi):
    """(F, S, log f, mirrored?, lo, hi, Z) for the standardized window [lo, hi] (mpf or float)."""
    F, S, logf = _mp_fns(family)
    lo_ = lo if isinstance(lo, mp.mpf) else _mpf(lo)
    hi_ = hi if isinstance(hi, mp.mpf) else _mpf(hi)
    right = bool(mp.isfinite(lo_) and (not mp.isfinite(hi_) or lo_ + hi_ > 0))
    if right:
        Z = S(lo_) - (S(hi_) if mp.isfinite(hi_) else 0)
    else:
        Z = (F(hi_) if mp.isfinite(hi_) else 1) - (F(lo_) if mp.isfinite(lo_) else 0)
    return F, S, logf, right, lo_, hi_, Z


def mp_cdf(family, x, loc, scale, low, high):
    lo, hi = (_mpf(low) - loc) / scale, (_mpf(high) - loc) / scale
    F, S, logf, right, lo, hi, Z = _mp_window(family, lo, hi)
    z = (mp.mpf(x) - loc) / scale
    if z <= lo:
        return mp.mpf(0)
    if z >= hi:
        return mp.mpf(1)
    if right:
        return (S(lo) - S(z)) / Z
    return (F(z) - (F(lo) if mp.isfinite(lo) else 0)) / Z


def mp_log_prob(family, x, loc, scale, low, high):
    lo, hi = (_mpf(low) - loc) / scale, (_mpf(high) - loc) / scale
    F, S, logf, right, lo, hi, Z = _mp_window(family, lo, hi)
    z = (mp.mpf(x) - loc) / scale
    return logf(z) - mp.log(Z) - mp.log(scale)


@functools.lru_cache(maxsize=None)
def mp_moments(family, lo, hi):
    """Standardized (mean, variance, entropy) of the window [lo, hi]."""
    F, S, logf, right, lo_, hi_, Z = _mp_window(family, lo, hi)
    if family == "normal":
        def phi(t):
            return mp.npdf(t) if mp.isfinite(t) else mp.mpf(0)

        def tphi(t):
            return t * mp.npdf(t) if mp.isfinite(t) else mp.mpf(0)

        m = (phi(lo_) - phi(hi_)) / Z
        v = 1 + (tphi(lo_) - tphi(hi_)) / Z - m * m
        h = mp.log(mp.sqrt(2 * mp.pi * mp.e) * Z) + (tphi(lo_) - tphi(hi_)) / (2 * Z)
        return float(m), float(v), float(h)
    # Logistic: quadrature in the distance e from the window's end nearest the centre
    # (t = c + sign * e), split geometrically, of the density relative to f(c).
    steps = [mp.mpf(0)] + [mp.mpf(2) ** k for k in range(-4, 8)] + [mp.inf]
    if mp.isfinite(lo_) and (lo_ >= 0 or not mp.isfinite(hi_)) or (mp.isfinite(lo_) and mp.isfinite(hi_) and lo_ + hi_ > 0):
        c, sign, width = lo_, 1, hi_ - lo_
    elif mp.isfinite(hi_):
        c, sign, width = hi_, -1, hi_ - lo_
    else:
        c, sign, width = mp.mpf(0), 1, mp.inf
    pts = [p for p in steps if p < width] + [width]
    if c == 0 and not mp.isfinite(width):  # the whole line: both halves
        pts_neg = [-p for p in reversed(steps)]
        pts = pts_neg[:-1] + pts

    def q(e):
        return mp.exp(logf(c + sign * e) - logf(c))

    with mp.workdps(30):  # plenty for float64 references, and fast
        z0 = mp.quad(q, pts)
        me = mp.quad(lambda e: e * q(e), pts) / z0
        v = mp.quad(lambda e: (e - me) ** 2 * q(e), pts) / z0
        el = mp.quad(lambda e: q(e) * (logf(c + sign * e) - logf(c)), pts) / z0
    m = c + sign * me
    h = mp.log(z0) - el
    return float(m), float(v), float(h)


def _cond(fn, args):
    """Summed relative condition number sum_i |v_i d fn / d v_i / fn| (mpmath derivative)."""
    val = fn(*args)
    total = mp.mpf(0)
    for i, v in enumerate(args):
        if not mp.isfinite(v) or v == 0:
            continue

        def g(t, i=i):
            a = list(args)
            a[i] = t
            return fn(*a)

        total += abs(v * mp.diff(g, v, h=abs(v) * mp.mpf(10) ** -25))
    return float(total / abs(val)) if val != 0 else float(total)


def _rounded(vals, dtype):
    return [float(np.asarray(v, dtype=dtype)) for v in vals]


# Windows (standardized): bulk, one-sided, and the far tails of the issue.
WINDOWS = {
    "normal": [(-1.0, 2.0), (-INF, 0.5), (1.5, INF), (-INF, INF), (4.0, 6.0), (8.0, INF), (30.0, 31.0),
               (100.0, 101.0), (-10001.0, -10000.0), (-INF, -40.0)],
    "logistic": [(-1.0, 2.0), (-INF, 0.5), (1.5, INF), (-INF, INF), (8.0, INF), (40.0, 41.0), (-1000.0, -999.0),
                 (200.0, INF)],
}
LOC, SCALE = 0.25, 1.5


def _params(be, dtype, lo, hi, loc=LOC, scale=SCALE):
    low = loc + scale * lo if math.isfinite(lo) else lo
    high = loc + scale * hi if math.isfinite(hi) else hi
    return [_arr(be, v, dtype) for v in (loc, scale, low, high)]


def _jit(be, fn):
    """``jax.jit(fn)`` on JAX (one compilation instead of hundreds of eager ones), else ``fn``.

    Used where a test evaluates the same computation for many windows of one shape.
    (Eager calls are covered by every other test.)
    """
    if be.kind == "jax":
        import jax

        return jax.jit(fn)
    return fn


def _f(be, a):
    """The one element of an array as a Python float."""
    return float(be.to_numpy(a).ravel()[0])


def _arr(be, v, dtype="float64"):
    """A parameter as an array of shape (1,) on every backend (the fixture makes 0-d
    NumPy data 1-d on torch, so every test uses shape (1,) and compares raveled)."""
    return be.asarray(np.array([v]), dtype)


# ------------------------------------------------------------------------- basics
@pytest.mark.parametrize("family", FAMILIES)
def test_shape_dtype_namespace(be, dtype, family):
    if be.kind == "jax" and (dtype == "float32") != (family == "normal"):
        pytest.skip("JAX compiles each new computation: one family per dtype (the shape logic is shared)")
    cls = FAMILIES[family]
    loc = be.asarray(np.zeros((2, 1)), dtype)
    low = be.asarray([-1.0, 0.5, 3.0], dtype)
    d = cls(loc, 1.0, low, INF)
    assert d.batch_shape == (2, 3)
    x = d.rsample(ds.random.key(0), (4,))
    assert tuple(x.shape) == (4, 2, 3) and x.dtype == be.dtype(dtype) and type(x) is type(loc)
    for v in (d.mean, d.variance, d.entropy()):
        assert tuple(v.shape) == (2, 3) and v.dtype == be.dtype(dtype)
    for v in (d.log_prob(x), d.cdf(x), d.log_cdf(x), *d.score(x).values()):
        assert tuple(v.shape) == (4, 2, 3) and v.dtype == be.dtype(dtype)
    assert tuple(d.icdf(be.asarray([0.1, 0.5, 0.9], dtype)).shape) == (2, 3)


def test_same_key_same_numbers(be):
    d = TruncatedNormal(be.asarray(np.zeros(3)), 1.0, -1.0, 2.0)
    a, b = d.sample(ds.random.key(7), (5,)), d.sample(ds.random.key(7), (5,))
    assert np.array_equal(be.to_numpy(a), be.to_numpy(b))


@pytest.mark.parametrize("family", FAMILIES)
def test_rsample_is_icdf_of_the_uniform(be, family):
    """rsample(key) == icdf(u) with u = ds.random.uniform for the same key, wherever the
    inverse CDF samples: few draws, and the portable stream at any size (the normal's
    rejection sampler takes over for tr._MIN_DRAWS draws or more, NumPy and torch)."""
    loc, scale, low, high = _params(be, "float64", -1.0, 2.0)
    d = FAMILIES[family](loc, scale, low, high)
    key = ds.random.key(3)
    for stream, n in [("native", 50), ("portable", tr._MIN_DRAWS)]:
        with ds.random.stream(stream):
            u = ds.random.uniform(key, (n, 1), like=loc)
            np.testing.assert_allclose(be.to_numpy(d.rsample(key, (n,))), be.to_numpy(d.icdf(u)), rtol=1e-15)


# -------------------------------------------------------- values against references
def _points(lo, hi):
    """Standardized evaluation points inside [lo, hi] (and one outside on each finite side)."""
    if math.isfinite(lo) and math.isfinite(hi):
        inside = [lo + (hi - lo) * f for f in (0.0, 1e-3, 0.3, 0.7, 1.0)]
    elif math.isfinite(lo):
        inside = [lo, lo + 0.01, lo + 0.5 / max(1.0, abs(lo)), lo + 3.0]
    elif math.isfinite(hi):
        inside = [hi - 3.0, hi - 0.5 / max(1.0, abs(hi)), hi - 0.01, hi]
    else:
        inside = [-5.0, -0.3, 0.0, 2.0]
    return inside


_VALUE_REFS = {
    "log_prob": lambda family, x, *p: mp_log_prob(family, x, *p),
    "cdf": lambda family, x, *p: mp_cdf(family, x, *p),
    "log_cdf": lambda family, x, *p: mp.log(mp_cdf(family, x, *p)),
}


@functools.lru_cache(maxsize=None)
def _value_reference(family, name, x, loc, scale, low, high):
    """(mpmath value as float, its summed relative condition number) at rounded inputs."""
    fn = functools.partial(_VALUE_REFS[name], family)
    args = [mp.mpf(x), mp.mpf(loc), mp.mpf(scale), _mpf(low), _mpf(high)]
    ref = fn(*args)
    if name == "log_cdf" and ref == 0 and x <= low:
        ref = -mp.inf
    inside = low <= x <= high
    cond = _cond(fn, args) if inside and mp.isfinite(ref) and ref != 0 else 0.0
    return float(ref), cond


@pytest.mark.parametrize("family", FAMILIES)
def test_log_prob_cdf_against_mpmath(be, dtype, family):
    eps = float(np.finfo(dtype).eps)
    K = 16.0

    @functools.partial(_jit, be)
    def evaluate(xs, *p):
        d = FAMILIES[family](*p)
        return d.log_prob(xs), d.cdf(xs), d.log_cdf(xs)

    for lo, hi in WINDOWS[family]:
        loc, scale, low, high = _params(be, dtype, lo, hi)
        FAMILIES[family](loc, scale, low, high)  # validates (eagerly)
        pars = _rounded([LOC, SCALE], dtype) + [_f(be, low), _f(be, high)]
        zs = _points(lo, hi)
        xs = be.asarray([LOC + SCALE * z for z in zs], dtype)
        xr = [float(v) for v in be.to_numpy(xs)]
        vals = evaluate(xs, loc, scale, low, high)
        got = {k: be.to_numpy(v).astype(np.float64) for k, v in zip(("log_prob", "cdf", "log_cdf"), vals)}
        for name in ("log_prob", "cdf", "log_cdf"):
            for i, x in enumerate(xr):
                ref, cond = _value_reference(family, name, x, *pars)
                g = got[name][i]
                if not math.isfinite(ref) or (name != "cdf" and ref == 0):
                    assert g == ref or (ref == 0 and abs(g) <= 1e-300), (family, lo, hi, name, x, g, ref)
                    continue
                tol = K * eps * (1 + cond) * abs(ref) + (K * eps if name == "cdf" else 0.0)
                assert abs(g - ref) <= tol, (family, lo, hi, name, x, g, ref, cond)


@pytest.mark.parametrize("family", FAMILIES)
def test_against_scipy_bulk(be, family):
    """Bulk windows against SciPy: truncnorm, or a truncated logistic from scipy.stats.logistic."""
    x = np.array([-0.9, 0.0, 0.7, 1.9])
    p = np.array([0.01, 0.3, 0.5, 0.99])
    loc, scale, lo, hi = 0.3, 1.7, -1.0, 2.0
    low, high = loc + scale * lo, loc + scale * hi
    xs = loc + scale * x
    if family == "normal":
        ref = scipy.stats.truncnorm(lo, hi, loc=loc, scale=scale)
        r_logpdf, r_cdf, r_ppf = ref.logpdf(xs), ref.cdf(xs), ref.ppf(p)
        r_mean, r_var, r_ent = ref.mean(), ref.var(), ref.entropy()
    else:
        base = scipy.stats.logistic(loc, scale)
        Z = base.cdf(high) - base.cdf(low)
        r_logpdf = base.logpdf(xs) - np.log(Z)
        r_cdf = (base.cdf(xs) - base.cdf(low)) / Z
        r_ppf = base.ppf(base.cdf(low) + p * Z)
        pdf = lambda t: np.exp(base.logpdf(t)) / Z  # noqa: E731
        r_mean = scipy.integrate.quad(lambda t: t * pdf(t), low, high, epsabs=0, epsrel=1e-13)[0]
        r_var = scipy.integrate.quad(lambda t: (t - r_mean) ** 2 * pdf(t), low, high, epsabs=0, epsrel=1e-13)[0]
        r_ent = -scipy.integrate.quad(lambda t: pdf(t) * np.log(pdf(t)), low, high, epsabs=0, epsrel=1e-13)[0]
    d = FAMILIES[family](*(_arr(be, v) for v in (loc, scale, low, high)))
    b = be.asarray
    np.testing.assert_allclose(be.to_numpy(d.log_prob(b(xs))), r_logpdf, rtol=1e-13)
    np.testing.assert_allclose(be.to_numpy(d.cdf(b(xs))), r_cdf, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(be.to_numpy(d.icdf(b(p))), r_ppf, rtol=1e-12)
    np.testing.assert_allclose(_f(be, d.mean), r_mean, rtol=1e-12)
    np.testing.assert_allclose(_f(be, d.variance), r_var, rtol=1e-12)
    np.testing.assert_allclose(_f(be, d.entropy()), r_ent, rtol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_moments_against_mpmath(be, dtype, family):
    # Moments of the standardized window, by 80-point quadrature (module notes):
    # ~1e-13 relative in float64; float32 is limited by the float32 inputs (cond ~ |a|).
    @functools.partial(_jit, be)
    def evaluate(*p):
        d = FAMILIES[family](*p)
        return d.mean, d.variance, d.entropy()

    for lo, hi in WINDOWS[family]:
        loc, scale, low, high = _params(be, dtype, lo, hi, loc=0.0, scale=1.0)
        m, v, h = mp_moments(family, lo, hi)
        got_m, got_v, got_h = (_f(be, t) for t in evaluate(loc, scale, low, high))
        if dtype == "float64":
            tol_m, tol_v, tol_h = 1e-13 * (1 + abs(m)), 1e-11 * v, 1e-12 * (1 + abs(h))
        else:
            tol_m, tol_v, tol_h = 2e-6 * (1 + abs(m)), 2e-5 * v, 2e-5 * (1 + abs(h))
        assert abs(got_m - m) <= tol_m, (family, lo, hi, got_m, m)
        assert abs(got_v - v) <= tol_v, (family, lo, hi, got_v, v)
        assert abs(got_h - h) <= tol_h, (family, lo, hi, got_h, h)


@pytest.mark.parametrize("family", FAMILIES)
def test_icdf_inverts_cdf(be, dtype, family):
    for lo, hi in WINDOWS[family][:6]:
        d = FAMILIES[family](*_params(be, dtype, lo, hi))
        p = be.asarray([0.0, 1e-4, 0.3, 0.8, 0.9999, 1.0], dtype)
        x = d.icdf(p)
        xn = be.to_numpy(x).astype(np.float64)
        lo_x, hi_x = _f(be, d.low), _f(be, d.high)
        assert xn[0] == lo_x and xn[-1] == hi_x
        back = be.to_numpy(d.cdf(x[1:-1])).astype(np.float64)
        # Rounding x to the dtype moves the CDF by up to pdf(x) * ulp(x); beyond that
        # allow 16 eps relative and 16 eps absolute (F(a) + p Z is rounded too).
        eps = float(np.finfo(dtype).eps)
        pdf = np.exp(be.to_numpy(d.log_prob(x[1:-1])).astype(np.float64))
        tol = 2 * pdf * eps * np.abs(xn[1:-1]) + 16 * eps * (1 + np.array([1e-4, 0.3, 0.8, 0.9999]))
        assert np.all(np.abs(back - [1e-4, 0.3, 0.8, 0.9999]) <= tol), (family, lo, hi, back)


# ------------------------------------------------------------ samples: the tails
EXTREME = {
    "normal": [(8.0, INF), (30.0, 31.0), (100.0, 101.0), (-10001.0, -10000.0), (-INF, -1e4)],
    "logistic": [(8.0, INF), (40.0, 41.0), (-1000.0, -999.0), (1e4, INF)],
}


def _ref_cdf_np(family, lo, hi):
    """Reference CDF of the standardized window for KS tests, float64.

    Bulk windows: scipy.stats.truncnorm / scipy.stats.logistic.  Tail windows: this
    module's float64 NumPy ``cdf``, itself checked against mpmath above.
    """
    if family == "normal" and max(abs(lo), abs(hi)) < 6 or (math.isinf(lo) and math.isinf(hi)):
        return scipy.stats.truncnorm(lo, hi).cdf if family == "normal" else None
    d = FAMILIES[family](0.0, 1.0, lo, hi)
    return lambda x: d.cdf(np.asarray(x, dtype=np.float64))


@pytest.mark.parametrize("family", FAMILIES)
def test_extreme_windows_in_bounds_and_moments(be, dtype, family):
    n = 4000
    eps = float(np.finfo(dtype).eps)
    for i, (lo, hi) in enumerate(EXTREME[family]):
        lo_a, hi_a = _arr(be, lo, dtype), _arr(be, hi, dtype)
        d = FAMILIES[family](_arr(be, 0.0, dtype), _arr(be, 1.0, dtype), lo_a, hi_a)
        x = be.to_numpy(d.sample(ds.random.key(100 + i), (n,))).ravel()
        assert x.dtype == np.dtype(dtype)
        assert np.all(np.isfinite(x)), (family, lo, hi)
        assert np.all((x >= lo) & (x <= hi)), (family, lo, hi, x.min(), x.max())
        xf = x.astype(np.float64)
        m, v, _ = mp_moments(family, lo, hi)
        sd = math.sqrt(v)
        ulp = eps * abs(m)  # samples are rounded to the dtype
        assert abs(xf.mean() - m) <= ZMAX * sd / math.sqrt(n) + 2 * ulp, (family, lo, hi, xf.mean(), m)
        if ulp < 0.01 * sd:
            # Sample variance: standard error <= v sqrt(8/n) (excess kurtosis <= 6, the exponential's).
            assert abs(xf.var() - v) <= ZMAX * v * math.sqrt(8.0 / n) + 4 * ulp * sd, (family, lo, hi, xf.var(), v)
            cdf = _ref_cdf_np(family, lo, hi)
            if cdf is not None:
                assert scipy.stats.kstest(xf, cdf).pvalue > ALPHA, (family, lo, hi)
        # The moments the distribution reports agree with the samples' (same references).
        np.testing.assert_allclose(_f(be, d.mean), m, rtol=2 * eps, atol=2 * eps)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("stream", ["native", "portable"])
def test_ks_bulk(be, dtype, family, stream):
    lo, hi = -0.5, 1.5
    with ds.random.stream(stream):
        d = FAMILIES[family](*_params(be, dtype, lo, hi, loc=0.0, scale=1.0))
        x = be.to_numpy(d.sample(ds.random.key(21), (4000,))).astype(np.float64)
    if family == "normal":
        cdf = scipy.stats.truncnorm(lo, hi).cdf
    else:
        base = scipy.stats.logistic()
        cdf = lambda t: (base.cdf(t) - base.cdf(lo)) / (base.cdf(hi) - base.cdf(lo))  # noqa: E731
    assert scipy.stats.kstest(x, cdf).pvalue > ALPHA


# ------------------------------------------ samples: the rejection sampler (normal)
# Standardized windows and whether the sampler takes Marsaglia's tail method there
# (else normal candidates: around the centre, or folded onto one side of it).
REJECTION_WINDOWS = [
    ((-1.0, 2.0), False), ((-INF, INF), False), ((0.2, INF), False), ((-3.0, -0.1), False),
    ((1.5, INF), True), ((2.0, 4.0), True), ((8.0, INF), True), ((30.0, 31.0), True), ((-10001.0, -10000.0), True),
]


def _rejects(be):
    """Whether TruncatedNormal samples by rejection on this backend (native stream)."""
    return be.kind in tr._REJECT_KINDS and (be.kind != "torch" or str(be.device) == "cpu")


def _plan_np(lo, hi, loc=LOC, scale=SCALE):
    low = loc + scale * lo if math.isfinite(lo) else lo
    high = loc + scale * hi if math.isfinite(hi) else hi
    with np.errstate(all="ignore"):
        return tr._rejection_plan(np, *(np.asarray(v, dtype=np.float64) for v in (loc, scale, low, high)), ())


def test_rejection_sampler_where_expected(be):
    """Rejection on NumPy and torch (CPU) from tr._MIN_DRAWS draws in the native stream;
    the inverse CDF for fewer draws, in the portable stream, on other backends, and for
    windows where neither proposal accepts enough."""
    key = ds.random.key(0)
    n = tr._MIN_DRAWS
    for (lo, hi), tail in REJECTION_WINDOWS:
        d = TruncatedNormal(*_params(be, "float64", lo, hi))
        assert (tr._rejection_draws(d, key, (n, 1)) is not None) == _rejects(be), (lo, hi)
        assert _plan_np(lo, hi).all_tail == tail, (lo, hi)
    d = TruncatedNormal(*_params(be, "float64", -1.0, 2.0))
    assert tr._rejection_draws(d, key, (n - 1, 1)) is None
    with ds.random.stream("portable"):
        assert tr._rejection_draws(d, key, (n, 1)) is None
    for lo, hi in [(2.0, 2.1), (-0.6, 0.6), (100.0, 100.001)]:  # acceptance 0.18, 0.45, 0.1
        assert _plan_np(lo, hi) is None
        assert tr._rejection_draws(TruncatedNormal(*_params(be, "float64", lo, hi)), key, (n, 1)) is None
    # A batch mixing both proposals is one rejection call; one window that needs the
    # inverse CDF sends the whole batch there.
    lows, highs = be.asarray([-1.0, 8.0, 2.0]), be.asarray([2.0, INF, 2.1])
    assert (tr._rejection_draws(TruncatedNormal(0.0, 1.0, lows[:2], highs[:2]), key, (n, 2)) is not None) == _rejects(be)
    assert tr._rejection_draws(TruncatedNormal(0.0, 1.0, lows, highs), key, (n, 3)) is None


def test_rejection_samples_distribution(be, dtype):
    """KS and sample mean of the rejection sampler's draws on every window above.

    9 windows, each with a KS test at level ALPHA/18 (p is uniform under the null) and
    a mean within ZMAX = 4.5 standard errors (two-sided 6.8e-6): the false-failure rate
    of the whole test is at most 9 (ALPHA/18 + 6.8e-6) < 5.7e-4.  KS references: SciPy's
    truncnorm for bulk windows, this module's float64 NumPy cdf (checked against mpmath
    above) in the tails, as in test_extreme_windows_in_bounds_and_moments.
    """
    if not _rejects(be):
        pytest.skip("the inverse CDF samples on this backend (covered by the tests above)")
    n = 20000
    eps = float(np.finfo(dtype).eps)
    for i, ((lo, hi), _) in enumerate(REJECTION_WINDOWS):
        d = TruncatedNormal(*_params(be, dtype, lo, hi, loc=0.0, scale=1.0))
        x = be.to_numpy(d.sample(ds.random.key(300 + i), (n,))).ravel()
        assert x.dtype == np.dtype(dtype)
        assert np.all(np.isfinite(x)), (lo, hi)
        assert np.all((x >= lo) & (x <= hi)), (lo, hi, x.min(), x.max())
        xf = x.astype(np.float64)
        m, v, _ = mp_moments("normal", lo, hi)
        sd = math.sqrt(v)
        ulp = eps * abs(m)
        assert abs(xf.mean() - m) <= ZMAX * sd / math.sqrt(n) + 2 * ulp, (lo, hi, xf.mean(), m)
        if ulp < 0.01 * sd:
            cdf = _ref_cdf_np("normal", lo, hi)
            assert scipy.stats.kstest(xf, cdf).pvalue > ALPHA / (2 * len(REJECTION_WINDOWS)), (lo, hi)


def test_rejection_same_key_same_draws(be, dtype):
    """Same key (or equally seeded generator) -> same draws, for one window (pooled
    candidates, refills from split keys) and for a batch mixing both proposals
    (position by position); a different key -> different draws.  All in their windows."""
    if not _rejects(be):
        pytest.skip("the inverse CDF samples on this backend (test_same_key_same_numbers)")
    lows = be.asarray([-1.0, 1.5, 8.0, -INF], dtype)
    highs = be.asarray([2.0, INF, INF, 0.5], dtype)
    cases = [
        (TruncatedNormal(be.asarray([0.0], dtype), 1.0, -1.0, 2.0), (5000,), (-1.0, 2.0)),
        (TruncatedNormal(be.asarray([0.0], dtype), 1.0, -1.0, 2.0), (100000,), (-1.0, 2.0)),
        (TruncatedNormal(be.asarray(np.zeros(4), dtype), 1.0, lows, highs), (3000,), (be.to_numpy(lows), be.to_numpy(highs))),
    ]

    def gen(seed):
        if be.kind == "torch":
            import torch

            return torch.Generator().manual_seed(seed)
        return np.random.default_rng(seed)

    for d, shape, (lo, hi) in cases:
        assert tr._rejection_draws(d, ds.random.key(11), shape + d.batch_shape) is not None
        a, b = (be.to_numpy(d.sample(ds.random.key(11), shape)) for _ in range(2))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, be.to_numpy(d.sample(ds.random.key(12), shape)))
        np.testing.assert_array_equal(be.to_numpy(d.sample(gen(5), shape)), be.to_numpy(d.sample(gen(5), shape)))
        assert np.all(np.isfinite(a)) and np.all((a >= lo) & (a <= hi))


def test_rejection_vjp_against_mpmath(be):
    """The gradient attached to draws made by any sampler (tr._reparam: the VJP of
    tr._rsample with u = F_T(x) recovered from the draw) against the mpmath pathwise
    derivatives of test_pathwise_derivative_against_cdf_differences, at the draws
    x = icdf(u): within 1e-8 relative (+1e-12: dx/dhigh is ~1e-44 on [100, 101]).  (It
    beats the inverse-CDF primitive's own VJP there: on [100, 101] that one is off by
    7e-8 in dx/dloc, as x is rounded and F_T(x) is not exactly u.)  Also finite, with
    dx/dloc + dx/dlow + dx/dhigh = 1, in float32 far out."""
    loc, scale = 0.3, 1.7
    for lo, hi in GRAD_WINDOWS["normal"]:
        args = [be.xp.broadcast_to(a, (3,)) * 1.0 for a in _params(be, "float64", lo, hi, loc=loc, scale=scale)]
        u = be.asarray(np.array(US), "float64")
        x0 = be.asarray(be.to_numpy(tr._rsample(*args, u, family="normal")), "float64")
        x, pullback = ds.vjp(lambda *p: tr._reparam(*p, x0, family="normal"), *args)
        np.testing.assert_array_equal(be.to_numpy(x), be.to_numpy(x0))
        grads = [be.to_numpy(g) for g in pullback(be.xp.ones_like(x))]
        for j, uj in enumerate(US):
            _, ref = _pathwise_reference("normal", lo, hi, loc, scale, uj)
            for name, g, r in zip(("loc", "scale", "low", "high"), grads, ref):
                if r is None:
                    assert g[j] == 0.0
                    continue
                assert abs(g[j] - r) <= 1e-8 * abs(r) + 1e-12, (lo, hi, uj, name, g[j], r)
    for lo, hi in [(8.0, INF), (30.0, 31.0), (100.0, 101.0), (-10001.0, -10000.0), (1e4, INF)]:
        args = [be.xp.broadcast_to(a, (3,)) * 1.0 for a in _params(be, "float32", lo, hi, loc=0.0, scale=1.0)]
        x0 = TruncatedNormal(*args).icdf(be.asarray(np.array([0.01, 0.5, 0.99]), "float32"))
        x0 = be.asarray(be.to_numpy(x0), "float32")
        _, pullback = ds.vjp(lambda *p: tr._reparam(*p, x0, family="normal"), *args)
        grads = [be.to_numpy(g).astype(np.float64) for g in pullback(be.xp.ones_like(x0))]
        assert all(np.all(np.isfinite(g)) for g in grads), (lo, hi, grads)
        np.testing.assert_allclose(grads[0] + grads[2] + grads[3], 1.0, atol=1e-5)


# ---------------------------------- samples: the strip table (one finite window, float64)
# Standardized windows the strip table samples (narrow ones away from the centre
# included: neither proposal above accepts enough there).
STRIP_WINDOWS = [(-1.0, 2.0), (-2.0, 2.0), (0.5, 1.5), (2.0, 2.1), (-0.6, 0.6), (100.0, 100.001), (-40.0, -39.99)]


def _strips_used(be, d, key, n):
    """Whether ``d.sample(key, (n,))`` takes its draws from a strip table."""
    plans = []
    real = tr._rejection_sample

    def spy(b, rounds, shape, dt, plan):
        plans.append(plan)
        return real(b, rounds, shape, dt, plan)

    tr._rejection_sample = spy
    try:
        d.sample(key, (n,))
    finally:
        tr._rejection_sample = real
    return bool(plans) and plans[0].strips is not None


def test_strip_table_where_expected(be):
    """The strip table samples one finite window, float64, from tr._STRIP_MIN_DRAWS
    draws on NumPy and torch (CPU); not batches of windows, float32, infinite windows,
    fewer draws, or windows where it accepts less than tr._MIN_ACCEPT_STRIPS at once."""
    key, n = ds.random.key(0), tr._STRIP_MIN_DRAWS
    for lo, hi in STRIP_WINDOWS:
        assert _strips_used(be, TruncatedNormal(*_params(be, "float64", lo, hi)), key, n) == _rejects(be), (lo, hi)
    d = TruncatedNormal(*_params(be, "float64", -1.0, 2.0))
    assert not _strips_used(be, d, key, n - 1)
    assert not _strips_used(be, TruncatedNormal(*_params(be, "float32", -1.0, 2.0)), key, n)
    assert not _strips_used(be, TruncatedNormal(*_params(be, "float64", 0.2, INF)), key, n)
    assert not _strips_used(be, TruncatedNormal(0.0, 1.0, be.asarray([-1.0, -1.0], "float64"), 2.0), key, n // 2)
    with np.errstate(all="ignore"):
        arrs = [np.asarray(v, dtype=np.float64) for v in (0.0, 1.0, 0.5, 4.0)]
        assert tr._strip_plan(ds._lib.namespace.backend_of(arrs[0]), *arrs) is None  # accepts 0.46 at once


@pytest.mark.parametrize("strips", [tr._STRIPS, 8])
def test_strip_table_samples_distribution(be, strips, monkeypatch):
    """KS and sample mean of the strip table's draws on every window above, all in
    bounds.  With 8 strips (acceptance threshold lowered to 0.05) 14-79% of the
    candidates take the second look (redrawn given that event, kept under the density;
    59% and 79% on [-1, 2] and [-2, 2], mostly in strips other than the last), so an
    error in that law shows up at once.  7 windows, KS at level ALPHA/14 and a
    mean within ZMAX = 4.5 standard errors each: false failures at most
    7 (ALPHA/14 + 6.8e-6) < 5.5e-4 per parameter."""
    if not _rejects(be):
        pytest.skip("the inverse CDF samples on this backend")
    monkeypatch.setattr(tr, "_STRIPS", strips)
    monkeypatch.setattr(tr, "_MIN_ACCEPT_STRIPS", 0.9 if strips > 8 else 0.05)
    monkeypatch.setattr(tr, "_STRIP_PLANS", {})
    n = tr._STRIP_MIN_DRAWS
    for i, (lo, hi) in enumerate(STRIP_WINDOWS):
        d = TruncatedNormal(*_params(be, "float64", lo, hi, loc=0.0, scale=1.0))
        assert _strips_used(be, d, ds.random.key(0), n), (lo, hi)
        x = be.to_numpy(d.sample(ds.random.key(400 + i), (n,)))
        assert x.dtype == np.float64
        assert np.all((x >= lo) & (x <= hi)), (lo, hi, x.min(), x.max())
        m, v, _ = mp_moments("normal", lo, hi)
        assert abs(x.mean() - m) <= ZMAX * math.sqrt(v / n) + 4e-16 * abs(m), (lo, hi, x.mean(), m)
        assert scipy.stats.kstest(x, _ref_cdf_np("normal", lo, hi)).pvalue > ALPHA / (2 * len(STRIP_WINDOWS)), (lo, hi)


def test_strip_table_does_not_alias_the_parameters(be):
    """The cached table holds its own copies of the window: parameters changed in place
    after a draw (an optimizer step does that) change neither a later window with the
    old values nor the changed one (bounds, no ties, KS at ALPHA/2 for both: false
    failures at most ALPHA plus ~1e-6 for ties among 65536 continuous draws)."""
    if not _rejects(be):
        pytest.skip("the inverse CDF samples on this backend")
    n = tr._STRIP_MIN_DRAWS
    loc, scale, low, high = (be.asarray(np.array([v]), "float64") for v in (0.0, 1.0, -1.0, 2.0))
    TruncatedNormal(loc, scale, low, high).sample(ds.random.key(0), (n,))
    if be.kind == "torch":
        loc.fill_(0.5)
        high.fill_(-0.5)
    else:
        loc[...] = 0.5
        high[...] = -0.5
    fresh = (be.asarray(np.array([v]), "float64") for v in (0.0, 1.0, -1.0, 2.0))
    for i, (d, ref) in enumerate([
        (TruncatedNormal(*fresh), scipy.stats.truncnorm(-1.0, 2.0)),
        (TruncatedNormal(loc, scale, low, high), scipy.stats.truncnorm(-1.5, -1.0, loc=0.5)),
    ]):
        x = np.ravel(be.to_numpy(d.sample(ds.random.key(600 + i), (n,))))
        lo, hi = ref.support()
        assert np.all((x >= lo) & (x <= hi)), (i, x.min(), x.max())
        # Continuous draws: ties are all but impossible (a stale window's clip at its
        # old end made hundreds of them).
        assert np.unique(x).size == n, (i, n - np.unique(x).size)
        assert scipy.stats.kstest(x, ref.cdf).pvalue > ALPHA / 2, i


def test_strip_table_same_key_same_draws(be):
    """Same key (or equally seeded generator) -> same draws; another key -> others;
    gradients flow to every parameter (tr._reparam, as for the other samplers)."""
    if not _rejects(be):
        pytest.skip("the inverse CDF samples on this backend")
    n = tr._STRIP_MIN_DRAWS
    d = TruncatedNormal(*_params(be, "float64", -1.0, 2.0))
    a, b = (be.to_numpy(d.sample(ds.random.key(11), (n,))) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, be.to_numpy(d.sample(ds.random.key(12), (n,))))
    if be.kind == "torch":
        import torch

        gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    else:
        gen = lambda: np.random.default_rng(5)  # noqa: E731
    np.testing.assert_array_equal(be.to_numpy(d.sample(gen(), (n,))), be.to_numpy(d.sample(gen(), (n,))))
    params = _params(be, "float64", -1.0, 2.0)
    if be.kind == "torch":  # autograd (torch.func.vjp's inputs are not concrete: no strips there)
        params = [p.clone().requires_grad_() for p in params]
        x = TruncatedNormal(*params).rsample(ds.random.key(11), (n,))
        x.sum().backward()
        x, grads = x.detach(), [p.grad for p in params]
    else:
        x, pullback = ds.vjp(lambda *p: TruncatedNormal(*p).rsample(ds.random.key(11), (n,)), *params)
        grads = pullback(be.xp.ones_like(x))
    np.testing.assert_array_equal(be.to_numpy(x), a)
    grads = [float(np.asarray(be.to_numpy(g)).reshape(())) for g in grads]
    assert all(math.isfinite(g) and g != 0.0 for g in grads), grads
    assert abs(sum(grads[i] for i in (0, 2, 3)) - n) <= 1e-9 * n  # dx/dloc + dx/dlow + dx/dhigh = 1


@pytest.mark.parity
def test_portable_stream_truncated_normal_parity(dtype):
    """In the portable stream every backend inverts the CDF of the same uniforms (no
    rejection sampler, whatever the size): draws agree across backends to a few ulps."""
    from conftest import available_backends

    bs = available_backends()
    if len(bs) < 2:
        pytest.fail(f"parity tests need at least two backends, this session has {[b.name for b in bs]}")
    eps = float(np.finfo(dtype).eps)
    for lo, hi in [(-1.0, 2.0), (8.0, INF), (30.0, 31.0)]:
        outs = {}
        with ds.random.stream("portable"):
            for be in bs:
                d = TruncatedNormal(*_params(be, dtype, lo, hi))
                outs[be.name] = be.to_numpy(d.sample(ds.random.key(9), (tr._MIN_DRAWS,))).astype(np.float64)
        first = bs[0].name
        for name, x in outs.items():
            # A few ulps of the standardized draw z, carried into x = loc + scale z.
            atol = 64 * eps * (abs(LOC) + SCALE * (1.0 + abs(lo)))
            np.testing.assert_allclose(x, outs[first], rtol=64 * eps, atol=atol, err_msg=f"{name} {(lo, hi)}")


# ----------------------------------------------------------- gradients: pathwise
GRAD_WINDOWS = {
    "normal": [(-1.0, 2.0), (-INF, 0.5), (1.5, INF), (4.0, 6.0), (8.0, INF), (30.0, 31.0), (-31.0, -30.0),
               (-INF, -12.0), (100.0, 101.0)],
    "logistic": [(-1.0, 2.0), (-INF, 0.5), (1.5, INF), (8.0, INF), (40.0, 41.0), (-60.0, -59.0)],
}
US = (0.1, 0.5, 0.9)


@functools.lru_cache(maxsize=None)
def _pathwise_reference(family, lo, hi, loc, scale, u):
    """dx/d(loc, scale, low, high) = -(dF_T/dtheta)/(dF_T/dx), central differences of the mpmath CDF.

    The draw x is solved from F_T(x) = u in mpmath; the differences use a step of
    1e-20 at 60 digits, so the reference is exact to far more than 1e-3.
    """
    low = loc + scale * lo if math.isfinite(lo) else lo
    high = loc + scale * hi if math.isfinite(hi) else hi
    params = [mp.mpf(loc), mp.mpf(scale), _mpf(low), _mpf(high)]
    x = mp.findroot(lambda t: mp_cdf(family, t, *params) - u, _initial(family, lo, hi, loc, scale, u), tol=1e-50)
    h = mp.mpf(10) ** -20

    def d(i):
        if not mp.isfinite(params[i]):
            return None
        pp, pm = list(params), list(params)
        pp[i] += h
        pm[i] -= h
        return (mp_cdf(family, x, *pp) - mp_cdf(family, x, *pm)) / (2 * h)

    dfdx = (mp_cdf(family, x + h, *params) - mp_cdf(family, x - h, *params)) / (2 * h)
    return float(x), [None if d(i) is None else float(-d(i) / dfdx) for i in range(4)]


def _initial(family, lo, hi, loc, scale, u):
    d = FAMILIES[family](0.0, 1.0, lo, hi)
    return mp.mpf(loc + scale * float(d.icdf(np.float64(u))))


def _scipy_pathwise(lo, hi, loc, scale, x):
    """Same derivative from central differences of scipy.stats.truncnorm.cdf (bulk windows)."""
    def F(l, s, a, b):
        return scipy.stats.truncnorm.cdf(x, (a - l) / s, (b - l) / s, loc=l, scale=s)

    low, high = loc + scale * lo, loc + scale * hi
    p = [loc, scale, low, high]
    h = 1e-6
    dfdx = (scipy.stats.truncnorm.cdf(x + h, lo, hi, loc, scale) - scipy.stats.truncnorm.cdf(x - h, lo, hi, loc, scale)) / (2 * h)
    out = []
    for i in range(4):
        pp, pm = list(p), list(p)
        pp[i] += h
        pm[i] -= h
        out.append(-(F(*pp) - F(*pm)) / (2 * h) / dfdx)
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_pathwise_derivative_against_cdf_differences(be, family):
    loc, scale = 0.3, 1.7
    for lo, hi in GRAD_WINDOWS[family]:
        k = len(US)
        args = _params(be, "float64", lo, hi, loc=loc, scale=scale)
        args = [be.xp.broadcast_to(a, (k,)) * 1.0 for a in args]
        u = be.asarray(np.array(US), "float64")
        x, pullback = ds.vjp(lambda *p: tr._rsample(*p, u, family=family), *args)
        grads = [be.to_numpy(g) for g in pullback(be.xp.ones_like(x))]
        for j, uj in enumerate(US):
            xr, ref = _pathwise_reference(family, lo, hi, loc, scale, uj)
            assert abs(float(be.to_numpy(x)[j]) - xr) <= 1e-12 * max(1.0, abs(xr)), (family, lo, hi, uj)
            for name, g, r in zip(("loc", "scale", "low", "high"), grads, ref):
                if r is None:
                    continue
                assert np.isfinite(g[j])
                assert abs(g[j] - r) <= 1e-3 * abs(r) + 1e-12, (family, lo, hi, uj, name, g[j], r)
        if family == "normal" and max(abs(lo), abs(hi)) < 3:
            for j in range(k):
                sp = _scipy_pathwise(lo, hi, loc, scale, float(be.to_numpy(x)[j]))
                for g, r in zip(grads, sp):
                    assert abs(g[j] - r) <= 1e-3 * abs(r) + 1e-9


@pytest.mark.parametrize("family", FAMILIES)
def test_pathwise_gradients_finite_in_float32_far_tails(be, family):
    """Implicit-reparameterization gradients stay finite (and right) in float32 far out."""
    windows = [(8.0, INF), (30.0, 31.0), (100.0, 101.0), (-10001.0, -10000.0), (1e4, INF)]
    for lo, hi in windows:
        args = _params(be, "float32", lo, hi, loc=0.0, scale=1.0)
        args = [be.xp.broadcast_to(a, (3,)) * 1.0 for a in args]
        u = be.asarray(np.array([0.01, 0.5, 0.99]), "float32")
        x, pullback = ds.vjp(lambda *p: tr._rsample(*p, u, family=family), *args)
        grads = pullback(be.xp.ones_like(x))
        for name, g in zip(("loc", "scale", "low", "high"), grads):
            gn = be.to_numpy(g)
            assert np.all(np.isfinite(gn)), (family, lo, hi, name, gn)
        # dx/dlow + dx/dhigh + dx/dloc = 1 exactly (shifting everything shifts x).
        total = sum(be.to_numpy(g).astype(np.float64) for g in (grads[0], grads[2], grads[3]))
        np.testing.assert_allclose(total, 1.0, atol=1e-5)


def _np_logpdf_T(family, lo, hi, loc, scale):
    """float64 NumPy truncated log density (for scipy.integrate.quad): bulk/moderate windows."""
    a, b = (lo - loc) / scale, (hi - loc) / scale
    if family == "normal":
        lf = lambda z: -0.5 * z * z - 0.5 * math.log(2 * math.pi)  # noqa: E731
        Z = scipy.special.ndtr(-a) - scipy.special.ndtr(-b) if a > 0 else scipy.special.ndtr(b) - scipy.special.ndtr(a)
    else:
        base = scipy.stats.logistic()
        lf = base.logpdf
        Z = base.sf(a) - base.sf(b) if a > 0 else base.cdf(b) - base.cdf(a)
    return lambda x: lf((x - loc) / scale) - math.log(Z) - math.log(scale)


@pytest.mark.parametrize("family", FAMILIES)
def test_gradient_of_expectation_against_quadrature(be, family):
    """d E[x^2] / d theta: pathwise Monte Carlo vs finite differences of quadrature.

    The value E[x^2](loc, scale, low, high) is scipy.integrate.quad of x^2 times the
    truncated density (rel. tolerance 1e-12); its gradient is a central difference with
    step 1e-4 (error ~1e-8).  The Monte Carlo estimate is the mean of 2 x dx/dtheta
    over n draws; it must lie within 4.5 standard errors (estimated from the same
    draws) plus 1e-6.
    """
    n = 20000
    key = ds.random.key(42)
    windows = [(-1.0, 2.0), (2.0, 4.0), (1.0, INF)] if family == "normal" else [(-1.0, 2.0), (3.0, 6.0), (1.0, INF)]
    loc, scale = 0.3, 1.7
    for lo, hi in windows:
        low = loc + scale * lo
        high = loc + scale * hi if math.isfinite(hi) else INF
        params = [loc, scale, low, high]

        def value(p):
            f = _np_logpdf_T(family, p[2], p[3], p[0], p[1])
            return scipy.integrate.quad(lambda t: t * t * math.exp(f(t)), p[2], p[3], epsabs=0, epsrel=1e-12, limit=200)[0]

        args = [be.xp.broadcast_to(_arr(be, v), (n,)) * 1.0 for v in params]
        x, pullback = ds.vjp(lambda *p: FAMILIES[family](*p).rsample(key), *args)
        per_sample = pullback(2.0 * x)  # 2 x dx/dtheta for each draw
        # The same n draws as sample_shape of one window (on NumPy/torch the normal's
        # rejection sampler then pools candidates instead of going position by
        # position); its total gradient / n is checked with the standard error above.
        totals = None
        if family == "normal" and _rejects(be):
            x1, pull1 = ds.vjp(lambda *p: FAMILIES[family](*p).rsample(key, (n,)), *[_arr(be, v) for v in params])
            totals = pull1(2.0 * x1)
        for i, name in enumerate(("loc", "scale", "low", "high")):
            if not math.isfinite(params[i]):
                continue
            h = 1e-4
            pp, pm = list(params), list(params)
            pp[i] += h
            pm[i] -= h
            ref = (value(pp) - value(pm)) / (2 * h)
            s = be.to_numpy(per_sample[i])
            est, se = s.mean(), s.std() / math.sqrt(n)
            assert abs(est - ref) <= ZMAX * se + 1e-6, (family, lo, hi, name, est, ref, se)
            if totals is not None:
                est1 = float(be.to_numpy(totals[i]).sum()) / n
                assert abs(est1 - ref) <= ZMAX * se + 1e-6, (family, lo, hi, name, "one window", est1, ref, se)


@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_vjp_against_finite_differences(be, prim):
    check_primitive(prim, lambda a: be.asarray(a, "float64"), rtol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_score_is_log_prob_gradient(be, family):
    args = _params(be, "float64", -1.0, 2.0)
    x = be.asarray([-1.0, 0.3, 2.0, 3.4], "float64")
    d = FAMILIES[family](*args)
    s = d.score(x)
    _, pullback = ds.vjp(lambda *p: FAMILIES[family](*p).log_prob(x), *args)
    inside = np.array([1.0, 1.0, 1.0, 0.0])  # 3.4 is above high = 0.25 + 1.5 * 2
    for name, g in zip(("loc", "scale", "low", "high"), pullback(be.asarray(inside))):
        np.testing.assert_allclose(be.to_numpy(s[name]).sum(), be.to_numpy(g), rtol=1e-12, atol=1e-14)
        assert be.to_numpy(s[name])[3] == 0.0


# ------------------------------------------------------------- framework autodiff
def _framework_grads(be, fn_ds, fn_plain, *args):
    if be.kind == "torch":
        import torch

        outs = []
        for fn in (fn_ds, fn_plain):
            ts = [a.detach().clone().requires_grad_(True) for a in args]
            y = fn(*ts)
            w = torch.linspace(0.5, 1.5, y.numel(), dtype=y.dtype).reshape(y.shape)
            outs.append(torch.autograd.grad((y * w).sum(), ts, allow_unused=True, materialize_grads=True))
        return outs
    import jax
    import jax.numpy as jnp

    outs = []
    for fn in (fn_ds, fn_plain):

        def loss(*a, fn=fn):
            y = fn(*a)
            return jnp.sum(y * jnp.linspace(0.5, 1.5, y.size, dtype=y.dtype).reshape(y.shape))

        outs.append(jax.grad(loss, argnums=tuple(range(len(args))))(*args))
    return outs


def test_grads_match_framework_autodiff(be):
    """Our VJPs against torch/JAX autodiff of the plain formulas (bulk windows, float64)."""
    if be.kind not in ("torch", "jax"):
        pytest.skip("no framework autodiff on this backend")
    xp = be.xp
    if be.kind == "torch":
        import torch

        ndtr, ndtri = torch.special.ndtr, torch.special.ndtri
    else:
        import jax.scipy.special as jss

        ndtr, ndtri = jss.ndtr, jss.ndtri

    def sig(t):
        return 1.0 / (1.0 + xp.exp(-t))

    def logit(p):
        return xp.log(p) - xp.log(1.0 - p)

    fams = {
        "normal": (ndtr, ndtri, lambda z: xp.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)),
        "logistic": (sig, logit, lambda z: sig(z) * sig(-z)),
    }
    loc = be.asarray([0.1, 0.2, -0.5], "float64")
    scale = be.asarray([1.0, 0.7, 2.0], "float64")
    low = be.asarray([-1.0, -0.5, -2.0], "float64")
    high = be.asarray([1.5, 1.0, 3.0], "float64")
    x = be.asarray([0.3, 0.1, 1.0], "float64")
    u = be.asarray([0.2, 0.6, 0.9], "float64")
    # On JAX every new computation is compiled, so it checks one family here; both
    # families share the VJP code (a static argument picks the standard functions)
    # and both are checked against torch autodiff.
    for family, (F, Finv, f) in list(fams.items())[: 1 if be.kind == "jax" else 2]:
        cls = FAMILIES[family]

        def parts(l, s, lo, hi):
            a, b = (lo - l) / s, (hi - l) / s
            return a, b, F(b) - F(a)

        def plain_rsample(l, s, lo, hi):
            a, b, Z = parts(l, s, lo, hi)
            return l + s * Finv(F(a) + u * Z)

        def plain_log_prob(l, s, lo, hi):
            a, b, Z = parts(l, s, lo, hi)
            return xp.log(f((x - l) / s) / (s * Z))

        def plain_cdf(l, s, lo, hi):
            a, b, Z = parts(l, s, lo, hi)
            return (F((x - l) / s) - F(a)) / Z

        cases = [
            (lambda *p: tr._rsample(*p, u, family=family), plain_rsample),
            (lambda *p: cls(*p).log_prob(x), plain_log_prob),
            (lambda *p: cls(*p).cdf(x), plain_cdf),
            (lambda *p: cls(*p).log_cdf(x), lambda *p: xp.log(plain_cdf(*p))),
            (lambda *p: cls(*p).icdf(u), plain_rsample),
        ]
        if family == "normal":
            def phi(t):
                return xp.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)

            def plain_mean(l, s, lo, hi):
                a, b, Z = parts(l, s, lo, hi)
                return l + s * (phi(a) - phi(b)) / Z

            def plain_var(l, s, lo, hi):
                a, b, Z = parts(l, s, lo, hi)
                m = (phi(a) - phi(b)) / Z
                return s * s * (1 + (a * phi(a) - b * phi(b)) / Z - m * m)

            def plain_ent(l, s, lo, hi):
                a, b, Z = parts(l, s, lo, hi)
                return xp.log(math.sqrt(2 * math.pi * math.e) * s * Z) + (a * phi(a) - b * phi(b)) / (2 * Z)

            cases += [
                (lambda *p: cls(*p).mean, plain_mean),
                (lambda *p: cls(*p).variance, plain_var),
                (lambda *p: cls(*p).entropy(), plain_ent),
            ]
            for w in ("loc", "scale", "low", "high"):
                cases.append((lambda *p, w=w: cls(*p).score(x)[w], None))
        for fn_ds, fn_plain in cases:
            if fn_plain is None:
                continue
            ours, theirs = _framework_grads(be, fn_ds, fn_plain, loc, scale, low, high)
            for a, b in zip(ours, theirs):
                np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-9, atol=1e-12)


def test_registered_gradient_check(be):
    """torch.autograd.gradcheck / jax check_grads through the registered VJPs."""
    key = ds.random.key(5)
    loc = be.asarray([0.1, 0.2, -0.5], "float64")
    scale = be.asarray([1.0, 0.7, 2.0], "float64")
    low = be.asarray([-1.0, 0.5, 3.0], "float64")
    high = be.asarray([1.5, 6.0, 4.5], "float64")

    def f(fam):
        def g(l, s, lo, hi):
            d = FAMILIES[fam](l, s, lo, hi)
            x = d.rsample(key, (4,))
            return (d.log_prob(x) + d.cdf(x * 0.9 + 0.1 * lo) + d.log_cdf(0.5 * (lo + hi)) + d.score(x)["scale"]
                    + d.mean + d.variance + d.entropy())

        return g

    if be.kind == "torch":
        import torch

        args = tuple(a.clone().requires_grad_(True) for a in (loc, scale, low, high))
        for fam in FAMILIES:
            assert torch.autograd.gradcheck(f(fam), args)
        assert torch.autograd.gradgradcheck(lambda *p: TruncatedNormal(*p).rsample(key, (3,)) ** 2, args)
    elif be.kind == "jax":
        from jax.test_util import check_grads

        import jax

        # Under jit (one compilation); the VJPs inside are still the registered ones.
        with ds.random.stream("portable"):
            for fam in ("logistic",):  # one family on JAX (compile time); torch checks both
                check_grads(jax.jit(f(fam)), (loc, scale, low, high), order=1, modes=["rev"])
    else:
        pytest.skip("framework gradient checks are for torch and jax")


def test_jax_jit_grad_vmap(be):
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    @jax.jit
    def loss(key, lo):
        return jnp.mean(TruncatedNormal(0.0, 1.0, lo, jnp.inf).rsample(key, (4000,)))

    # Both sampling paths under jit (lax.cond): the bulk, and a window far out.
    for lo, m in [(0.5, mp_moments("normal", 0.5, INF)[0]), (30.0, mp_moments("normal", 30.0, INF)[0])]:
        val, g = jax.value_and_grad(loss, argnums=1)(jnp.asarray(ds.random.key(0)), jnp.asarray(lo))
        sd = math.sqrt(mp_moments("normal", lo, INF)[1])
        assert abs(float(val) - m) <= ZMAX * sd / math.sqrt(4000)
        assert 0 < float(g) <= 1.0  # dE[x]/dlow = f(low)/Z (m - low)... between 0 and 1
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    x = jax.jit(jax.vmap(lambda k, l: TruncatedLogistic(0.0, 1.0, l, l + 1.0).rsample(k, (5,))))(keys, jnp.array([0.0, 50.0, -50.0]))
    assert x.shape == (3, 5)
    xn = np.asarray(x)
    assert np.all((xn >= np.array([[0.0], [50.0], [-50.0]])) & (xn <= np.array([[1.0], [51.0], [-49.0]])))


def test_torch_func(be):
    if be.kind != "torch":
        pytest.skip("torch only")
    import torch

    lo = torch.tensor([0.5, 30.0], dtype=torch.float64)
    g = torch.func.grad(lambda lo: TruncatedNormal(0.0, 1.0, lo, math.inf).rsample(ds.random.key(0), (7,)).sum())(lo)
    assert torch.all(torch.isfinite(g)) and torch.all(g > 0)


# -------------------------------------------------------------------- validation
@pytest.mark.parametrize("family", FAMILIES)
def test_validation(be, family):
    cls = FAMILIES[family]
    ok = be.asarray([1.0, 2.0], "float64")
    for bad, what in [(0.0, "0.0"), (-1.0, "-1.0"), (float("nan"), "nan"), (float("inf"), "inf")]:
        with pytest.raises(ValueError, match=rf"scale.*{what}"):
            cls(ok, be.asarray([1.0, bad], "float64"), -1.0, 5.0)
    with pytest.raises(ValueError, match=r"loc.*nan"):
        cls(be.asarray([float("nan"), 0.0], "float64"), 1.0)
    with pytest.raises(ValueError, match=r"low must be < high, got low=2\.0, high=2\.0"):
        cls(ok, 1.0, be.asarray([0.0, 2.0], "float64"), be.asarray([1.0, 2.0], "float64"))
    with pytest.raises(ValueError, match=r"low must be < high, got low=3\.0, high=1\.0"):
        cls(ok, 1.0, 3.0, 1.0)
    with pytest.raises(ValueError, match=r"low must be < high, got low=inf"):
        cls(ok, 1.0, INF, INF)
    with pytest.raises(ValueError, match=r"low must be < high.*high=-inf"):
        cls(ok, 1.0, -INF, be.asarray([-INF, 1.0], "float64"))
    with pytest.raises(ValueError, match=r"low.*nan"):
        cls(ok, 1.0, float("nan"), 1.0)
    with pytest.raises(ValueError, match=r"high.*nan"):
        cls(ok, 1.0, 0.0, be.asarray([float("nan"), 3.0], "float64"))
    with pytest.raises(ValueError, match=r"low must be < high"):
        Truncated(ds.Normal(ok, 1.0), 1.0, 0.0)
    # Valid: infinite ends, a window far out.
    assert np.all(np.isfinite(be.to_numpy(cls(ok, 1.0, -INF, INF).sample(0, (3,)))))


@pytest.mark.parametrize("family, low", [("normal", "float16"), ("logistic", "bfloat16"), ("normal", "bfloat16")])
def test_low_precision(be, family, low):
    cls = FAMILIES[family]
    d = cls(be.asarray([0.0, 0.0, 2.0], low), be.asarray([1.0, 1.0, 0.5], low),
            be.asarray([8.0, -INF, -1.0], low), be.asarray([INF, -20.0, 2.5], low))
    x = d.rsample(ds.random.key(0), (2000,))
    assert x.dtype == be.dtype(low)
    xs = be.to_numpy(be.xp.astype(x, be.xp.float32))
    assert np.all(np.isfinite(xs))
    assert np.all(xs[:, 0] >= 8.0) and np.all(xs[:, 1] <= -20.0) and np.all((xs[:, 2] >= -1) & (xs[:, 2] <= 2.5))
    for v in (d.log_prob(x), d.cdf(x), d.mean, d.variance, d.entropy(), *d.score(x).values()):
        assert np.all(np.isfinite(be.to_numpy(be.xp.astype(v, be.xp.float32))))


# ------------------------------------------------------------------ Truncated(base)
class _Opaque:
    """A Normal seen only through cdf / log_cdf / icdf / log_prob: forces the generic path."""

    _params = ("loc", "scale")

    def __init__(self, loc, scale):
        self._n = ds.Normal(loc, scale)
        self.loc, self.scale = loc, scale
        self.batch_shape, self.dtype = self._n.batch_shape, self._n.dtype

    def cdf(self, x):
        return self._n.cdf(x)

    def log_cdf(self, x):
        return self._n.log_cdf(x)

    def icdf(self, p):
        return self._n.icdf(p)

    def log_prob(self, x):
        return self._n.log_prob(x)


def test_truncated_of_normal_and_logistic_is_the_dedicated_class(be):
    loc, scale, low, high = _params(be, "float64", 8.0, INF)
    for base, cls in [(ds.Normal(loc, scale), TruncatedNormal), (Logistic(loc, scale), TruncatedLogistic)]:
        a, b = Truncated(base, low, high), cls(loc, scale, low, high)
        key = ds.random.key(2)
        np.testing.assert_array_equal(be.to_numpy(a.sample(key, (10,))), be.to_numpy(b.sample(key, (10,))))
        assert _f(be, a.mean) == _f(be, b.mean)
        assert a.batch_shape == b.batch_shape


def test_generic_truncated_matches_dedicated(be):
    """The generic path (any base) agrees with TruncatedNormal in the bulk and the lower tail."""
    windows = [(-1.0, 2.0), (-INF, 0.5), (0.5, INF), (-12.0, -10.0)]
    for lo, hi in windows[::3] if be.kind == "jax" else windows:  # JAX: compile time
        loc, scale, low, high = _params(be, "float64", lo, hi)
        g = Truncated(_Opaque(loc, scale), low, high)
        t = TruncatedNormal(loc, scale, low, high)
        u = be.asarray([0.05, 0.5, 0.95], "float64")
        x = be.asarray([LOC + SCALE * v for v in np.clip([lo + 0.3, 0.0, hi - 0.3], -50, 50)], "float64")
        for name in ("log_prob", "cdf", "log_cdf"):
            np.testing.assert_allclose(be.to_numpy(getattr(g, name)(x)), be.to_numpy(getattr(t, name)(x)), rtol=1e-9)
        np.testing.assert_allclose(be.to_numpy(g.icdf(u)), be.to_numpy(t.icdf(u)), rtol=1e-9)
        key = ds.random.key(8)
        np.testing.assert_allclose(be.to_numpy(g.rsample(key, (20,))), be.to_numpy(t.rsample(key, (20,))), rtol=1e-9)

        # Gradients w.r.t. the base's parameters and the bounds agree too.
        def draws(cls_or_generic):
            def fn(l, s, lo_, hi_):
                d = Truncated(_Opaque(l, s), lo_, hi_) if cls_or_generic == "generic" else TruncatedNormal(l, s, lo_, hi_)
                return d.rsample(key, (20,))

            return fn

        xg, pg = ds.vjp(draws("generic"), loc, scale, low, high)
        gg = pg(be.xp.ones_like(xg))
        xt, pt = ds.vjp(draws("dedicated"), loc, scale, low, high)
        gt = pt(be.xp.ones_like(xt))
        for a, b in zip(gg, gt):
            np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-7, atol=1e-10)
        lp = lambda *p: Truncated(_Opaque(p[0], p[1]), p[2], p[3]).log_prob(x)  # noqa: E731
        gl = ds.vjp(lp, loc, scale, low, high)[1](be.xp.ones_like(x))
        gt = ds.vjp(lambda *p: TruncatedNormal(*p).log_prob(x), loc, scale, low, high)[1](be.xp.ones_like(x))
        for a, b in zip(gl, gt):
            np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-9, atol=1e-12)
    # Moments of an opaque base come from the generic quadrature and agree with the
    # dedicated closed-form-checked ones (the last window, [-12, -10] standardized, is
    # bounded).  _Opaque has no `mean`: on a window with an infinite end it cannot be
    # told whether the moments exist, so they are NaN.  Its score is not available.
    def moments(*p):
        g = Truncated(_Opaque(p[0], p[1]), p[2], p[3])
        return g.mean, g.variance, g.entropy()

    t = TruncatedNormal(loc, scale, low, high)
    for a, b in zip(_jit(be, moments)(loc, scale, low, high), (t.mean, t.variance, t.entropy())):
        np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-12)
    assert np.isnan(_f(be, Truncated(_Opaque(loc, scale), low, INF).mean))
    with pytest.raises(NotImplementedError, match="score"):
        Truncated(_Opaque(loc, scale), low, high).score(x)


def test_generic_truncated_exponential_base(be):
    """A third base (Exponential, issue 4 part 2) through the generic path: closed forms.

    Truncated to [a, b]: F_T(x) = (e^{-r a} - e^{-r x}) / (e^{-r a} - e^{-r b}); the
    quantile and its derivative in r are checked against these formulas (the
    derivative by central differences of the closed-form quantile, step 1e-6).
    """
    expo = pytest.importorskip("diffsample.distributions.exponential")
    r = np.array([1.0, 2.0, 0.7])
    a, b = 0.5, 3.0
    u = np.array([0.1, 0.5, 0.9])

    def q(rate):
        ea, eb = np.exp(-rate * a), np.exp(-rate * b)
        return -np.log(ea - u * (ea - eb)) / rate

    rate = be.asarray(r, "float64")
    d = Truncated(expo.Exponential(rate), a, b)
    np.testing.assert_allclose(be.to_numpy(d.icdf(be.asarray(u))), q(r), rtol=1e-12)
    x = q(r)
    F = (np.exp(-r * a) - np.exp(-r * x)) / (np.exp(-r * a) - np.exp(-r * b))
    np.testing.assert_allclose(be.to_numpy(d.cdf(be.asarray(x))), F, rtol=1e-12)
    lp = np.log(r) - r * x - np.log(np.exp(-r * a) - np.exp(-r * b))
    np.testing.assert_allclose(be.to_numpy(d.log_prob(be.asarray(x))), lp, rtol=1e-12)
    _, pullback = ds.vjp(lambda rr: Truncated(expo.Exponential(rr), a, b).icdf(be.asarray(u)), rate)
    (g,) = pullback(be.asarray(np.ones(3)))
    h = 1e-6
    np.testing.assert_allclose(be.to_numpy(g), (q(r + h) - q(r - h)) / (2 * h), rtol=1e-6)
    xs = be.to_numpy(d.sample(ds.random.key(3), (1000,)))
    assert np.all((xs >= a) & (xs <= b))


def test_generic_draws_in_the_upper_far_tail(be, dtype):
    """A Gumbel base on [40, inf), where 1 - F(40) = 4e-18 is below eps: the draws are
    finite, in the window, and follow the truncated law (KS at ALPHA, float64); float32
    draws are finite and in the window.  Reference CDF from the survival function
    S(x) = -expm1(-exp(-x)): F_T(x) = 1 - S(x) / S(40).  (Draws were inf here before
    the generic quantile was polished by Newton steps.)"""
    d = Truncated(ds.Gumbel(be.asarray(0.0, dtype), 1.0), 40.0, np.inf)
    x = be.to_numpy(d.sample(ds.random.key(5), (4000,))).astype(np.float64)
    assert np.all(np.isfinite(x)) and np.all(x >= 40.0)
    q = be.to_numpy(d.icdf(be.asarray(np.array([0.5, 0.999]), dtype))).astype(np.float64)
    np.testing.assert_allclose(q, 40.0 - np.log(np.array([0.5, 0.001])), rtol=1e-6 if dtype == "float32" else 1e-12)
    if dtype == "float64":
        s40 = -np.expm1(-np.exp(-40.0))
        assert scipy.stats.kstest(x, lambda v: 1.0 + np.expm1(-np.exp(-v)) / s40).pvalue > ALPHA


@pytest.mark.parametrize("family", FAMILIES)
def test_window_far_from_loc(be, dtype, family):
    """loc = 1e10 above the window [0, 1]: the standardized ends coincide in float32,
    yet draws, densities and moments come out right (they are formed relative to the
    window's ends).  Exact: the normal's draws are 1 - Exp(1)/1e10 (to 1e-20); the
    logistic's are 1 - Exp(1) truncated to [0, 1] (its tail is exponential to 1e-4343),
    mean 1 - (1 - 1/(e - 1)), variance 1 - e/(e - 1)**2."""
    d = FAMILIES[family](*(_arr(be, v, dtype) for v in (1e10, 1.0, 0.0, 1.0)))
    x = be.to_numpy(d.sample(ds.random.key(4), (4000,))).ravel().astype(np.float64)
    assert np.all((x >= 0.0) & (x <= 1.0))
    vals = [d.log_prob(be.asarray(np.array([0.5, 1.0]), dtype)), d.cdf(be.asarray(np.array([0.5]), dtype)), d.mean,
            d.variance, d.entropy()]
    assert all(np.all(np.isfinite(be.to_numpy(v).astype(np.float64))) for v in vals)
    if family == "logistic":
        e = math.e
        m, v = 1.0 / (e - 1.0), 1.0 - e / (e - 1.0) ** 2
        np.testing.assert_allclose(_f(be, d.mean), m, rtol=4e-6 if dtype == "float32" else 1e-12)
        np.testing.assert_allclose(_f(be, d.variance), v, rtol=4e-5 if dtype == "float32" else 1e-11)
        assert abs(x.mean() - m) <= ZMAX * math.sqrt(v / x.size)
    else:
        np.testing.assert_allclose(_f(be, d.mean), 1.0 - 1e-10, rtol=1e-7 if dtype == "float32" else 1e-15)
        np.testing.assert_allclose(_f(be, d.variance), 1e-20, rtol=1e-5 if dtype == "float32" else 1e-9)
        if dtype == "float64":
            np.testing.assert_allclose(x.mean(), 1.0 - 1e-10, atol=ZMAX * 1e-10 / math.sqrt(x.size) + 2e-16)


# ---------------------------------------------- Truncated(base): moments and score
# Bases of the generic path: (class, parameters, scipy.stats distribution of the same
# parameters, a point where the density is largest or has a kink, or None).
GENERIC_BASES = {
    "gumbel": (ds.Gumbel, (0.3, 1.7), lambda p: scipy.stats.gumbel_r(*p), 0.3),
    "laplace": (ds.Laplace, (0.3, 1.7), lambda p: scipy.stats.laplace(*p), 0.3),
    "cauchy": (ds.Cauchy, (0.3, 1.7), lambda p: scipy.stats.cauchy(*p), 0.3),
    "exponential": (ds.Exponential, (0.7,), lambda p: scipy.stats.expon(scale=1.0 / p[0]), 0.0),
    "uniform": (ds.Uniform, (-1.0, 2.0), lambda p: scipy.stats.uniform(p[0], p[1] - p[0]), None),
}
# A bulk window, a narrow one far in a tail, and one with an infinite end (Uniform:
# one that covers the support's upper end).
GENERIC_WINDOWS = {
    "gumbel": [(-1.0, 2.0), (20.0, 21.0), (-3.0, INF)],
    "laplace": [(-1.0, 2.0), (-50.0, -49.0), (1.0, INF)],
    "cauchy": [(-1.0, 2.0), (-300.0, -299.0), (-INF, 0.5)],
    "exponential": [(0.5, 3.0), (30.0, 31.0), (2.0, INF)],
    "uniform": [(-0.5, 1.0), (1.99, 1.995), (0.5, INF)],
}


@functools.lru_cache(maxsize=None)
def quad_moments(name, params, lo, hi):
    """(mean, variance, entropy) of the base's density restricted to [lo, hi], float64.

    scipy.integrate.quad (epsabs=0, epsrel=1e-13) of the base's scipy.stats density
    taken relative to its value at a point c of the window, f~ = exp(logpdf(x) -
    logpdf(c)) (so nothing underflows far in a tail); the window is split at the
    kink/mode and at c.  Z~ = int f~, mean = int x f~ / Z~, variance = int (x - mean)**2
    f~ / Z~, entropy = log Z~ - int f~ log f~ / Z~.  NaN for a moment that diverges
    (the Cauchy's on a window with an infinite end; not integrated).
    """
    _, _, scipy_dist, kink = GENERIC_BASES[name]
    d = scipy_dist(params)
    inside = [v for v in ((kink,) if kink is not None else ()) if lo < v < hi]
    c = inside[0] if inside else (lo if math.isfinite(lo) else hi)
    if name == "uniform":
        c = min(max(0.5 * (max(lo, params[0]) + min(hi, params[1])), lo), hi)
    lc = d.logpdf(c)
    cuts = sorted({lo, hi, *inside, *([c] if lo < c < hi else [])})
    if name == "uniform":  # integrate over the support only (the density jumps at its ends)
        cuts = sorted({max(lo, params[0]), min(hi, params[1])})

    def integral(g):
        return sum(scipy.integrate.quad(g, a, b, epsabs=0, epsrel=1e-13, limit=500)[0] for a, b in zip(cuts[:-1], cuts[1:]))

    def ft(x):
        return math.exp(d.logpdf(x) - lc)

    z = integral(ft)
    heavy = name == "cauchy" and not (math.isfinite(lo) and math.isfinite(hi))
    m = math.nan if heavy else integral(lambda x: x * ft(x)) / z
    v = math.nan if heavy else integral(lambda x: (x - m) ** 2 * ft(x)) / z
    h = math.log(z) - integral(lambda x: ft(x) * (d.logpdf(x) - lc) if ft(x) > 0 else 0.0) / z
    return m, v, h


def _generic(be, name, dtype="float64"):
    """(function of (*base params, low, high) -> Truncated, the parameter arrays)."""
    cls, params, _, _ = GENERIC_BASES[name]
    k = len(params)
    return (lambda *p: Truncated(cls(*p[:k]), p[k], p[k + 1])), [_arr(be, v, dtype) for v in params]


def _moments_fn(be, name):
    make, _ = _generic(be, name)

    @functools.partial(_jit, be)
    def moments(*p):
        d = make(*p)
        return d.mean, d.variance, d.entropy()

    return moments


@pytest.mark.parametrize("name", GENERIC_BASES)
def test_generic_moments_against_quad(be, name):
    """mean, variance, entropy of every generic base on a bulk, a far-tail and a
    one-sided window against quad_moments, in float64.  Measured errors are below 5e-13
    relative (the Cauchy's variance on [-300, -299]; 1e-6 is what the contract asks); the tolerance is 1e-11 relative, for the
    entropy relative to max(|H|, 1): a narrow window's entropy is near 0, a difference
    of log densities of size ~1."""
    _, params, _, _ = GENERIC_BASES[name]
    moments = _moments_fn(be, name)
    for lo, hi in GENERIC_WINDOWS[name]:
        _, ps = _generic(be, name)
        got = [_f(be, v) for v in moments(*ps, _arr(be, lo), _arr(be, hi))]
        ref = quad_moments(name, params, lo, hi)
        for what, g, r in zip(("mean", "variance", "entropy"), got, ref):
            if math.isnan(r):  # a Cauchy moment on a window with an infinite end
                want = (-INF if math.isinf(lo) else INF) if what == "mean" else INF
                assert g == want, (name, lo, hi, what, g)
                continue
            scale = max(abs(r), 1.0) if what == "entropy" else abs(r)
            assert abs(g - r) <= 1e-11 * scale, (name, lo, hi, what, g, r, abs(g - r) / scale)


def test_generic_moments_float32(be):
    """float32: finite, and within what the float32 representation of x allows.  The
    moments are formed from the nodes' x, each within an ulp of |x|, so the tolerance is
    64 eps (1 + max|x| / sd) relative to the spread (sd) for the mean and variance
    (relative to max(|H|, 1) for the entropy)."""
    if be.kind == "jax":
        pytest.skip("JAX: one more compilation per base for a float32 check that numpy/torch make")
    eps = float(np.finfo(np.float32).eps)
    for name in GENERIC_BASES:
        cls, params, _, _ = GENERIC_BASES[name]
        for lo, hi in GENERIC_WINDOWS[name]:
            d = Truncated(cls(*[_arr(be, v, "float32") for v in params]), _arr(be, lo, "float32"), _arr(be, hi, "float32"))
            got = [d.mean, d.variance, d.entropy()]
            assert all(v.dtype == be.dtype("float32") for v in got)
            got = [_f(be, v) for v in got]
            m, v, h = quad_moments(name, params, lo, hi)
            if math.isnan(m):
                continue
            sd = math.sqrt(v)
            tol = 64 * eps * (1 + max(abs(lo), abs(m)) / sd) if math.isfinite(lo) else 64 * eps * (1 + abs(m) / sd)
            assert abs(got[0] - m) <= tol * sd, (name, lo, hi, "mean", got[0], m)
            assert abs(got[1] - v) <= 2 * tol * v, (name, lo, hi, "variance", got[1], v)
            assert abs(got[2] - h) <= tol * max(abs(h), 1.0), (name, lo, hi, "entropy", got[2], h)


def test_generic_shapes_and_dtypes(be):
    """Batch shapes broadcast between the base and the window; moments have the batch
    shape, scores broadcast(x.shape, batch_shape); the namespace and dtype are kept."""
    if be.kind == "jax":
        pytest.skip("JAX: new shapes mean new compilations; shapes are backend-independent logic")
    loc = be.asarray(np.zeros((2, 1)), "float32")
    low = be.asarray([-1.0, 0.5, 3.0], "float32")
    d = Truncated(ds.Laplace(loc, 1.0), low, INF)
    assert d.batch_shape == (2, 3)
    for v in (d.mean, d.variance, d.entropy()):
        assert tuple(v.shape) == (2, 3) and v.dtype == be.dtype("float32") and type(v) is type(loc)
    s = d.score(be.asarray(np.ones((4, 1, 1)), "float32"))
    assert sorted(s) == ["high", "loc", "low", "scale"]
    assert all(tuple(v.shape) == (4, 2, 3) and v.dtype == be.dtype("float32") for v in s.values())
    # Laplace(0, 1) on [a, inf) with a >= 0: a + 1 (memoryless); on [-1, inf) from quad.
    np.testing.assert_allclose(be.to_numpy(d.mean)[0], [quad_moments("laplace", (0.0, 1.0), -1.0, INF)[0], 1.5, 4.0],
                               rtol=2e-6)


def test_generic_moments_that_do_not_exist(be):
    """Asked of the base: a Cauchy's mean and variance are NaN, so on a window with an
    infinite end the truncated mean is inf / -inf (NaN on the whole line) and the variance
    inf, without gradient; a bounded window and a light-tailed base have them; the
    entropy exists everywhere (against quad_moments)."""
    loc, scale = _arr(be, 0.3), _arr(be, 1.7)
    cases = [(0.0, INF, INF, INF), (-INF, 0.0, -INF, INF), (-INF, INF, math.nan, INF)]
    for lo, hi, m, v in cases:
        d = Truncated(ds.Cauchy(loc, scale), _arr(be, lo), _arr(be, hi))
        got_m, got_v = _f(be, d.mean), _f(be, d.variance)
        assert (math.isnan(got_m) if math.isnan(m) else got_m == m) and got_v == v, (lo, hi, got_m, got_v)
        h = _f(be, d.entropy())
        assert abs(h - quad_moments("cauchy", (0.3, 1.7), lo, hi)[2]) <= 1e-11 * abs(h), (lo, hi, h)
    if be.kind != "jax":  # (JAX: the gradient test below covers the VJPs; compile time)
        _, pullback = ds.vjp(lambda l, s: Truncated(ds.Cauchy(l, s), 0.0, INF).mean, loc, scale)
        assert all(_f(be, g) == 0.0 for g in pullback(be.xp.ones_like(loc)))
    # Exponential (finite mean) on [2, inf): the memoryless shift 2 + 1/rate.
    np.testing.assert_allclose(_f(be, Truncated(ds.Exponential(_arr(be, 0.7)), 2.0, INF).mean), 2.0 + 1 / 0.7, rtol=1e-13)


@pytest.mark.parametrize("name", GENERIC_BASES)
def test_generic_mean_gradient_against_quad(be, name):
    """d mean / d (base parameters, low, high) through ds.vjp (torch/JAX: their autodiff
    of the registered VJPs) against central differences of quad_moments with step 1e-4
    (truncation error ~1e-8 relative, quadrature noise 1e-13/1e-4): rtol 1e-5, on the
    bulk and the one-sided window."""
    make, ps = _generic(be, name)
    _, params, _, _ = GENERIC_BASES[name]
    k = len(params)
    mean = _jit(be, lambda *p: make(*p).mean)
    for lo, hi in GENERIC_WINDOWS[name][::2]:
        if name == "cauchy" and not math.isfinite(lo):
            continue  # no mean
        args = ps + [_arr(be, lo), _arr(be, hi)]
        _, pullback = ds.vjp(mean, *args)
        grads = [_f(be, g) for g in pullback(be.xp.ones_like(args[0]))]
        vals = list(params) + [lo, hi]
        for i, g in enumerate(grads):
            if not math.isfinite(vals[i]):
                assert g == 0.0
                continue
            h = 1e-4
            vp, vm = list(vals), list(vals)
            vp[i] += h
            vm[i] -= h
            ref = (quad_moments(name, tuple(vp[:k]), vp[k], vp[k + 1])[0]
                   - quad_moments(name, tuple(vm[:k]), vm[k], vm[k + 1])[0]) / (2 * h)
            assert abs(g - ref) <= 1e-5 * abs(ref) + 1e-9, (name, lo, hi, i, g, ref)


def _x_rule(lo, hi, kink, n=64):
    """Gauss-Legendre nodes and weights in x on [lo, hi] (split at a kink inside)."""
    t, w = np.polynomial.legendre.leggauss(n)
    cuts = [lo] + ([kink] if kink is not None and lo < kink < hi else []) + [hi]
    xs = np.concatenate([a + (b - a) * (t + 1) / 2 for a, b in zip(cuts[:-1], cuts[1:])])
    ws = np.concatenate([(b - a) * w / 2 for a, b in zip(cuts[:-1], cuts[1:])])
    return xs, ws


@pytest.mark.parametrize("name", GENERIC_BASES)
def test_generic_score(be, name):
    """score(x) against central differences (step 1e-6) of log_prob, float64, rtol 1e-6
    and atol 1e-6 (log_prob is a difference of log densities of size up to ~10, rounded
    to ~1e-13 (the normalizer's cancellation in a far tail), so the differences carry
    ~1e-7 of noise): for the base's parameters and the ends, at points inside each
    window (inside the support for the Uniform), and 0 outside.
    Then its expectation, on the bounded windows by 64-point Gauss-Legendre in x against
    the base's scipy density (split at the kink; accurate to ~1e-14): 0 for the base's
    parameters (the window does not move with them), and the boundary terms
    E[score_low] = f_T(low), E[score_high] = -f_T(high) (from d/dlow of
    int_low^high f_T = 1), to 1e-9."""
    cls, params, scipy_dist, kink = GENERIC_BASES[name]
    k = len(params)
    names = [("base." + n if n in ("low", "high") else n) for n in cls._params] + ["low", "high"]
    for lo, hi in GENERIC_WINDOWS[name]:
        a = lo if math.isfinite(lo) else hi - 4.0
        b = hi if math.isfinite(hi) else (params[1] if name == "uniform" else lo + 4.0)
        pts = [a + (b - a) * f for f in (0.1, 0.5, 0.9)] + [b + 1.0 if math.isfinite(hi) else a - 1.0]
        x = be.asarray(np.array(pts), "float64")
        vals = list(params) + [lo, hi]
        d = Truncated(cls(*[_arr(be, v) for v in params]), _arr(be, lo), _arr(be, hi))
        s = d.score(x)
        assert sorted(s) == sorted(names)
        for i, key in enumerate(names):
            got = be.to_numpy(s[key]).astype(np.float64)
            assert got.shape == (4,) and got[3] == 0.0, (name, key, got)
            if not math.isfinite(vals[i]):
                assert np.all(got == 0.0)
                continue
            h = 1e-6 * max(1.0, abs(vals[i]))
            vp, vm = list(vals), list(vals)
            vp[i] += h
            vm[i] -= h
            lp = [be.to_numpy(Truncated(cls(*[_arr(be, v) for v in w[:k]]), _arr(be, w[k]), _arr(be, w[k + 1])).log_prob(x))
                  for w in (vp, vm)]
            fd = (lp[0][:3] - lp[1][:3]) / (2 * h)
            np.testing.assert_allclose(got[:3], fd, rtol=1e-6, atol=1e-6, err_msg=f"{name} {lo} {hi} {key}")
        if math.isfinite(lo) and math.isfinite(hi):
            xs, ws = _x_rule(max(lo, params[0]) if name == "uniform" else lo,
                             min(hi, params[1]) if name == "uniform" else hi, kink)
            lpx = scipy_dist(params).logpdf(xs)
            dens = np.exp(lpx - lpx.max()) * ws
            sx = d.score(be.asarray(xs, "float64"))
            # f_T at the ends: the density there relative to the integral of the density.
            f_end = {e: float(np.exp(scipy_dist(params).logpdf(v) - lpx.max()) / np.sum(dens)) for e, v in (("low", lo), ("high", hi))}
            for key in names:
                e = float(np.sum(be.to_numpy(sx[key]) * dens) / np.sum(dens))
                want = f_end["low"] if key == "low" else -f_end["high"] if key == "high" else 0.0
                assert abs(e - want) <= 1e-9 * max(1.0, abs(want)), (name, lo, hi, key, e, want)


def test_generic_score_not_available():
    """A base whose CDF derivatives are unknown: NotImplementedError naming it."""
    with pytest.raises(NotImplementedError, match="_Opaque"):
        Truncated(_Opaque(np.array([0.0]), np.array([1.0])), -1.0, 1.0).score(np.array([0.0]))
