"""Special functions of the normal distribution, one dispatch point per function.

Each public function takes one array of a real floating dtype and returns an array
of the same namespace, device, shape and dtype.  It calls the backend's own routine
where that routine exists *and* holds its accuracy in the tails (``scipy.special``
for NumPy, ``torch.special``, ``jax.scipy.special``, ``cupyx.scipy.special``);
everywhere else it runs an array-API fallback written here once, with no Python
branch on array values, so it also runs under ``jax.jit``, ``torch.func``,
``torch.compile`` and on ``array_api_strict``/``dask`` arrays.

Which backend runs which routine, and why (measured against mpmath at 50 digits on
grids through the bulk and both tails, float32 and float64; see
``tests/test_special.py``):

============  ========  =========  =========  ======  ==========
function      NumPy     torch      JAX        CuPy    others
============  ========  =========  =========  ======  ==========
ndtr          SciPy     fallback   JAX        CuPy    fallback
log_ndtr      SciPy     torch      fallback   CuPy    fallback
ndtri         SciPy     torch      JAX        CuPy    fallback
ndtri_exp     fallback  fallback   fallback   fb      fallback
erf           SciPy     torch      JAX        CuPy    fallback
erfc          SciPy     torch      JAX        CuPy    fallback
erfcx         SciPy     torch      JAX        CuPy    fallback
erfinv        SciPy     torch      fallback   CuPy    fallback
log1mexp      fallback  fallback   fallback   fb      fallback
============  ========  =========  =========  ======  ==========

The reason for each fallback is given beside ``_NATIVE_NAMES`` below.

Fallback algorithms
-------------------
* ``erf``, ``erfc``, ``erfcx``: W. J. Cody's rational Chebyshev approximations
  (Math. Comp. 23, 1969, 631-638; coefficients of his SPECFUN ``CALERF``), with
  ``exp(-x**2)`` formed from a split ``x = xh + xl`` (``xh`` a multiple of 1/16, so
  ``xh**2`` is exact) to keep the exponent's rounding error out of the tails.
* ``ndtr``, ``log_ndtr``: through ``erfcx`` of ``-x/sqrt(2)``, with the Gaussian
  factor ``exp(-x**2/2)`` split the same way; ``log_ndtr(x) = log(erfcx(-x/sqrt2)/2)
  - x**2/2`` for ``x < 0`` (no underflow down to ``x ~ -1e154``) and
  ``log1p(-ndtr(-x))`` for ``x >= 0``.
* ``ndtri``, ``erfinv``: M. J. Wichura's algorithm AS 241 (PPND16, Appl. Statist.
  37, 1988, 477-484), fed the centred probability ``p - 1/2`` and the tail
  probability ``min(p, 1-p)`` separately so that neither loses digits.
* ``ndtri_exp``: AS 241 again with its tail variable ``sqrt(-log r)`` formed straight
  from ``y`` (``sqrt(-y)`` for ``y < -log 2``, ``sqrt(-log(-expm1(y)))`` above), so
  ``exp(y)`` never underflows; for ``y < -700`` an asymptotic start followed by
  Newton steps on ``log_ndtr``.
* ``log1mexp``: ``log(-expm1(x))`` above ``-log 2``, ``log1p(-exp(x))`` below.

Measured worst errors of the fallback, in units of ``eps * (1 + cond)`` (``cond``
the relative condition number at the point): below 2 in float32 and float64 for
every function, on NumPy, array_api_strict, torch and JAX.

Notes
-----
On CPU, XLA flushes subnormal numbers to zero, so on JAX arrays a subnormal input
acts as 0 (e.g. ``ndtri`` of a subnormal ``p`` is ``-inf``), native or fallback.
The fallbacks work around two XLA behaviours: float64 ``log1p`` is inexact for
arguments near -0.4, and ``(1 + u) - 1`` is folded to ``u`` under ``jax.jit``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .namespace import backend_of, compute_dtype, float_dtype, kind_of

__all__ = [
    "ndtr",
    "log_ndtr",
    "ndtri",
    "ndtri_exp",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "log1mexp",
]

# ----------------------------------------------------------------------------------
# Constants
# ----------------------------------------------------------------------------------

_LN2 = 0.6931471805599453  # log(2)
_SQRT2 = 1.4142135623730951  # sqrt(2)
_SQRT1_2 = 0.7071067811865476  # 1/sqrt(2)
_INV_SQRTPI = 0.5641895835477563  # 1/sqrt(pi)
_LOG_2PI = 1.8378770664093453  # log(2*pi)
_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi)

# Cody's split points: a rational in x**2 for erf on |x| <= 0.46875, a rational in
# x for erfcx on 0.46875 < x <= 4, and a rational in 1/x**2 for erfcx beyond 4.
_ERF_SPLIT = 0.46875
_ERFCX_SPLIT = 4.0

# All coefficient tuples below are ordered from the highest power down to the
# constant term, as `_poly` evaluates them (Horner's scheme).

# erf(x) = x * P(x^2) / Q(x^2) for |x| <= 0.46875.
_ERF_P = (
    1.85777706184603153e-1,
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
)
_ERF_Q = (
    1.0,
    2.36012909523441209e01,
    2.44024637934444173e02,
    1.28261652607737228e03,
    2.84423683343917062e03,
)
# erfcx(x) = P(x) / Q(x) for 0.46875 < x <= 4.
_ERFCX_MID_P = (
    2.15311535474403846e-8,
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
)
_ERFCX_MID_Q = (
    1.0,
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
# erfcx(x) = (1/sqrt(pi) - z * P(z) / Q(z)) / x with z = 1/x^2, for x > 4.
_ERFCX_BIG_P = (
    1.63153871373020978e-2,
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
)
_ERFCX_BIG_Q = (
    1.0,
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)

# AS 241 (PPND16).  Centre, |p - 1/2| <= 0.425: x = q * A(s) / B(s), s = 0.180625 - q^2.
_PPND_SPLIT_Q = 0.425
_PPND_A = (
    2.5090809287301226727e3,
    3.3430575583588128105e4,
    6.7265770927008700853e4,
    4.5921953931549871457e4,
    1.3731693765509461125e4,
    1.9715909503065514427e3,
    1.3314166789178437745e2,
    3.3871328727963666080e0,
)
_PPND_B = (
    5.2264952788528545610e3,
    2.8729085735721942674e4,
    3.9307895800092710610e4,
    2.1213794301586595867e4,
    5.3941960214247511077e3,
    6.8718700749205790830e2,
    4.2313330701600911252e1,
    1.0,
)
# Tails, t = sqrt(-log(min(p, 1-p))): t <= 5 uses C(t - 1.6) / D(t - 1.6) ...
_PPND_SPLIT_T = 5.0
_PPND_C = (
    7.74545014278341407640e-4,
    2.27238449892691845833e-2,
    2.41780725177450611770e-1,
    1.27045825245236838258e0,
    3.64784832476320460504e0,
    5.76949722146069140550e0,
    4.63033784615654529590e0,
    1.42343711074968357734e0,
)
_PPND_D = (
    1.05075007164441684324e-9,
    5.47593808499534494600e-4,
    1.51986665636164571966e-2,
    1.48103976427480074590e-1,
    6.89767334985100004550e-1,
    1.67638483018380384940e0,
    2.05319162663775882187e0,
    1.0,
)
# ... and t > 5 uses E(t - 5) / F(t - 5); designed for min(p, 1-p) >= 1e-316.
_PPND_E = (
    2.01033439929228813265e-7,
    2.71155556874348757815e-5,
    1.24266094738807843860e-3,
    2.65321895265761230930e-2,
    2.96560571828504891230e-1,
    1.78482653991729133580e0,
    5.46378491116411436990e0,
    6.65790464350110377720e0,
)
_PPND_F = (
    2.04426310338993978564e-15,
    1.42151175831644588870e-7,
    1.84631831751005468180e-5,
    7.86869131145613259100e-4,
    1.48753612908506148525e-2,
    1.36929880922735805310e-1,
    5.99832206555887937690e-1,
    1.0,
)

# ndtri_exp: below this y the AS 241 tail variable sqrt(-y) leaves the range the
# approximation was fitted on (sqrt(-log 1e-316) ~ 26.98), so an asymptotic start
# refined by Newton steps takes over; below _NDTRI_EXP_HUGE the asymptotic series
# alone is exact to working precision (its first neglected term is ~ 2.5/x**6
# relative, below 1e-18 once |x| > 1e3) and Newton would overflow x**2 in float32.
_NDTRI_EXP_FAR = -700.0
_NDTRI_EXP_HUGE = -1.0e8


# ----------------------------------------------------------------------------------
# Array-API building blocks (no Python branch reads array values)
# ----------------------------------------------------------------------------------


def _poly(x: Any, coeffs: tuple[float, ...]) -> Any:
    """Horner evaluation of ``coeffs`` (highest power first) at array ``x``."""
    acc = coeffs[0] * x + coeffs[1]
    for c in coeffs[2:]:
        acc = acc * x + c
    return acc


def _full(xp: Any, like: Any, value: float) -> Any:
    """An array of ``value`` with the shape, dtype and device of ``like``."""
    return xp.zeros_like(like) + value


def _exp_sq(xp: Any, a: Any, sign: float) -> Any:
    """``exp(sign * a**2)`` for ``sign`` in {-1, -1/2, 1}, without the rounding of ``a**2``.

    ``a`` is split as ``ah + (a - ah)`` with ``ah`` a multiple of 1/16; ``ah**2`` is then
    exact (for ``|a| < 256`` even in float32) and the small remainder
    ``(a - ah)(a + ah)`` carries the rest.  Callers clip ``a`` to a few dozen so
    ``16 * a`` cannot overflow.
    """
    ah = xp.trunc(a * 16.0) / 16.0
    rest = (a - ah) * (a + ah)
    return xp.exp(sign * (ah * ah)) * xp.exp(sign * rest)


def _log1p_neg(xp: Any, u: Any) -> Any:
    """``log(1 + u)`` for ``-1 <= u <= 0`` to about an ulp on every backend.

    jax's float64 ``log1p`` on CPU loses up to ~120 ulps for ``u`` in about
    [-0.42, -0.36] (jax 0.10), a range our callers hit.  Below -1/4 the plain
    ``log(1 + u)`` is as good: ``1 + u`` is then exact or off by half an ulp of a
    number near 1/2..3/4, while ``|log(1 + u)| > 0.28``.  (The textbook
    ``log(w) * u / (w - 1)`` correction is no use here: XLA folds ``(1 + u) - 1``
    to ``u`` under ``jax.jit``.)
    """
    return xp.where(u < -0.25, xp.log(1.0 + u), xp.log1p(u))


def _erf_small(xp: Any, x: Any) -> Any:
    """erf(x) for |x| <= 0.46875 (Cody's first interval)."""
    z = x * x
    return x * _poly(z, _ERF_P) / _poly(z, _ERF_Q)


def _erfcx_nonneg(xp: Any, y: Any) -> Any:
    """erfcx(y) = exp(y**2) erfc(y) for y >= 0 (any size, +inf included)."""
    ys = xp.clip(y, max=_ERF_SPLIT)
    small = xp.exp(ys * ys) * (1.0 - _erf_small(xp, ys))
    ym = xp.clip(y, min=_ERF_SPLIT, max=_ERFCX_SPLIT)
    mid = _poly(ym, _ERFCX_MID_P) / _poly(ym, _ERFCX_MID_Q)
    yl = xp.clip(y, min=_ERFCX_SPLIT)
    iy = 1.0 / yl
    z = iy * iy  # underflows (no overflow) for huge y: the series then ends at 1/(sqrt(pi) y)
    big = (_INV_SQRTPI - z * _poly(z, _ERFCX_BIG_P) / _poly(z, _ERFCX_BIG_Q)) / yl
    return xp.where(y <= _ERF_SPLIT, small, xp.where(y <= _ERFCX_SPLIT, mid, big))


def inv_mills_excess(xp: Any, t: Any) -> Any:
    """``phi(t)/Phi(-t) - t`` (inverse Mills ratio minus ``t``) for ``t >= 6``, cheaply.

    ``phi(t)/Phi(-t) = sqrt(2/pi)/erfcx(t/sqrt2)``; with Cody's rational for
    ``erfcx`` beyond 4 (``z = 2/t**2``) this is
    ``(2 sqrt(pi)/t) P(z) / (Q(z) - sqrt(pi) z P(z))``: two short polynomials and a
    division, no exponential and no branch (about ``1/t - 2/t**3``; 0 at ``t = inf``).
    A private building block of the truncated normal's far-tail sampler; it is only
    accurate where ``t/sqrt2`` is in Cody's last interval, ``t > 4 sqrt2``.
    """
    it = 1.0 / t
    z = 2.0 * (it * it)
    p = _poly(z, _ERFCX_BIG_P)
    q = _poly(z, _ERFCX_BIG_Q)
    return (2.0 / _INV_SQRTPI) * it * p / (q - (1.0 / _INV_SQRTPI) * z * p)


def _erfc_nonneg(xp: Any, y: Any) -> Any:
    """erfc(y) for y >= 0.46875 (clipped where it underflows anyway)."""
    yc = xp.clip(y, max=30.0)  # erfc(27.3) is below the smallest float64
    return _exp_sq(xp, yc, -1.0) * _erfcx_nonneg(xp, yc)


def _ndtr_lower(xp: Any, a: Any) -> Any:
    """Phi(a) for a <= 0 as erfcx(-a/sqrt2) exp(-a**2/2) / 2: no cancellation, no early underflow."""
    ac = xp.clip(a, min=-40.0)  # Phi(-40) ~ 4e-350 underflows in every dtype
    return 0.5 * _erfcx_nonneg(xp, -ac * _SQRT1_2) * _exp_sq(xp, ac, -0.5)


def _nan_where_bad(xp: Any, bad: Any, out: Any) -> Any:
    return xp.where(bad, _full(xp, out, math.nan), out)


def _ppnd(xp: Any, q: Any, t: Any) -> Any:
    """AS 241 from the centred probability ``q = p - 1/2`` and tail variable ``t``.

    ``t = sqrt(-log(min(p, 1-p)))`` must be finite; it is only read where
    ``|q| > 0.425`` (then ``t >= 1.6``).
    """
    qc = xp.clip(q, min=-_PPND_SPLIT_Q, max=_PPND_SPLIT_Q)
    s = 0.180625 - qc * qc
    centre = qc * _poly(s, _PPND_A) / _poly(s, _PPND_B)
    tn = xp.clip(t, max=_PPND_SPLIT_T) - 1.6
    near = _poly(tn, _PPND_C) / _poly(tn, _PPND_D)
    # t never exceeds ~27.3 (p = 5e-324) where this branch is taken; the upper clip
    # only keeps the untaken lanes from overflowing.
    tf = xp.clip(t, min=_PPND_SPLIT_T, max=30.0) - _PPND_SPLIT_T
    far = _poly(tf, _PPND_E) / _poly(tf, _PPND_F)
    tail = xp.where(t <= _PPND_SPLIT_T, near, far)
    tail = xp.where(q < 0, -tail, tail)
    return xp.where(xp.abs(q) <= _PPND_SPLIT_Q, centre, tail)


def _ppnd_from_tail_prob(xp: Any, q: Any, r: Any) -> Any:
    """AS 241 from ``q = p - 1/2`` and ``r = min(p, 1-p)``; +-inf where ``r == 0``."""
    rs = xp.where(r > 0, r, _full(xp, r, 0.5))
    x = _ppnd(xp, q, xp.sqrt(-xp.log(rs)))
    inf = _full(xp, x, math.inf)
    return xp.where(r == 0, xp.where(q < 0, -inf, inf), x)


# ----------------------------------------------------------------------------------
# Fallbacks: f(xp, x) on an array of float32 or float64
# ----------------------------------------------------------------------------------


def _fallback_erf(xp: Any, x: Any) -> Any:
    ax = xp.abs(x)
    small = _erf_small(xp, xp.clip(x, min=-_ERF_SPLIT, max=_ERF_SPLIT))
    big = 1.0 - _erfc_nonneg(xp, xp.clip(ax, min=_ERF_SPLIT))
    big = xp.where(x < 0, -big, big)
    return xp.where(ax <= _ERF_SPLIT, small, big)


def _fallback_erfc(xp: Any, x: Any) -> Any:
    ax = xp.abs(x)
    small = 1.0 - _erf_small(xp, xp.clip(x, min=-_ERF_SPLIT, max=_ERF_SPLIT))
    pos = _erfc_nonneg(xp, xp.clip(ax, min=_ERF_SPLIT))
    return xp.where(ax <= _ERF_SPLIT, small, xp.where(x > 0, pos, 2.0 - pos))


def _fallback_erfcx(xp: Any, x: Any) -> Any:
    pos = _erfcx_nonneg(xp, xp.clip(x, min=0.0))
    # x < 0: erfcx(x) = 2 exp(x^2) - erfcx(-x); no cancellation (2 exp(x^2) >= 2 > 1 >= erfcx).
    # Clipping at 30 only affects values that overflow anyway (from x ~ -26.6 in float64).
    a = xp.clip(-x, min=0.0, max=30.0)
    neg = 2.0 * _exp_sq(xp, a, 1.0) - _erfcx_nonneg(xp, a)
    out = xp.where(x >= 0, pos, neg)
    return xp.where(xp.isnan(x), x, out)


def _fallback_ndtr(xp: Any, x: Any) -> Any:
    z = x * _SQRT1_2
    centre = 0.5 + 0.5 * _erf_small(xp, xp.clip(z, min=-_ERF_SPLIT, max=_ERF_SPLIT))
    lower = _ndtr_lower(xp, -xp.abs(x))
    out = xp.where(x < 0, lower, 1.0 - lower)
    out = xp.where(xp.abs(z) <= _ERF_SPLIT, centre, out)
    return xp.where(xp.isnan(x), x, out)


def _fallback_log_ndtr(xp: Any, x: Any) -> Any:
    xn = xp.clip(x, max=0.0)
    # x < 0: Phi(x) = erfcx(-x/sqrt2) exp(-x^2/2) / 2, so the log needs no exp at all;
    # both terms are negative, so nothing cancels.
    neg = xp.log(0.5 * _erfcx_nonneg(xp, -xn * _SQRT1_2)) - 0.5 * (xn * xn)
    # x >= 0: log(1 - Phi(-x)), accurate down to log_ndtr(10) ~ -7.6e-24.
    pos = _log1p_neg(xp, -_ndtr_lower(xp, -xp.clip(x, min=0.0)))
    out = xp.where(x < 0, neg, pos)
    return xp.where(xp.isnan(x), x, out)


def _fallback_ndtri(xp: Any, p: Any) -> Any:
    q = p - 0.5
    r = xp.where(q < 0, p, 1.0 - p)  # 1 - p is exact for p >= 1/2
    out = _ppnd_from_tail_prob(xp, q, r)
    return _nan_where_bad(xp, (p < 0) | (p > 1) | xp.isnan(p), out)


def _fallback_erfinv(xp: Any, y: Any) -> Any:
    # erfinv(y) = ndtri((1 + y)/2) / sqrt2; with p = (1 + y)/2 we have p - 1/2 = y/2
    # exactly and min(p, 1-p) = (1 - |y|)/2, exact where AS 241 reads it (|y| > 0.85).
    out = _ppnd_from_tail_prob(xp, 0.5 * y, 0.5 * (1.0 - xp.abs(y))) * _SQRT1_2
    return _nan_where_bad(xp, (xp.abs(y) > 1) | xp.isnan(y), out)


def _ndtri_exp_asymptotic(xp: Any, y: Any, steps: int) -> Any:
    """Solve log Phi(x) = y for y << 0 from the tail series of log Phi.

    log Phi(x) = -x^2/2 - log(-x) - log(2 pi)/2 - 1/x^2 + O(x^-4), so
    x^2 = (-y) (2 + c / y) with c = log(2 pi) + 2 log(-x) + 2/x^2, iterated from
    x = -sqrt(-2y).  Written with sqrt(-y) outside so nothing overflows.
    """
    s = xp.sqrt(-y)
    x = -_SQRT2 * s
    for _ in range(steps):
        ix = 1.0 / x
        c = _LOG_2PI + 2.0 * xp.log(-x) + 2.0 * (ix * ix)
        x = -s * xp.sqrt(2.0 + c / y)
    return x


def _fallback_ndtri_exp(xp: Any, y: Any) -> Any:
    yc = xp.clip(y, max=0.0)
    # Moderate and near-zero y: AS 241 with q = exp(y) - 1/2 (exact subtraction for
    # p >= 1/4) and t = sqrt(-log r) formed without exp(y) in the lower tail.
    q = xp.exp(yc) - 0.5
    t_low = xp.sqrt(-xp.clip(yc, max=-_LN2))  # r = p = exp(y)
    r_up = -xp.expm1(xp.clip(yc, min=-_LN2))  # r = 1 - p, accurate as y -> 0
    r_up = xp.where(r_up > 0, r_up, _full(xp, r_up, 0.5))
    t_up = xp.sqrt(-xp.log(r_up))
    mid = _ppnd(xp, q, xp.where(yc <= -_LN2, t_low, t_up))

    # Far tail (y < -700): asymptotic start, then Newton on log_ndtr(x) = y with
    # d log_ndtr / dx = phi/Phi = sqrt(2/pi) / erfcx(-x/sqrt2).
    yn = xp.clip(y, min=_NDTRI_EXP_HUGE, max=_NDTRI_EXP_FAR)
    x = _ndtri_exp_asymptotic(xp, yn, 3)
    for _ in range(2):
        ecx = _erfcx_nonneg(xp, -x * _SQRT1_2)
        resid = (-0.5 * (x * x) - yn) + xp.log(0.5 * ecx)
        x = x - resid * ecx / _SQRT_2_OVER_PI
    # Beyond -1e8 the series alone is exact; -inf is replaced to keep it finite.
    finfo_max = float(xp.finfo(y.dtype).max)
    yh = xp.clip(y, min=-finfo_max, max=_NDTRI_EXP_HUGE)
    huge = _ndtri_exp_asymptotic(xp, yh, 3)

    out = xp.where(y < _NDTRI_EXP_FAR, xp.where(y < _NDTRI_EXP_HUGE, huge, x), mid)
    inf = _full(xp, out, math.inf)
    out = xp.where(y == 0, inf, xp.where(y == -math.inf, -inf, out))
    return _nan_where_bad(xp, (y > 0) | xp.isnan(y), out)


def _fallback_log1mexp(xp: Any, x: Any) -> Any:
    # log(-expm1(x)) is exact near 0, log1p(-exp(x)) for x << 0 (Maechler's split at -log 2).
    near = xp.log(-xp.expm1(xp.clip(x, min=-_LN2)))
    far = _log1p_neg(xp, -xp.exp(xp.clip(x, max=-_LN2)))
    return xp.where(x > -_LN2, near, far)


_FALLBACK: dict[str, Callable[[Any, Any], Any]] = {
    "ndtr": _fallback_ndtr,
    "log_ndtr": _fallback_log_ndtr,
    "ndtri": _fallback_ndtri,
    "ndtri_exp": _fallback_ndtri_exp,
    "erf": _fallback_erf,
    "erfc": _fallback_erfc,
    "erfcx": _fallback_erfcx,
    "erfinv": _fallback_erfinv,
    "log1mexp": _fallback_log1mexp,
}


# ----------------------------------------------------------------------------------
# Native routines, imported lazily, per backend kind
# ----------------------------------------------------------------------------------
#
# Which native routine is used, and why the others are not (errors in units of the
# dtype's eps, measured against mpmath; tests/test_special.py keeps them honest):
#
# NumPy (scipy.special):
#   * ndtri_exp (SciPy >= 1.9): loses digits for very negative y -- ~80 ulp at
#     y = -1e4, ~3000 ulp at y = -3e5 (float64) -> fallback (< 1 ulp there).
#   * ndtr, log_ndtr, ndtri, erf, erfc, erfcx, erfinv: accurate in both dtypes,
#     tails included, used.
# torch (torch.special):
#   * ndtr: lower tail is wrong -- torch 2.x forms it from 1 + erf, so
#     ndtr(-8) in float64 is off by ~1e13 ulp and ndtr(-20) returns 0 -> fallback.
#   * ndtri_exp: absent -> fallback.
#   * log_ndtr, ndtri, erf, erfc, erfcx, erfinv: accurate (log_ndtr(-40) in float32
#     within an ulp), used.
# JAX (jax.scipy.special):
#   * log_ndtr: upper tail loses digits (log_ndtr(6) in float64 off by ~2.5e8 ulp,
#     log_ndtr(3) in float32 by ~170 ulp) -> fallback.
#   * erfinv: float64 tails lose ~3-4 digits (erfinv(+-(1 - 1e-6)) off by 2e3-6e3 ulp)
#     -> fallback.
#   * ndtri_exp: absent -> fallback.
#   * ndtr, ndtri (ndtri(1e-30) in float32 within an ulp), erf, erfc, erfcx: used.
# CuPy (cupyx.scipy.special): ndtr, ndtri, erf, erfc, erfcx, erfinv call CUDA's
#   own normcdf/normcdfinv/erf* (documented to a few ulps); log_ndtr is built on
#   erfcx for x < -1 and log1p(-erfc/2) above, the same scheme as the fallback.
#   Used (not measured here, no GPU: the cupy cell of the conformance suite checks
#   them against the same mpmath references).  ndtri_exp: none -> fallback.
# log1mexp: no library above ships it; the two-branch fallback is plain
#   elementwise arithmetic and is already the native code on every backend.

_NATIVE_NAMES: dict[str, frozenset[str]] = {
    "numpy": frozenset({"ndtr", "log_ndtr", "ndtri", "erf", "erfc", "erfcx", "erfinv"}),
    "torch": frozenset({"log_ndtr", "ndtri", "erf", "erfc", "erfcx", "erfinv"}),
    "jax": frozenset({"ndtr", "ndtri", "erf", "erfc", "erfcx"}),
    "cupy": frozenset({"ndtr", "log_ndtr", "ndtri", "erf", "erfc", "erfcx", "erfinv"}),
}

_NATIVE_CACHE: dict[tuple[str, str], Callable[[Any], Any] | None] = {}


def _load_native(kind: str, name: str) -> Callable[[Any], Any] | None:
    if name not in _NATIVE_NAMES.get(kind, ()):
        return None
    if kind == "numpy":
        import numpy as np

        try:
            import scipy.special as sps
        except ImportError:  # SciPy is optional: the fallback serves NumPy too
            return None
        f = getattr(sps, name, None)
        if f is None:
            return None

        def run_scipy(x: Any, _f: Any = f) -> Any:
            # SciPy returns NumPy scalars for 0-d input; keep an ndarray of x's dtype.
            return np.asarray(_f(x), dtype=x.dtype)

        return run_scipy
    if kind == "torch":
        import torch

        return getattr(torch.special, name, None)
    if kind == "jax":
        import jax
        import jax.scipy.special as jss

        f = getattr(jss, name, None)
        # Some of these (ndtr, ndtri) are not jitted inside JAX: eagerly they would run
        # op by op, compiling each op anew for every shape.
        return None if f is None else jax.jit(f)
    if kind == "cupy":
        try:
            import cupyx.scipy.special as cps
        except ImportError:  # pragma: no cover - no CuPy here
            return None
        f = getattr(cps, name, None)
        if f is None:  # pragma: no cover
            return None

        def run_cupy(x: Any, _f: Any = f) -> Any:  # pragma: no cover - needs a GPU
            out = _f(x)
            return out if out.dtype == x.dtype else out.astype(x.dtype)

        return run_cupy
    return None


def _native(kind: str, name: str) -> Callable[[Any], Any] | None:
    key = (kind, name)
    if key not in _NATIVE_CACHE:
        _NATIVE_CACHE[key] = _load_native(kind, name)
    return _NATIVE_CACHE[key]


_JAX_FALLBACK: dict[str, Callable[[Any], Any]] = {}


def _jax_fallback(name: str) -> Callable[[Any], Any]:
    """The fallback for JAX arrays, wrapped in ``jax.jit``.

    Eagerly, each of the fallback's few hundred elementwise ops would be dispatched
    (and compiled, per shape) on its own; jitted, XLA fuses them into one kernel.
    Inside a caller's ``jit``/``grad``/``vmap`` trace the inner ``jit`` is inlined.
    """
    f = _JAX_FALLBACK.get(name)
    if f is None:
        import jax
        import jax.numpy as jnp

        fb = _FALLBACK[name]
        f = _JAX_FALLBACK[name] = jax.jit(lambda x: fb(jnp, x))
    return f


def _apply(name: str, x: Any, *, native: bool = True) -> Any:
    """Resolve ``x``'s backend, run the native routine or the fallback, keep the dtype.

    Python scalars and non-floating arrays are promoted to the namespace's default
    floating dtype; float16/bfloat16 are computed in float32 and cast back.
    """
    b = backend_of(x)
    xp = b.xp
    if kind_of(x) is None:
        import numpy as np

        x = xp.asarray(np.asarray(x, dtype=np.float64))
    out_dtype = float_dtype(b, x)
    work = compute_dtype(b, out_dtype)
    if x.dtype != work:
        x = xp.astype(x, work)
    fn = _native(b.kind, name) if native else None
    if fn is not None:
        y = fn(x)
    elif b.kind == "jax":
        y = _jax_fallback(name)(x)
    elif b.kind in ("numpy", "array_api_strict"):
        import numpy as np

        # Untaken xp.where lanes may overflow or divide by zero on the way; every
        # special value is set explicitly, so (like scipy.special) stay silent.
        with np.errstate(all="ignore"):
            y = _FALLBACK[name](xp, x)
    else:
        y = _FALLBACK[name](xp, x)
    if y.dtype != out_dtype:
        y = xp.astype(y, out_dtype)
    return y


# ----------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------


def ndtr(x: Any) -> Any:
    """Standard normal cumulative distribution function.

    ``ndtr(x) = P(Z <= x)`` for ``Z ~ N(0, 1)``, i.e. ``erfc(-x / sqrt(2)) / 2``.

    Parameters
    ----------
    x : array
        Real floating array (float32 or float64; narrower floats are computed in
        float32).  Python scalars give a NumPy float64 array.

    Returns
    -------
    array
        Same namespace, device, shape and dtype as ``x``; relative accuracy holds
        in the lower tail until the result underflows.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import ndtr
    >>> ndtr(np.array([-1.0, 0.0, 1.0])).round(6)
    array([0.158655, 0.5     , 0.841345])
    """
    return _apply("ndtr", x)


def log_ndtr(x: Any) -> Any:
    """Logarithm of the standard normal CDF, accurate in both tails.

    Finite for every finite ``x`` whose ``x**2`` does not overflow (``|x| < ~1e154``
    in float64): ``log_ndtr(-1e4) ~ -5e7`` and ``log_ndtr(10) ~ -7.6e-24``.

    Parameters
    ----------
    x : array
        Real floating array.

    Returns
    -------
    array
        ``log(ndtr(x))`` with the namespace, device and dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import log_ndtr
    >>> log_ndtr(np.array([-40.0, 0.0, 10.0]))
    array([-8.04608442e+02, -6.93147181e-01, -7.61985302e-24])
    """
    return _apply("log_ndtr", x)


def ndtri(p: Any) -> Any:
    """Inverse of the standard normal CDF (the probit, or normal quantile).

    Parameters
    ----------
    p : array
        Probabilities in ``[0, 1]``.  ``ndtri(0) = -inf``, ``ndtri(1) = +inf``;
        outside ``[0, 1]`` the result is NaN.

    Returns
    -------
    array
        ``x`` with ``ndtr(x) = p``; namespace, device and dtype of ``p``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import ndtri
    >>> ndtri(np.array([1e-300, 0.025, 0.5])).round(6)
    array([-37.047096,  -1.959964,   0.      ])
    """
    return _apply("ndtri", p)


def ndtri_exp(y: Any) -> Any:
    """Inverse of :func:`log_ndtr`: ``x`` such that ``log_ndtr(x) = y``.

    Equal to ``ndtri(exp(y))`` but without its underflow for ``y`` far below zero
    (``ndtri_exp(-1e4) ~ -141.38``) or its cancellation as ``y -> 0``
    (``ndtri_exp(-1e-20) ~ 9.26``).

    Parameters
    ----------
    y : array
        Log-probabilities, ``y <= 0``.  ``ndtri_exp(0) = +inf``,
        ``ndtri_exp(-inf) = -inf``; ``y > 0`` gives NaN.

    Returns
    -------
    array
        Namespace, device and dtype of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import ndtri_exp
    >>> ndtri_exp(np.array([-1e4, -1.0, -1e-20]))
    array([-141.37983987,   -0.33747496,    9.26234009])
    """
    return _apply("ndtri_exp", y)


def erf(x: Any) -> Any:
    """Error function ``erf(x) = 2/sqrt(pi) * integral_0^x exp(-t**2) dt``.

    Parameters
    ----------
    x : array
        Real floating array.

    Returns
    -------
    array
        Namespace, device and dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import erf
    >>> erf(np.array([-1.0, 0.0, 0.5])).round(6)
    array([-0.842701,  0.      ,  0.5205  ])
    """
    return _apply("erf", x)


def erfc(x: Any) -> Any:
    """Complementary error function ``erfc(x) = 1 - erf(x)``, accurate for large ``x``.

    Parameters
    ----------
    x : array
        Real floating array.

    Returns
    -------
    array
        Namespace, device and dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import erfc
    >>> erfc(np.array([-1.0, 0.0, 5.0]))
    array([1.84270079e+00, 1.00000000e+00, 1.53745979e-12])
    """
    return _apply("erfc", x)


def erfcx(x: Any) -> Any:
    """Scaled complementary error function ``erfcx(x) = exp(x**2) * erfc(x)``.

    Finite and slowly varying for large positive ``x`` (about
    ``1 / (x sqrt(pi))``); overflows to ``+inf`` for ``x`` below about -26.6
    (float64) or -9.4 (float32), where the true value does too.

    Parameters
    ----------
    x : array
        Real floating array.

    Returns
    -------
    array
        Namespace, device and dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import erfcx
    >>> erfcx(np.array([-1.0, 0.0, 100.0])).round(8)
    array([5.00898008, 1.        , 0.00564161])
    """
    return _apply("erfcx", x)


def erfinv(y: Any) -> Any:
    """Inverse error function: ``x`` with ``erf(x) = y``.

    Parameters
    ----------
    y : array
        Values in ``[-1, 1]``; ``erfinv(+-1) = +-inf`` and NaN outside.

    Returns
    -------
    array
        Namespace, device and dtype of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import erfinv
    >>> erfinv(np.array([-0.5, 0.0, 0.999999])).round(6)
    array([-0.476936,  0.      ,  3.458911])
    """
    return _apply("erfinv", y)


def log1mexp(x: Any) -> Any:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate near 0 and for very negative ``x``.

    Uses ``log(-expm1(x))`` for ``x > -log 2`` and ``log1p(-exp(x))`` below, the split
    that keeps every ``x`` to full relative accuracy.  ``log1mexp(0) = -inf``;
    ``x > 0`` gives NaN.

    Parameters
    ----------
    x : array
        Real floating array, ``x <= 0``.

    Returns
    -------
    array
        Namespace, device and dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from diffsample._lib.special import log1mexp
    >>> log1mexp(np.array([-1e-10, -1.0, -50.0]))
    array([-2.30258509e+01, -4.58675145e-01, -1.92874985e-22])
    """
    return _apply("log1mexp", x)
