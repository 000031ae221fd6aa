"""Special functions against mpmath, on every backend, in float32 and float64.

Every reference is computed with mpmath at 50 significant digits (``mp.dps = 50``)
at the input *as rounded to the tested dtype*, once per module (``_REF`` cache):

* ``ndtr(x)      = mpmath.ncdf(x)``
* ``log_ndtr(x)  = log(ncdf(x))`` for x <= 0, ``log1p(-ncdf(-x))`` for x > 0
  (the second form keeps the digits of ``log_ndtr(10) ~ -7.6e-24``)
* ``erf, erfc    = mpmath.erf, mpmath.erfc``;  ``erfcx(x) = exp(x**2) erfc(x)``
  (for x > 1e6, where mpmath's erfc gives up, its asymptotic series to x**-6)
* ``log1mexp(x)  = log(-expm1(x))``, or ``log1p(-exp(x))`` for x < -1 (50 digits
  of ``1 - exp(-100)`` would leave only 6 of its log)
* ``ndtri_exp(y)`` solves ``log ncdf(x) = y`` by Newton's method in mpmath (for
  y > -log 2 through ``x = -ndtri_exp(log(-expm1(y)))``, the same equation for
  ``1 - Phi``), started from ``sqrt(2) erfinv(2 e^y - 1)`` or, deep in the tail,
  from ``-sqrt(-2y - log(-2y) - log(2 pi))``, and iterated to 1e-40;
* ``ndtri(p)     = ndtri_exp(log p)`` for p <= 1/2 and ``-ndtri(1 - p)`` above;
* ``erfinv(y)    = ndtri((1 + y)/2) / sqrt(2)``, with ``(1 + y)/2`` exact in mpmath.

Tolerance: ``|got - ref| <= K * eps * (1 + cond) * |ref|``, where ``eps`` is the
dtype's machine epsilon and ``cond = |x f'(x) / f(x)|`` the relative condition
number at the point (the error that rounding ``x`` itself by half an ulp would
cause).  ``K = 8`` for whatever a backend dispatches to (native or fallback), i.e.
~1e-6 relative in float32 and ~2e-15 in float64 where ``cond`` is small; ``K = 4``
for the array-API fallback itself, which measures below 2.  Points whose true
value underflows below the smallest normal number, or overflows, are checked to
be finite-or-limit and not NaN instead.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

mp = pytest.importorskip("mpmath")

from diffsample._lib import special  # noqa: E402

mp.mp.dps = 50

FUNCS = ["ndtr", "log_ndtr", "ndtri", "ndtri_exp", "erf", "erfc", "erfcx", "erfinv", "log1mexp"]

# Grids through the bulk, every branch boundary of the fallbacks, and both tails.
GRIDS: dict[str, list[float]] = {
    "ndtr": [-38.4, -37.5, -30.0, -20.0, -12.0, -8.3, -5.0, -3.0, -1.5, -1.0, -0.663, -0.662,
             -0.5, -1e-3, -1e-12, 0.0, 1e-8, 0.3, 0.662, 0.663, 1.0, 2.0, 4.0, 6.0, 8.3, 9.0, 40.0],
    "log_ndtr": [-1e150, -1e10, -1e4, -1e3, -40.0, -38.0, -20.0, -5.0, -1.0, -0.1, -1e-8, 0.0,
                 1e-8, 0.5, 1.0, 3.0, 5.0, 6.0, 8.0, 10.0, 12.0, 20.0, 37.0],
    "ndtri": [1e-300, 1e-200, 1e-100, 1e-30, 1e-20, 1e-10, 1e-5, 1e-3, 0.02, 0.0749, 0.0751,
              0.2, 0.4, 0.5, 0.5 + 1e-9, 0.6, 0.9, 0.925, 0.926, 0.99, 1 - 1e-7, 1 - 1e-10, 1 - 1e-15],
    "ndtri_exp": [-1e300, -1e20, -1e10, -1.5e8, -1e8, -1e6, -1e4, -1e3, -701.0, -700.0, -699.0,
                  -100.0, -10.0, -2.6, -1.0, -0.7, -math.log(2), -0.69, -0.5, -0.1, -1e-5, -1e-10,
                  -1e-20, -1e-100, -1e-300],
    "erf": [-6.0, -3.0, -1.0, -0.5, -0.46875, -0.1, -1e-10, 0.0, 1e-30, 1e-5, 0.3, 0.46875, 0.47,
            0.9, 2.0, 3.9, 4.1, 5.9],
    "erfc": [-6.0, -2.0, -0.5, -1e-3, 0.0, 1e-9, 0.3, 0.47, 1.0, 2.0, 4.0, 4.1, 5.0, 8.0, 10.0,
             20.0, 26.5],
    "erfcx": [-26.0, -10.0, -5.0, -1.0, -0.3, -1e-6, 0.0, 1e-6, 0.3, 0.47, 1.0, 3.9, 4.1, 10.0,
              1e3, 1e8, 1e20, 1e200, 1e300],
    "erfinv": [-1 + 1e-15, -0.999999, -0.9, -0.85, -0.5, -1e-3, 0.0, 1e-30, 1e-10, 0.1, 0.5,
               0.84, 0.86, 0.99, 0.9999999, 1 - 1e-12, 0.9999999999999999],
    "log1mexp": [-1e-300, -1e-20, -1e-8, -0.1, -0.6, -0.693, -0.694, -1.0, -5.0, -30.0, -100.0,
                 -700.0, -1e4, -1e300],
}

# Open domains: inputs outside (after rounding to the dtype) are left to test_limits.
DOMAIN = {
    "ndtri": (0.0, 1.0),
    "erfinv": (-1.0, 1.0),
    "ndtri_exp": (-math.inf, 0.0),
    "log1mexp": (-math.inf, 0.0),
}

K_DISPATCH = 8.0
K_FALLBACK = 4.0


# ----------------------------------------------------------------------------------
# mpmath references
# ----------------------------------------------------------------------------------


def _mp_inv_lower(lp):
    """x <= 0 with log(ncdf(x)) = lp, for lp <= -log 2, by Newton's method in mpmath."""
    if lp > -40:
        x = mp.sqrt(2) * mp.erfinv(2 * mp.exp(lp) - 1)
    else:
        t = -2 * lp
        x = -mp.sqrt(t - mp.log(t) - mp.log(2 * mp.pi))
    for _ in range(100):
        c = mp.ncdf(x)
        step = (mp.log(c) - lp) * c / mp.npdf(x)
        x -= step
        if abs(step) <= mp.mpf(10) ** -40 * (1 + abs(x)):
            return x
    raise AssertionError(f"mpmath Newton did not converge for log p = {lp}")


def _mp_ndtri_exp(y):
    if y < -mp.log(2):
        return _mp_inv_lower(y)
    return -_mp_inv_lower(mp.log(-mp.expm1(y)))


def _mp_ndtri(p):
    if p == mp.mpf(0.5):
        return mp.mpf(0)
    return _mp_inv_lower(mp.log(p)) if p < 0.5 else -_mp_inv_lower(mp.log(1 - p))


def _mp_value_and_slope(name, x):
    """(f(x), f'(x)) in mpmath."""
    two_over_sqrtpi = 2 / mp.sqrt(mp.pi)
    if name == "ndtr":
        return mp.ncdf(x), mp.npdf(x)
    if name == "log_ndtr":
        v = mp.log(mp.ncdf(x)) if x <= 0 else mp.log1p(-mp.ncdf(-x))
        return v, mp.npdf(x) / mp.ncdf(x)
    if name == "ndtri":
        v = _mp_ndtri(x)
        return v, 1 / mp.npdf(v)
    if name == "ndtri_exp":
        v = _mp_ndtri_exp(x)
        return v, mp.ncdf(v) / mp.npdf(v)
    if name == "erf":
        return mp.erf(x), two_over_sqrtpi * mp.exp(-x * x)
    if name == "erfc":
        return mp.erfc(x), -two_over_sqrtpi * mp.exp(-x * x)
    if name == "erfcx":
        if x > 1e6:
            # mpmath's erfc cannot take such x; the asymptotic series
            # erfcx(x) = (1 - 1/(2x^2) + 3/(4x^4) - ...)/(x sqrt(pi)) is exact to
            # ~1e-47 there.
            u = 1 / (x * x)
            v = (1 - u / 2 + 3 * u * u / 4 - 15 * u**3 / 8) / (x * mp.sqrt(mp.pi))
        else:
            v = mp.exp(x * x) * mp.erfc(x)
        return v, 2 * x * v - two_over_sqrtpi
    if name == "erfinv":
        v = _mp_ndtri((1 + x) / 2) / mp.sqrt(2)
        return v, mp.sqrt(mp.pi) / 2 * mp.exp(v * v)
    if name == "log1mexp":
        v = mp.log(-mp.expm1(x)) if x > -1 else mp.log1p(-mp.exp(x))
        return v, -1 / mp.expm1(-x)
    raise KeyError(name)


_REF: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def reference(name: str, dtype: str):
    """(inputs, reference values, relative condition numbers, is-representable mask).

    Inputs are the grid rounded to ``dtype``, restricted to finite, normal (or zero)
    values inside the open domain; JAX on CPU flushes subnormals to zero, so they are
    left out everywhere.
    """
    key = (name, dtype)
    if key not in _REF:
        fi = np.finfo(dtype)
        with np.errstate(over="ignore"):
            x = np.unique(np.asarray(GRIDS[name], dtype=np.float64).astype(dtype))
        lo, hi = DOMAIN.get(name, (-math.inf, math.inf))
        keep = np.isfinite(x) & ((np.abs(x) >= fi.smallest_normal) | (x == 0)) & (x > lo) & (x < hi)
        x = x[keep]
        vals, conds, ok = [], [], []
        for xi in x:
            xm = mp.mpf(float(xi))
            v, d = _mp_value_and_slope(name, xm)
            vals.append(float(v))
            conds.append(float(abs(xm * d / v)) if v != 0 else 0.0)
            ok.append(v == 0 or fi.smallest_normal <= abs(v) <= float(fi.max))
        _REF[key] = (x, np.array(vals), np.array(conds), np.array(ok))
    return _REF[key]


def check_against_reference(name: str, dtype: str, got: np.ndarray, k: float, where: str) -> float:
    """Assert ``got`` matches the mpmath reference; return the worst error in units of eps*(1+cond)."""
    x, ref, cond, ok = reference(name, dtype)
    eps = float(np.finfo(dtype).eps)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == x.shape
    assert not np.any(np.isnan(got)), f"{where}: {name} gave NaN at {x[np.isnan(got)]}"
    # Results that under/overflow in the dtype: only their limit is checked.
    under = ~ok & (np.abs(ref) < 1)
    assert np.all(np.abs(got[under]) <= 2 * float(np.finfo(dtype).smallest_normal)), (where, name, x[under], got[under])
    over = ~ok & (np.abs(ref) >= 1)
    assert np.all(np.abs(got[over]) >= float(np.finfo(dtype).max) / 2), (where, name, x[over], got[over])
    scale = np.where(ref == 0, 1.0, np.abs(ref)) * (1.0 + cond) * eps
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(ok, np.abs(got - ref) / scale, 0.0)
    bad = err > k
    assert not np.any(bad), (
        f"{where}: {name}[{dtype}] off by up to {err.max():.3g} eps*(1+cond) (allowed {k}) at "
        f"x={x[bad]}, got={got[bad]}, ref={ref[bad]}"
    )
    return float(err.max())


# ----------------------------------------------------------------------------------
# Accuracy: the dispatched routine on every backend, and the fallback itself
# ----------------------------------------------------------------------------------


BUCKET = 256


def _bucket(n: int) -> int:
    return max(BUCKET, 1 << (n - 1).bit_length())


def run(be, name: str, x: np.ndarray, dtype: str, native: bool = True, prep=None) -> np.ndarray:
    """``name`` on backend ``be`` at NumPy points ``x``; result as NumPy.

    Inputs are padded (repeating the last point) to a power-of-two length of at least
    ``BUCKET``, so JAX compiles each function once per dtype rather than once per test.
    """
    x = np.asarray(x, dtype=dtype)
    n = x.size
    xp_ = np.concatenate([x, np.repeat(x[-1:], _bucket(n) - n)])
    arr = be.asarray(xp_, dtype)
    if prep is not None:
        arr = prep(arr)
    out = special._apply(name, arr, native=native)
    assert type(out) is type(arr) or be.kind == "jax"
    assert out.dtype == arr.dtype, (name, out.dtype, arr.dtype)
    assert tuple(out.shape) == tuple(arr.shape)
    return be.to_numpy(out)[:n]


@pytest.mark.parametrize("name", FUNCS)
def test_accuracy_per_backend(be, dtype, name):
    x = reference(name, dtype)[0]
    check_against_reference(name, dtype, run(be, name, x, dtype), K_DISPATCH, be.name)


@pytest.mark.parametrize("name", FUNCS)
def test_public_entry_points(be, dtype, name):
    """The public function is the dispatch: same namespace, dtype, shape and values."""
    x = np.resize(reference(name, dtype)[0], BUCKET).astype(dtype)
    arr = be.asarray(x, dtype)
    out = getattr(special, name)(arr)
    assert type(out) is type(arr)
    assert out.dtype == arr.dtype
    assert tuple(out.shape) == tuple(arr.shape)
    np.testing.assert_array_equal(be.to_numpy(out), be.to_numpy(special._apply(name, arr)))
    if be.device is not None and hasattr(out, "device"):
        assert out.device == arr.device


@pytest.mark.parametrize("name", FUNCS)
def test_fallback_per_backend(be, dtype, name):
    """The array-API fallback on each backend's namespace, whatever the dispatch picks."""
    x = reference(name, dtype)[0]
    out = run(be, name, x, dtype, native=False)
    check_against_reference(name, dtype, out, K_FALLBACK, f"{be.name} fallback")


@pytest.mark.parametrize("name", FUNCS)
def test_fallback_numpy_direct(dtype, name):
    """``_fallback_<name>(xp, x)`` straight on NumPy arrays (covered even where SciPy is used)."""
    import array_api_compat

    x = reference(name, dtype)[0]
    xp = array_api_compat.array_namespace(x)
    with np.errstate(all="ignore"):
        out = getattr(special, f"_fallback_{name}")(xp, x)
    assert np.asarray(out).dtype == np.dtype(dtype)
    check_against_reference(name, dtype, out, K_FALLBACK, "numpy fallback")


# The points the design calls out, with their values to 16 digits (mpmath, as above).
TAIL_POINTS = [
    ("ndtri", 1e-30, -11.464024688443616),
    ("ndtri", 1e-300, -37.047096299361199),
    ("log_ndtr", -40.0, -804.60844201375379),
    ("log_ndtr", -1e4, -50000010.129278915),
    ("log_ndtr", 10.0, -7.6198530241605261e-24),
    ("ndtri_exp", -1e4, -141.37983987312716),
    ("ndtri_exp", -1e-20, 9.2623400897984076),
]


@pytest.mark.parametrize("name,x,expected", TAIL_POINTS)
def test_named_tail_points(be, name, x, expected):
    ref, _ = _mp_value_and_slope(name, mp.mpf(x))
    assert float(ref) == pytest.approx(expected, rel=1e-15)
    for dtype in ("float64", "float32"):
        xd = np.asarray(x, dtype=dtype)
        if dtype == "float32" and (xd == 0 or not np.isfinite(xd) or float(xd) < np.finfo("float32").smallest_normal):
            continue  # 1e-300 is not a float32
        got = float(run(be, name, np.array([xd]), dtype)[0])
        ref_d, _ = _mp_value_and_slope(name, mp.mpf(float(xd)))
        assert np.isfinite(got)
        assert got == pytest.approx(float(ref_d), rel=K_DISPATCH * float(np.finfo(dtype).eps)), (name, x, dtype)


# ----------------------------------------------------------------------------------
# Limits, domain, NaN; no NaN/inf inside the domain
# ----------------------------------------------------------------------------------

INF = math.inf
NAN = math.nan
LIMITS = {
    "ndtr": [(-INF, 0.0), (INF, 1.0), (NAN, NAN)],
    "log_ndtr": [(-INF, -INF), (INF, 0.0), (NAN, NAN)],
    "ndtri": [(0.0, -INF), (1.0, INF), (-0.1, NAN), (1.1, NAN), (NAN, NAN)],
    "ndtri_exp": [(0.0, INF), (-INF, -INF), (0.5, NAN), (NAN, NAN)],
    "erf": [(-INF, -1.0), (INF, 1.0), (NAN, NAN)],
    "erfc": [(-INF, 2.0), (INF, 0.0), (NAN, NAN)],
    "erfcx": [(INF, 0.0), (-INF, INF), (-30.0, INF), (NAN, NAN)],
    "erfinv": [(-1.0, -INF), (1.0, INF), (1.5, NAN), (-1.5, NAN), (NAN, NAN)],
    "log1mexp": [(0.0, -INF), (-INF, 0.0), (0.5, NAN), (NAN, NAN)],
}


@pytest.mark.parametrize("native", [True, False], ids=["dispatch", "fallback"])
@pytest.mark.parametrize("name", FUNCS)
def test_limits(be, dtype, name, native):
    xs, expected = zip(*LIMITS[name])
    out = run(be, name, np.array(xs), dtype, native=native)
    np.testing.assert_array_equal(out, np.array(expected, dtype=dtype), err_msg=f"{name} {xs}")


@pytest.mark.parametrize("name", FUNCS)
def test_never_nan_in_domain(be, dtype, name):
    """Log-spaced sweep of the whole open domain: every output is a number, and finite
    wherever the function's true value is representable."""
    fi = np.finfo(dtype)
    mag = np.geomspace(float(fi.smallest_normal), float(fi.max) / 4, 80)
    if name in ("ndtri",):
        x = np.concatenate([mag[mag < 0.5], 1 - mag[mag < 0.5]])
    elif name == "erfinv":
        x = np.concatenate([mag[mag < 1], -mag[mag < 1], 1 - mag[mag < 1]])
    elif name in ("ndtri_exp", "log1mexp"):
        x = -mag
    else:
        x = np.concatenate([mag, -mag, [0.0]])
    x = x.astype(dtype)
    lo, hi = DOMAIN.get(name, (-INF, INF))
    x = x[(x > lo) & (x < hi) & np.isfinite(x)]
    out = run(be, name, x, dtype)
    assert not np.any(np.isnan(out)), (name, x[np.isnan(out)])
    if name in ("ndtri", "ndtri_exp", "erfinv", "log1mexp", "ndtr", "erf", "erfc"):
        assert np.all(np.isfinite(out)), (name, x[~np.isfinite(out)])
    if name == "log_ndtr" and dtype == "float64":
        finite_expected = x > -1e150  # x**2/2 overflows beyond ~1.3e154
        assert np.all(np.isfinite(out[finite_expected]))


def test_round_trip_log_ndtr_ndtri_exp(be):
    x = np.concatenate([-np.geomspace(1e-3, 1e6, 34), np.geomspace(1e-3, 9.0, 30)])
    yv = run(be, "log_ndtr", x, "float64")
    back = run(be, "ndtri_exp", yv, "float64")
    # d x / d y = Phi/phi, so rounding y by eps*|y| moves x by eps*|y|*Phi/phi.
    xd = x
    tol = 8 * np.finfo("float64").eps * (np.abs(xd) + np.abs(yv) / np.maximum(np.abs(xd), 1.0) + 1.0)
    ok = np.abs(back - xd) <= tol * np.maximum(1.0, np.abs(xd))
    ok |= x > 8.0  # log_ndtr(x > 8) ~ -6e-16 cannot carry x back (information lost, not error)
    assert np.all(ok), (x[~ok], back[~ok])


# ----------------------------------------------------------------------------------
# Tracing, autograd tensors, narrow dtypes, scalars, other namespaces
# ----------------------------------------------------------------------------------


def test_jax_jit(be, dtype):
    """All nine functions traced in one ``jax.jit`` (one compile), values unchanged.

    (The fallback on JAX arrays always runs under ``jax.jit``, so
    ``test_fallback_per_backend`` already covers it traced.)
    """
    native = True
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax

    xs = [be.asarray(reference(name, dtype)[0], dtype) for name in FUNCS]

    @jax.jit
    def all_funcs(*arrays):
        return [special._apply(n, a, native=native) for n, a in zip(FUNCS, arrays)]

    for name, arr, out in zip(FUNCS, xs, all_funcs(*xs)):
        assert out.dtype == arr.dtype
        check_against_reference(name, dtype, np.asarray(out), K_DISPATCH, f"jax.jit native={native}")


def test_jax_vmap_and_grad_context(be):
    """Called inside jax.grad's trace (as a primitive's forward would be)."""
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    def f(t):
        return jnp.sum(special.ndtri_exp(special.log_ndtr(t)) + special.erfcx(t) + special.log1mexp(-t * t))

    t = jnp.asarray([0.3, 1.0, 2.5])
    assert np.isfinite(float(jax.jit(f)(t)))
    g = jax.grad(f)(t)  # through the (jitted) fallbacks and the native erfcx
    assert np.all(np.isfinite(np.asarray(g)))
    assert jax.vmap(special.ndtri)(jnp.asarray([[0.1, 0.9]])).shape == (1, 2)


def test_torch_requires_grad(be, dtype):
    if be.kind != "torch":
        pytest.skip("torch only")
    for name in FUNCS:
        x = reference(name, dtype)[0]
        for native in (True, False):
            out = run(be, name, x, dtype, native=native, prep=lambda t: t.requires_grad_(True))
            check_against_reference(name, dtype, out, K_DISPATCH, f"torch requires_grad native={native}")


@pytest.mark.parametrize("name", FUNCS)
def test_narrow_dtypes_computed_in_float32(be, name):
    xs = {"ndtri": [0.1, 0.5, 0.9], "erfinv": [-0.5, 0.0, 0.5], "ndtri_exp": [-3.0, -1.0, -0.1],
          "log1mexp": [-3.0, -1.0, -0.1]}.get(name, [-2.0, 0.0, 1.5])
    dt = "bfloat16" if be.kind in ("torch", "jax") else "float16"
    if be.kind not in ("torch", "jax", "numpy"):
        pytest.skip("no half-precision dtype here")
    xs = np.resize(np.array(xs), BUCKET)  # one JAX compile per function (float32, BUCKET)
    arr = be.asarray(xs, dt)
    out = getattr(special, name)(arr)
    assert out.dtype == arr.dtype
    xs32 = be.to_numpy(be.xp.astype(arr, be.xp.float32))  # the inputs as rounded to dt
    want = be.to_numpy(getattr(special, name)(be.asarray(xs32, "float32")))
    got = np.asarray(be.to_numpy(be.xp.astype(out, be.xp.float32)), dtype=np.float64)
    # One rounding to an 8-bit (bfloat16) or 11-bit (float16) significand.
    np.testing.assert_allclose(got, want, rtol=2.0**-7, atol=2.0**-7)


def test_python_scalar_and_zero_d():
    out = special.ndtr(0.0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == ()
    assert float(out) == 0.5
    z = special.ndtri(np.asarray(0.975, dtype=np.float32))
    assert isinstance(z, np.ndarray) and z.dtype == np.float32 and z.shape == ()
    assert float(z) == pytest.approx(1.959964, rel=1e-6)


def test_dask_fallback():
    da = pytest.importorskip("dask.array")
    x = reference("log_ndtr", "float64")[0]
    d = da.from_array(x, chunks=7)
    out = special.log_ndtr(d)
    assert isinstance(out, da.Array)
    check_against_reference("log_ndtr", "float64", out.compute(), K_FALLBACK, "dask")
    y = reference("ndtri_exp", "float64")[0]
    out = special.ndtri_exp(da.from_array(y, chunks=5)).compute()
    check_against_reference("ndtri_exp", "float64", out, K_FALLBACK, "dask")


def test_import_pulls_in_no_framework():
    code = (
        "import sys, numpy as np\n"
        "import diffsample._lib.special as s\n"
        "s.ndtr(np.zeros(2)); s.ndtri_exp(np.full(2, -1.0))\n"
        "bad = [m for m in ('torch', 'jax', 'cupy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(special.__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root)
