"""Truncated distributions that stay right far in the tails, with pathwise gradients.

:class:`TruncatedNormal` and :class:`TruncatedLogistic` restrict a normal or logistic
``(loc, scale)`` to a window ``[low, high]`` (either end may be infinite).
:class:`Truncated` does the same for any base distribution that has ``cdf``,
``log_cdf``, ``icdf`` and ``log_prob``; for a :class:`~diffsample.Normal` or
:class:`~diffsample.distributions.logistic.Logistic` base it *is* the dedicated
implementation.

How it stays accurate
---------------------
Everything is computed on the standardized window ``[alpha, beta] = [(low - loc) /
scale, (high - loc) / scale]``.  Both families are symmetric, so a window whose
midpoint lies right of ``loc`` is mirrored to ``[-beta, -alpha]`` (the survival
function of the original window is the CDF of the mirrored one); all CDF work is
then done left of the centre, where ``log F`` has full relative accuracy however
small ``F`` is.  With ``a < b`` the mirrored window:

* ``D = log F(a) - log F(b)`` is formed without cancellation: for the normal as
  ``-(a - b)(a + b)/2 + R(a) - R(b)`` with ``R(t) = log(erfcx(-t/sqrt2)/2)`` when
  ``b <= 0``; for the logistic as ``(a - b) - (softplus(a) - softplus(b))``;
* ``log Z = log F(b) + log(1 - exp(D))`` (``log1mexp``);
* a draw solves ``log F(z) = log F(b) + logaddexp(log v, log1p(-v) + D)`` in log
  space, or, where ``F(b)`` is far from underflow, the cheaper
  ``F(z) = F(a) + v Z`` with the ordinary quantile (``ndtri``, ``logit``); the
  result is clipped into ``[a, b]`` and the final ``x`` into ``[low, high]``.  The
  log-space inverse is ``y - log1mexp(y)`` for the logistic; for the normal (only
  used where ``b < -10``) two Newton steps on the offset from ``b``, whose residual
  needs only the inverse Mills ratio's rational approximation
  (:meth:`_NormalFamily.far_tail`), so no ``erfcx``/``ndtri_exp`` per draw.

Sampling the normal by rejection
--------------------------------
The inverse CDF is what JAX (under ``jit``), the portable stream and small calls
use.  On NumPy and torch (CPU), with concrete parameters, :class:`TruncatedNormal`
draws of at least 4096 values per call come instead from exact rejection sampling
with the native generator (:func:`_rejection_draws`): standard normal candidates
kept when inside the window (folded onto one side for one-sided windows), or
Marsaglia's exponential tail method beyond the bulk.  One finite window (float64) with
at least 65536 draws per call is sampled instead from a table of 4096 strips of equal
mass under boxes of equal area (:func:`_strip_plan`): one uniform per draw picks the
box and, for most draws (99.3% on ``[-1, 2]``, 90% at least wherever it is used), is
also the position (three table look-ups and one multiply-add); narrow windows away from
the centre, where normal candidates are rarely inside, are covered too.  Windows where
no proposal accepts enough candidates keep the inverse CDF.  The draws have exactly
the same distribution, and the gradient is the same function of the draw
(:func:`_reparam`), but they are other numbers than ``icdf(u)``.

Gradients (implicit reparameterization)
---------------------------------------
A draw ``x`` solves ``F_T(x; theta) = u`` for the truncated CDF ``F_T``, so
``dx/dtheta = -(dF_T/dtheta) / f_T(x)``.  With ``zeta = (x - loc)/scale`` and ``f``
the standard density this is

* ``dx/dlow  = (1 - u) f(alpha) / f(zeta)``,
* ``dx/dhigh = u f(beta) / f(zeta)``,
* ``dx/dloc  = 1 - dx/dlow - dx/dhigh``,
* ``dx/dscale = zeta - alpha dx/dlow - beta dx/dhigh``,

and each density ratio is ``exp(log f(alpha) - log f(zeta))`` with the exponent
formed as ``-(alpha - zeta)(alpha + zeta)/2`` (normal) so it is finite in float32
far in the tails.  ``Z`` does not appear at all.

Moments
-------
``mean``, ``variance`` and ``entropy`` come from 80-point composite Gauss-Legendre
quadrature of the density *relative to its largest value in the window* (at the end of the
mirrored window nearest the centre, or at the centre when the window contains it),
measured as a distance from that point.  The variance is then a centred second
moment of a quantity of the size of the spread, so nothing cancels: it is right to
~1e-13 relative in float64 on ``[8, inf)``, ``[100, 101]`` and ``[-10001, -10000]``
alike, where the textbook closed form ``1 + (a f(a) - b f(b))/Z - m**2`` loses every
digit.  Their gradients use the exact boundary identities
``dE[g]/dalpha = f(alpha)/Z (E[g] - g(alpha))`` and
``dE[g]/dbeta = f(beta)/Z (g(beta) - E[g])``.

For any other base, :class:`Truncated` integrates in probability space instead (its
class notes say how), with the same ~1e-13 accuracy where the window is not far from 0
relative to its width.

Gradients depend only on the draw and the parameters (``u`` is ``F_T(x)``), so draws
made by rejection carry the same gradients through :func:`_reparam`, which recovers
``log u`` and ``log(1 - u)`` from ``x``.

Backends
--------
Whether a batch needs the log-space inversion is known from the parameters alone:
with concrete values a Python branch runs only the path needed, under ``jax.jit`` a
``lax.switch`` does (see :func:`_select`), elsewhere both run under ``where``.  On JAX
arrays the forwards and VJPs are wrapped in ``jax.jit`` (:func:`_jax_jit`), so eager
calls run one fused kernel instead of a few hundred separately dispatched operations.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

from .._lib import special
from .._lib.namespace import asarray, backend_of, compute_dtype, float_dtype, is_concrete, kind_of
from .._lib.ops import quiet as _quiet
from .._lib.ops import inplace, quiet_numpy, stop_gradient
from .._lib.validate import broadcast_shape, broadcast_shapes, check_finite, check_not_nan, check_positive, shape_of
from ..autodiff import primitive
from ..random.keys import resolve_source, split
from ..random.streams import current_stream, draw
from .base import Distribution, LocationScale, _full
from .exponential import Exponential
from .logistic import (
    Logistic,
    _dpsi as _logistic_dpsi,
    _psi as _logistic_psi,
    _softplus,
    _std_cdf as _logistic_cdf,
    _std_log_cdf as _logistic_log_cdf,
    _std_log_pdf as _logistic_log_pdf,
    _std_logit,
)
from .normal import Normal
from .uniform import Uniform

__all__ = ["TruncatedNormal", "TruncatedLogistic", "Truncated"]

_INF = math.inf
_NAN = math.nan
_LOG2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT1_2 = math.sqrt(0.5)

# Composite Gauss-Legendre rule on [0, 1] for the moment integrals: 16 nodes on each
# of the geometric panels [0, 1/16], [1/16, 1/8], ..., [1/2, 1].  Short panels near 0,
# where the density is largest, keep the logistic's complex poles (a distance pi from
# the real axis) far from every panel relative to its length.
_GL_EDGES = (0.0, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0 / 2, 1.0)


def _leggauss(n: int) -> tuple[list[float], list[float]]:
    """Gauss-Legendre nodes and weights on [-1, 1] (Newton on the three-term recurrence,
    in plain Python so that importing diffsample does not import NumPy)."""
    xs, ws = [], []
    for i in range(1, n + 1):
        x = math.cos(math.pi * (i - 0.25) / (n + 0.5))
        for _ in range(100):
            p0, p1 = 1.0, x
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
            dp = n * (x * p1 - p0) / (x * x - 1.0)
            step = p1 / dp
            x -= step
            if abs(step) < 1e-16:
                break
        xs.append(x)
        ws.append(2.0 / ((1.0 - x * x) * dp * dp))
    return xs[::-1], ws[::-1]


def _composite_rule() -> tuple[list[float], list[float]]:
    x, w = _leggauss(16)
    rs: list[float] = []
    ws: list[float] = []
    for lo, hi in zip(_GL_EDGES[:-1], _GL_EDGES[1:]):
        rs += [lo + (hi - lo) * 0.5 * (xi + 1.0) for xi in x]
        ws += [(hi - lo) * 0.5 * wi for wi in w]
    return rs, ws


_GL_R, _GL_W = _composite_rule()
# The quadrature stops where the density has fallen by exp(-40) from its maximum.
_QUAD_DROP = 40.0


def _where_inf(xp: Any, cond: Any, value: float, x: Any) -> Any:
    return xp.where(cond, _full(xp, x, value), x)


def _jax_jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn(xp, *arrays, **static)`` through ``jax.jit`` when given JAX arrays.

    Called eagerly, JAX dispatches (and compiles, per shape) each of the few hundred
    elementwise operations of these forwards and VJPs one at a time; jitted, XLA
    fuses them into one kernel.  Inside a caller's ``jit``/``grad``/``vmap`` trace the
    inner ``jit`` is inlined.  Other backends call ``fn`` directly.
    """
    cache: dict[tuple, Any] = {}

    @functools.wraps(fn)
    def wrapped(xp: Any, *args: Any, **static: Any) -> Any:
        first = args[0]
        if isinstance(first, tuple):
            first = first[0]
        if kind_of(first) != "jax":
            return fn(xp, *args, **static)
        key = tuple(sorted(static.items()))
        f = cache.get(key)
        if f is None:
            import jax

            f = cache[key] = jax.jit(functools.partial(_call_static, fn, xp, key))
        return f(*args)

    return wrapped


def _call_static(fn: Callable[..., Any], xp: Any, key: tuple, *args: Any) -> Any:
    return fn(xp, *args, **dict(key))


# ----------------------------------------------------------------------------------
# The two standardized families.  Every function takes the namespace and arrays of
# standardized values; t <= q (and the like) is the caller's promise where stated.
# ----------------------------------------------------------------------------------
class _NormalFamily:
    name = "normal"

    @staticmethod
    def lf(xp: Any, t: Any) -> Any:
        return -0.5 * (t * t) - _LOG_SQRT_2PI

    @staticmethod
    def psi(xp: Any, t: Any) -> Any:
        return -t

    @staticmethod
    def dpsi(xp: Any, t: Any) -> Any:
        return _full(xp, t, -1.0)

    @staticmethod
    def lf_diff(xp: Any, t: Any, c: Any, d: Any = None) -> Any:
        """``log f(t) - log f(c)`` as ``-(t - c)(t + c)/2``: no cancellation.

        ``d``, when given, is ``t - c`` formed more accurately by the caller (from
        unstandardized values).  The same convention holds below.
        """
        d = t - c if d is None else d
        return -0.5 * (d * (t + c))

    @staticmethod
    def lF(xp: Any, t: Any) -> Any:
        return special.log_ndtr(t)

    @staticmethod
    def _R(xp: Any, t: Any) -> Any:
        """``log Phi(t) + t**2/2 = log(erfcx(-t/sqrt2)/2)`` for ``t <= 0`` (slowly varying)."""
        return xp.log(0.5 * special.erfcx(-_SQRT1_2 * xp.minimum(t, xp.zeros_like(t))))

    @classmethod
    def lF_diff(cls, xp: Any, p: Any, q: Any, d: Any = None) -> Any:
        """``log Phi(p) - log Phi(q)`` for ``p <= q``; ``-inf`` where ``p = -inf``."""
        d = p - q if d is None else d
        tail = -0.5 * (d * (p + q)) + cls._R(xp, p) - cls._R(xp, q)
        direct = cls.lF(xp, p) - cls.lF(xp, q)
        out = xp.where(q <= 0, tail, direct)
        return _where_inf(xp, p == -_INF, -_INF, out)

    @classmethod
    def lf_minus_lF(cls, xp: Any, t: Any, q: Any, d: Any = None) -> Any:
        """``log phi(t) - log Phi(q)``, accurate when both are huge and negative."""
        d = t - q if d is None else d
        tail = -0.5 * (d * (t + q)) - _LOG_SQRT_2PI - cls._R(xp, q)
        direct = cls.lf(xp, t) - cls.lF(xp, q)
        return xp.where(q <= 0, tail, direct)

    @staticmethod
    def inv_lF(xp: Any, y: Any) -> Any:
        return special.ndtri_exp(y)

    @staticmethod
    def far_tail(xp: Any, b: Any, D: Any, flip: Any, u: Any) -> Any:
        """Offset ``z - b <= 0`` of the draw with truncated CDF ``u`` in a mirrored
        window ``[a, b]`` far out (``b < -10``; where ``log Phi(b)`` is below
        :func:`_prob_threshold`).

        With ``s = -b``, ``t = -z = s + d`` and ``v = u`` (``1 - u`` where mirrored),
        ``d`` solves ``E = H(d)`` for ``E = -log(v + (1 - v) exp(D)) >= 0`` (formed
        without cancellation for ``v`` near 0 and near 1) and
        ``H(d) = log Phi(-s) - log Phi(-t) = d (s + d/2) + log(m(t)/m(s))``, ``m`` the
        inverse Mills ratio ``phi/Phi(-.)``.  ``H'(d) = m(t)``, so Newton's method is
        exact; it starts from the root of ``d m(s) + d**2/2 = E`` (relative error below
        ``d/(2 s**3)``), and one step (float32) or two (float64) reach a few ulps
        (against mpmath for ``s`` from 10.6 (float32) or 35.9 (float64) to 1e5 and
        ``E`` from 1e-3 to 88 or 708; a second float32 step changes nothing).  Very close to the
        near end (``E`` below ~1e-3) the error is instead ~``eps/s**3`` absolute in
        ``d``, far below the spacing ``~eps/s`` that the uniform's resolution gives
        draws there.  Everything is polynomial arithmetic plus one ``log``, one
        ``sqrt`` and three ``log1p`` per draw (:func:`special.inv_mills_excess`).
        """
        s = xp.maximum(-b, _full(xp, b, 8.0))  # lanes not taken keep a finite stand-in
        eD = xp.exp(D)
        q = -xp.expm1(D)  # Z / Phi(b)
        # v + (1 - v) exp(D) = exp(D) + q v = 1 - q (1 - v): the first form where v
        # < 1/2 (a sum of two positive terms, and v is exact there), log1p of the
        # second where 1 - v <= 1/2 is exact; the smaller of u, 1 - u is exact.
        v = xp.where(flip, 1.0 - u, u)
        vc = xp.where(flip, u, 1.0 - u)
        E = xp.where(v < 0.5, -xp.log(eD + q * v), -xp.log1p(-(q * vc)))
        E = xp.maximum(E, xp.zeros_like(E))
        rs = special.inv_mills_excess(xp, s)
        ms = s + rs
        ims = 1.0 / ms
        e2 = E + E
        d = e2 / (ms + ms * xp.sqrt(1.0 + (e2 * ims) * ims))
        for _ in range(1 if u.dtype == xp.float32 else 2):
            t = s + d
            r = special.inv_mills_excess(xp, t)
            H = d * (s + 0.5 * d) + xp.log1p((d + (r - rs)) * ims) - E
            d = d - H / (t + r)
        return -d

    @staticmethod
    def F(xp: Any, t: Any) -> Any:
        return special.ndtr(t)

    @staticmethod
    def inv_F(xp: Any, p: Any) -> Any:
        return special.ndtri(p)

    @staticmethod
    def piece_logq(xp: Any, c: Any, e: Any) -> Any:
        """``log f(c - e) - log f(c)`` for ``c <= 0``, ``e >= 0``: ``c e - e**2/2``."""
        return e * (c - 0.5 * e)

    @staticmethod
    def emax(xp: Any, c: Any) -> Any:
        """Distance from ``c <= 0`` at which ``f(c - e)/f(c)`` drops below ``exp(-40)``."""
        t = -c
        return (2.0 * _QUAD_DROP) / (t + xp.hypot(t, _full(xp, t, math.sqrt(2.0 * _QUAD_DROP))))


class _LogisticFamily:
    name = "logistic"

    @staticmethod
    def lf(xp: Any, t: Any) -> Any:
        return _logistic_log_pdf(xp, t)

    @staticmethod
    def psi(xp: Any, t: Any) -> Any:
        return _logistic_psi(xp, t)

    @staticmethod
    def dpsi(xp: Any, t: Any) -> Any:
        return _logistic_dpsi(xp, t)

    @staticmethod
    def lf_diff(xp: Any, t: Any, c: Any, d: Any = None) -> Any:
        at, ac = xp.abs(t), xp.abs(c)
        gap = ac - at
        if d is not None:  # |c| - |t| = -(t - c) or (t - c) when t, c share a sign
            zero = xp.zeros_like(gap)
            gap = xp.where((t >= 0) & (c >= 0), zero - d, xp.where((t <= 0) & (c <= 0), zero + d, gap))
        return gap - 2.0 * (xp.log1p(xp.exp(-at)) - xp.log1p(xp.exp(-ac)))

    @staticmethod
    def lF(xp: Any, t: Any) -> Any:
        return _logistic_log_cdf(xp, t)

    @staticmethod
    def lF_diff(xp: Any, p: Any, q: Any, d: Any = None) -> Any:
        # log F(t) = t - softplus(t): the large parts subtract exactly.
        d = p - q if d is None else d
        out = d - (_softplus(xp, p) - _softplus(xp, q))
        out = xp.where(q == _INF, _logistic_log_cdf(xp, p), out)
        return _where_inf(xp, p == -_INF, -_INF, out)

    @staticmethod
    def lf_minus_lF(xp: Any, t: Any, q: Any, d: Any = None) -> Any:
        # log f(t) = t - 2 softplus(t) and log F(q) = q - softplus(q).
        d = t - q if d is None else d
        tail = d - 2.0 * _softplus(xp, t) + _softplus(xp, q)
        direct = _logistic_log_pdf(xp, t) + _softplus(xp, -q)
        out = xp.where(q <= 0, tail, direct)
        return _where_inf(xp, t == -_INF, -_INF, out)

    @staticmethod
    def inv_lF(xp: Any, y: Any) -> Any:
        # logit(exp(y)) = y - log(1 - exp(y)).
        return y - special.log1mexp(y)

    @staticmethod
    def F(xp: Any, t: Any) -> Any:
        return _logistic_cdf(xp, t)

    @staticmethod
    def inv_F(xp: Any, p: Any) -> Any:
        return _std_logit(xp, p)

    @staticmethod
    def piece_logq(xp: Any, c: Any, e: Any) -> Any:
        return -e - 2.0 * (xp.log1p(xp.exp(c - e)) - xp.log1p(xp.exp(c)))

    @staticmethod
    def emax(xp: Any, c: Any) -> Any:
        # log f(c - e) - log f(c) <= -e + 2 log 2 for c <= 0.
        return _full(xp, c, _QUAD_DROP + 2.0 * math.log(2.0))


_FAMILIES = {"normal": _NormalFamily, "logistic": _LogisticFamily}


# ----------------------------------------------------------------------------------
# The window: everything about [low, high] that does not depend on x
# ----------------------------------------------------------------------------------
class _Window:
    """Standardized window, its mirror image and log-space normalizer."""

    def __init__(self, xp: Any, fam: Any, loc: Any, scale: Any, low: Any, high: Any) -> None:
        alpha = (low - loc) / scale
        beta = (high - loc) / scale
        # Mirror windows right of the centre (NaN for (-inf, inf): no mirror).
        flip = (alpha + beta) > 0
        a = xp.where(flip, -beta, alpha)
        b = xp.where(flip, -alpha, beta)
        # Differences are formed from the unstandardized values: (high - low)/scale
        # keeps its digits even when loc is far from a narrow window.
        neg_w = (low - high) / scale  # a - b
        zero = xp.zeros_like(alpha)
        lb = fam.lF(xp, b)
        D = xp.minimum(fam.lF_diff(xp, a, b, neg_w), zero)  # log F(a) - log F(b) <= 0
        l1mD = special.log1mexp(D)  # log(Z / F(b))
        # log f(bound) - log Z for the two ends of the mirrored window.
        lra_m = fam.lf_minus_lF(xp, a, b, neg_w) - l1mD
        lrb_m = fam.lf_minus_lF(xp, b, b, zero) - l1mD
        lrb_m = _where_inf(xp, b == _INF, -_INF, lrb_m)
        fa, fb = xp.isfinite(alpha), xp.isfinite(beta)
        self.lra = _where_inf(xp, ~fa, -_INF, xp.where(flip, lrb_m, lra_m))
        self.lrb = _where_inf(xp, ~fb, -_INF, xp.where(flip, lra_m, lrb_m))
        self.ra = xp.exp(self.lra)  # f(alpha) / Z, 0 for an infinite end
        self.rb = xp.exp(self.lrb)
        self.alpha_s = xp.where(fa, alpha, zero)  # finite stand-ins: multiply ra / rb = 0
        self.beta_s = xp.where(fb, beta, zero)
        self.alpha, self.beta, self.flip, self.a, self.b = alpha, beta, flip, a, b
        self.lb, self.D, self.l1mD, self.neg_w = lb, D, l1mD, neg_w
        self.loc, self.scale, self.low, self.high = loc, scale, low, high

    def offsets(self, xp: Any, x: Any) -> tuple:
        """``(zl, zl - b, zl - a)`` for points ``x``: standardized, mirrored, and their
        distances to the mirrored window's ends formed from unstandardized values."""
        flip, s = self.flip, self.scale
        zl = xp.where(flip, self.loc - x, x - self.loc) / s
        dzb = xp.where(flip, self.low - x, x - self.high) / s
        dza = xp.where(flip, self.high - x, x - self.low) / s
        return zl, dzb, dza

    def lf_minus_logZ(self, xp: Any, fam: Any, x: Any) -> Any:
        """``log f(z) - log Z`` at points ``x`` (``z = (x - loc)/scale``)."""
        zl, dzb, _ = self.offsets(xp, x)
        return fam.lf_minus_lF(xp, zl, self.b, dzb) - self.l1mD


def _prob_threshold(xp: Any, dtype: Any) -> float:
    """Smallest ``log F(b)`` for which sampling in probability space keeps full accuracy.

    There ``F(b)`` is ``exp(60)`` (float32) or ``exp(58)`` (float64) times the
    smallest normal number, so ``F(a) + v Z`` never leaves the normal range for any
    draw the uniform generators produce.
    """
    return -60.0 if dtype == xp.float32 else -650.0


def _select(xp: Any, pred: Any, f_true: Callable[[], Any], f_false: Callable[[], Any]) -> Any:
    """``where(pred, f_true(), f_false())``, computing only the branch(es) needed.

    With concrete values a Python branch skips a branch nobody needs; under
    ``jax.jit`` a ``lax.switch`` on ``all(pred)``/``any(pred)`` does the same at run
    time; elsewhere (``torch.func``, ``torch.compile``) both are computed.
    """
    if is_concrete(pred):
        if bool(xp.all(pred)):
            return f_true()
        if not bool(xp.any(pred)):
            return f_false()
        return xp.where(pred, f_true(), f_false())
    if kind_of(pred) == "jax":
        import jax

        # 0: every lane needs f_true, 1: none does, 2: a mix (both, then where).
        # (Under vmap with a batched predicate JAX runs every branch anyway.)
        idx = xp.where(xp.all(pred), 0, xp.where(xp.any(pred), 2, 1))
        return jax.lax.switch(idx, (f_true, f_false, lambda: xp.where(pred, f_true(), f_false())))
    return xp.where(pred, f_true(), f_false())


def _quantile(xp: Any, fam: Any, loc: Any, scale: Any, low: Any, high: Any, u: Any) -> Any:
    """The draw ``x`` in ``[low, high]`` with truncated CDF ``F_T(x) = u``.

    Work is done in the mirrored window ``[a, b]`` with ``v = 1 - u`` where the
    window was mirrored; batch-shaped coefficients are folded first so that few
    operations touch every draw (this is the sampler's inner loop).
    """
    W = _Window(xp, fam, loc, scale, low, high)
    thr = _prob_threshold(xp, u.dtype)
    lb, D, flip, b = W.lb, W.D, W.flip, W.b
    zero = xp.zeros_like(lb)
    # Draws are returned as offsets from the mirrored window's upper end b (from 0
    # where b = inf), then mapped back from the matching end of [low, high]:
    # x = x_ref + sign * scale * delta keeps the digits of a narrow window far from loc.
    fin_b = xp.isfinite(b)
    b_ref = xp.where(fin_b, b, zero)
    x_ref = xp.where(fin_b, xp.where(flip, low + zero, high + zero), loc + zero)

    def prob() -> Any:
        # F(z) = F(a) + v Z, i.e. F(a) + u Z, or F(b) - u Z where mirrored.
        Fb = xp.exp(lb)
        Z = Fb * (-xp.expm1(D))
        A = xp.where(flip, Fb, Fb * xp.exp(D))
        B = xp.where(flip, -Z, Z)
        return fam.inv_F(xp, A + B * u) - b_ref

    def logspace() -> Any:
        lu, l1u = xp.log(u), xp.log1p(-u)
        lv, l1v = xp.where(flip, l1u, lu), xp.where(flip, lu, l1u)
        L = xp.logaddexp(lv, l1v + D)  # target log F(z) - log F(b)
        z0 = fam.inv_lF(xp, lb + L)
        # One Newton step on the offset: log F(b + delta) - log F(b) = L, with the
        # left side formed from delta itself (so it is exact to rounding even where
        # b is so large that b + delta loses digits).
        delta = z0 - b_ref
        resid = fam.lF_diff(xp, z0, b_ref, delta) - L
        slope = xp.exp(fam.lf_minus_lF(xp, z0, z0, xp.zeros_like(z0)))  # f(z) / F(z)
        return delta - resid / slope

    far = getattr(fam, "far_tail", None)
    tail = logspace if far is None else (lambda: far(xp, b, D, flip, u))
    delta = _select(xp, lb > thr, prob, tail)
    delta = xp.minimum(xp.maximum(delta, xp.where(fin_b, W.neg_w, W.a)), xp.where(fin_b, zero, b))
    signed_scale = xp.where(flip, zero - scale, zero + scale)
    x = x_ref + signed_scale * delta
    return xp.minimum(xp.maximum(x, low), high)


def _quantile_partials(xp: Any, fam: Any, loc: Any, scale: Any, low: Any, high: Any, u: Any, out: Any) -> tuple:
    """``(dx/dloc, dx/dscale, dx/dlow, dx/dhigh)`` at a draw ``out`` with ``F_T(out) = u``."""
    return _partials(xp, fam, loc, scale, low, high, xp.log(u), xp.log1p(-u), out)


def _partials(xp: Any, fam: Any, loc: Any, scale: Any, low: Any, high: Any, lu: Any, l1u: Any, out: Any) -> tuple:
    """As :func:`_quantile_partials`, from ``lu = log u`` and ``l1u = log(1 - u)``."""
    alpha = (low - loc) / scale
    beta = (high - loc) / scale
    zeta = (out - loc) / scale
    fa, fb = xp.isfinite(alpha), xp.isfinite(beta)
    zero = xp.zeros_like(zeta)
    a_s, b_s = xp.where(fa, alpha, zero), xp.where(fb, beta, zero)
    # zeta - alpha and zeta - beta from unstandardized values (exact-ish however far loc is).
    za = xp.where(fa, (out - low) / scale, zero)
    zb = xp.where(fb, (out - high) / scale, zero)
    # (1 - u) f(alpha)/f(zeta) and u f(beta)/f(zeta), one exp each (no overflow).
    r_lo = xp.exp(l1u + fam.lf_diff(xp, a_s, zeta, -za))
    r_hi = xp.exp(lu + fam.lf_diff(xp, b_s, zeta, -zb))
    r_lo = xp.where(fa, r_lo, zero)
    r_hi = xp.where(fb, r_hi, zero)
    d_loc = 1.0 - r_lo - r_hi
    # zeta - alpha r_lo - beta r_hi, rearranged so that no large terms cancel.
    d_scale = zeta * d_loc + za * r_lo + zb * r_hi
    return d_loc, d_scale, r_lo, r_hi, zeta


# Registered examples (for the finite-difference self-check): ten windows in
# standardized units -- bulk, one-sided left and right, the whole line, two-sided in
# the right tail, and five far out in both tails -- with a point inside each.  One
# shape, (10,), so that JAX compiles each computation once.
_EXAMPLE_WINDOWS = {
    "all": (
        [-1.5, -_INF, 0.5, -_INF, 2.5, 8.0, 30.0, -31.0, -9.5, 12.0],
        [0.5, 1.2, _INF, _INF, 6.0, 9.0, 31.5, -30.0, -8.7, _INF],
        [-0.2, 0.3, 1.5, -0.4, 3.1, 8.4, 30.9, -30.6, -9.1, 12.05],
    ),
}
_KINDS = tuple(_EXAMPLE_WINDOWS)


def _trunc_params(rng: Any, kind: str) -> tuple:
    import numpy as np

    lo_z, hi_z, _ = (np.array(v) for v in _EXAMPLE_WINDOWS[kind])
    loc = rng.normal(size=lo_z.size)
    scale = rng.uniform(0.5, 2.0, size=lo_z.size)
    with quiet_numpy():
        return loc, scale, loc + scale * lo_z, loc + scale * hi_z


def _example_point(rng: Any, kind: str) -> tuple:
    """``(x, loc, scale, low, high)`` with ``x`` inside each window."""
    import numpy as np

    loc, scale, low, high = _trunc_params(rng, kind)
    return (loc + scale * np.array(_EXAMPLE_WINDOWS[kind][2]), loc, scale, low, high)


# ----------------------------------------------------------------------- rsample
@primitive(name="truncated.rsample", nondiff=(4,))
@_quiet
@_jax_jit
def _rsample(xp: Any, loc: Any, scale: Any, low: Any, high: Any, u: Any, family: str = "normal") -> Any:
    return _quantile(xp, _FAMILIES[family], loc, scale, low, high, _open_unit(xp, u))


def _open_unit(xp: Any, u: Any) -> Any:
    """``u`` clamped into the open interval (0, 1) of its (compute) dtype.

    A no-op for the noise the samplers draw in float32/float64; with float16/bfloat16
    parameters the primitive receives the noise rounded to that dtype, where 0 and 1
    occur, and would otherwise give infinite draws on an unbounded side.
    """
    fi = xp.finfo(u.dtype)
    return xp.clip(u, min=float(fi.smallest_normal), max=1.0 - float(fi.eps) / 2)


@_rsample.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    loc, scale, low, high, u = inputs
    u = _open_unit(xp, u)
    d_loc, d_scale, d_low, d_high, _ = _quantile_partials(xp, _FAMILIES[family], loc, scale, low, high, u, out)
    return g * d_loc, g * d_scale, g * d_low, g * d_high, None


for _fam in ("normal", "logistic"):
    for _kind in _KINDS:
        _rsample.example(
            (lambda fam, kind: lambda rng: ((*_trunc_params(rng, kind), rng.uniform(0.05, 0.95, size=(3, 10))), {"family": fam}))(
                _fam, _kind
            )
        )


# -------------------------------------------------------------- draws made elsewhere
@primitive(name="truncated.reparam", nondiff=(4,))
def _reparam(xp: Any, loc: Any, scale: Any, low: Any, high: Any, x: Any, family: str = "normal") -> Any:
    """The draws ``x`` of an exact sampler (made without gradient), with the implicit
    reparameterization gradient attached.

    The value is ``x`` itself.  The VJP is :func:`_rsample`'s with the uniform
    recovered from the draw: ``u = F_T(x)``, taken as the pair ``log u``,
    ``log(1 - u)`` so that both partials keep their relative accuracy at either end
    of the window.  The gradient depends only on ``x`` and the parameters, so it is
    the same whichever exact sampler produced ``x``.  No example is registered for
    the finite-difference self-check (the value does not move with the parameters);
    ``tests/test_truncated.py`` checks this VJP against :func:`_rsample`'s at
    ``x = icdf(u)``.
    """
    return x[...]  # a view, not the input itself (torch.func cannot save an input returned as-is)


@_reparam.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    loc, scale, low, high, _ = inputs
    fam = _FAMILIES[family]
    lu, l1u = _log_cdf_pair(xp, fam, _Window(xp, fam, loc, scale, low, high), out)
    d_loc, d_scale, d_low, d_high, _ = _partials(xp, fam, loc, scale, low, high, lu, l1u, out)
    return g * d_loc, g * d_scale, g * d_low, g * d_high, None


# -------------------------------------------------------------------------- icdf
@primitive(name="truncated.icdf")
@_quiet
@_jax_jit
def _icdf(xp: Any, p: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal") -> Any:
    x = _quantile(xp, _FAMILIES[family], loc, scale, low, high, p)
    zero = xp.zeros_like(x)
    # The ends exactly (loc + scale * (low - loc) / scale may differ from low by an ulp).
    return xp.where(p == 0, low + zero, xp.where(p == 1, high + zero, x))


@_icdf.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    p, loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    d_loc, d_scale, d_low, d_high, zeta = _quantile_partials(xp, fam, loc, scale, low, high, p, out)
    W = _Window(xp, fam, loc, scale, low, high)
    d_p = scale * xp.exp(-W.lf_minus_logZ(xp, fam, out))  # 1 / f_T(x)
    return g * d_p, g * d_loc, g * d_scale, g * d_low, g * d_high


for _fam in ("normal", "logistic"):
    for _kind in _KINDS:
        _icdf.example(
            (lambda fam, kind: lambda rng: ((rng.uniform(0.05, 0.95, size=10), *_trunc_params(rng, kind)), {"family": fam}))(
                _fam, _kind
            )
        )


# ---------------------------------------------------------------------- log_prob
def _inside(xp: Any, x: Any, low: Any, high: Any) -> Any:
    return (x >= low) & (x <= high)


@primitive(name="truncated.log_prob")
@_quiet
@_jax_jit
def _log_prob(xp: Any, x: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal") -> Any:
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    lp = W.lf_minus_logZ(xp, fam, x) - xp.log(scale)
    return _where_inf(xp, ~_inside(xp, x, low, high), -_INF, lp)


def _score_terms(xp: Any, fam: Any, x: Any, loc: Any, scale: Any, low: Any, high: Any) -> tuple:
    W = _Window(xp, fam, loc, scale, low, high)
    z = (x - loc) / scale
    inside = _inside(xp, x, low, high)
    return W, z, inside


def _scores(xp: Any, fam: Any, W: _Window, z: Any, scale: Any) -> dict:
    """``d log_prob / d(loc, scale, low, high)`` inside the window."""
    psi = fam.psi(xp, z)
    ra, rb = W.ra, W.rb
    t1 = ra - rb
    t2 = W.alpha_s * ra - W.beta_s * rb
    return {
        "loc": -(psi + t1) / scale,
        "scale": -(1.0 + z * psi + t2) / scale,
        "low": ra / scale + xp.zeros_like(z),
        "high": -rb / scale + xp.zeros_like(z),
    }


@_log_prob.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    x, loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    W, z, inside = _score_terms(xp, fam, x, loc, scale, low, high)
    s = _scores(xp, fam, W, z, scale)
    zero = xp.zeros_like(out)
    gi = xp.where(inside, g, zero)
    gx = gi * fam.psi(xp, z) / scale
    return gx, gi * s["loc"], gi * s["scale"], gi * s["low"], gi * s["high"]


def _example_x(family: str, kind: str, **extra: Any) -> Callable[[Any], tuple]:
    def make(rng: Any) -> tuple:
        return _example_point(rng, kind), {"family": family, **extra}

    return make


for _fam in ("normal", "logistic"):
    for _kind in _KINDS:
        _log_prob.example(_example_x(_fam, _kind))


# ------------------------------------------------------------------ cdf, log_cdf
def _log_cdf_pair(xp: Any, fam: Any, W: _Window, x: Any, both: bool = True) -> tuple:
    """``(log F_T(x), log(1 - F_T(x)))``, each to full relative accuracy (the second
    is ``None`` unless ``both``)."""
    xc = xp.minimum(xp.maximum(x, W.low), W.high)
    zl, dzb, dza = W.offsets(xp, xc)
    zero = xp.zeros_like(zl)
    d1 = xp.minimum(fam.lF_diff(xp, zl, W.b, dzb), zero)  # log F(zl) - log F(b)
    d2 = xp.minimum(fam.lF_diff(xp, W.a, zl, zero - dza), zero)  # log F(a) - log F(zl)
    log_g = d1 + special.log1mexp(d2) - W.l1mD  # mirrored window's CDF
    log_1mg = special.log1mexp(d1) - W.l1mD  # ... and its complement
    lo = xp.minimum(xp.where(W.flip, log_1mg, log_g), zero)
    # The ends exactly (a compiler may evaluate the two halves' rounding differently).
    above, below = x >= W.high, x <= W.low
    lo = xp.where(above, zero, _where_inf(xp, below, -_INF, lo))
    if not both:
        return lo, None
    hi = xp.minimum(xp.where(W.flip, log_g, log_1mg), zero)
    return lo, xp.where(below, zero, _where_inf(xp, above, -_INF, hi))


def _log_cdf_value(xp: Any, fam: Any, W: _Window, x: Any) -> Any:
    return _log_cdf_pair(xp, fam, W, x, both=False)[0]


@primitive(name="truncated.log_cdf")
@_quiet
@_jax_jit
def _log_cdf(xp: Any, x: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal") -> Any:
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    return _log_cdf_value(xp, fam, W, x)


def _cdf_chain(xp: Any, d_z: Any, d_a: Any, d_b: Any, W: _Window, z: Any, scale: Any, mask: Any) -> tuple:
    """Chain partials w.r.t. (z, alpha, beta) to (x, loc, scale, low, high), zero off ``mask``."""
    zero = xp.zeros_like(d_z)
    d_z, d_a, d_b = (xp.where(mask, d, zero) for d in (d_z, d_a, d_b))
    return (
        d_z / scale,
        -(d_z + d_a + d_b) / scale,
        -(z * d_z + W.alpha_s * d_a + W.beta_s * d_b) / scale,
        d_a / scale,
        d_b / scale,
    )


@_log_cdf.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    x, loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    z = (x - loc) / scale
    lrz = W.lf_minus_logZ(xp, fam, x)
    # d log F_T / dz = f_T / F_T; d/dalpha = ra (1 - 1/F_T); d/dbeta = -rb.
    d_z = xp.exp(lrz - out)
    d_a = -W.ra * xp.expm1(-out)
    d_b = -W.rb + xp.zeros_like(out)
    mask = _inside(xp, x, low, high) & (out > -_INF)
    return tuple(g * d for d in _cdf_chain(xp, d_z, d_a, d_b, W, z, scale, mask))


@primitive(name="truncated.cdf")
@_quiet
@_jax_jit
def _cdf(xp: Any, x: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal") -> Any:
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    return xp.exp(_log_cdf_value(xp, fam, W, x))


@_cdf.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    x, loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    z = (x - loc) / scale
    d_z = xp.exp(W.lf_minus_logZ(xp, fam, x))
    d_a = -W.ra * (1.0 - out)
    d_b = -W.rb * out
    mask = _inside(xp, x, low, high)
    return tuple(g * d for d in _cdf_chain(xp, d_z, d_a, d_b, W, z, scale, mask))


for _fam in ("normal", "logistic"):
    for _kind in _KINDS:
        _log_cdf.example(_example_x(_fam, _kind))
        _cdf.example(_example_x(_fam, _kind))


# ------------------------------------------------------------------------- score
_SCORE_NAMES = ("loc", "scale", "low", "high")


@primitive(name="truncated.score")
@_quiet
@_jax_jit
def _score(xp: Any, x: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal", wrt: str = "loc") -> Any:
    fam = _FAMILIES[family]
    W, z, inside = _score_terms(xp, fam, x, loc, scale, low, high)
    s = _scores(xp, fam, W, z, scale)[wrt]
    return xp.where(inside, s, xp.zeros_like(s))


@_score.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal", wrt: str = "loc") -> tuple:
    # score = Q(z, alpha, beta) / scale; see the module notes for the partials of
    # ra = f(alpha)/Z and rb = f(beta)/Z:  d ra/dalpha = ra (psi(alpha) + ra),
    # d ra/dbeta = -ra rb, d rb/dbeta = rb (psi(beta) - rb), d rb/dalpha = rb ra.
    x, loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    W, z, inside = _score_terms(xp, fam, x, loc, scale, low, high)
    ra, rb, a_s, b_s = W.ra, W.rb, W.alpha_s, W.beta_s
    psi_a, psi_b = fam.psi(xp, a_s), fam.psi(xp, b_s)
    zero = xp.zeros_like(z)
    if wrt == "loc":
        q = -(fam.psi(xp, z) + ra - rb)
        q_z = -fam.dpsi(xp, z)
        q_a = -ra * (psi_a + ra - rb) + zero
        q_b = rb * (ra + psi_b - rb) + zero
    elif wrt == "scale":
        t2 = a_s * ra - b_s * rb
        psi = fam.psi(xp, z)
        q = -(1.0 + z * psi + t2)
        q_z = -(psi + z * fam.dpsi(xp, z))
        q_a = -ra * (1.0 + a_s * psi_a + t2) + zero
        q_b = rb * (1.0 + b_s * psi_b + t2) + zero
    elif wrt == "low":
        q = ra + zero
        q_z = zero
        q_a = ra * (psi_a + ra) + zero
        q_b = -ra * rb + zero
    else:
        q = -rb + zero
        q_z = zero
        q_a = -rb * ra + zero
        q_b = -rb * (psi_b - rb) + zero
    s2 = scale * scale
    gi = xp.where(inside, g, zero) / s2
    return (
        gi * q_z,
        -gi * (q_z + q_a + q_b),
        -gi * (q + z * q_z + a_s * q_a + b_s * q_b),
        gi * q_a,
        gi * q_b,
    )


for _fam in ("normal", "logistic"):
    for _w in _SCORE_NAMES:
        for _kind in _KINDS:
            _score.example(_example_x(_fam, _kind, wrt=_w))


# ------------------------------------------------------------------------ moments
def _moments(xp: Any, fam: Any, W: _Window) -> tuple:
    """Standardized ``(mean, variance, entropy, E[log f - log f(c)], c)`` by quadrature.

    In the mirrored window ``[a, b]`` the density is largest at ``c = min(b, 0)``.
    The window splits into ``z = c - e`` (``e`` in ``[0, c - a]``) and, when it
    contains the centre, ``z = c + e`` (``e`` in ``[0, b]``); on each piece the
    density relative to ``f(c)`` is ``exp(piece_logq(c, e))``, and the integrals of
    ``1, e, (e - mu)**2, piece_logq`` against it are Gauss-Legendre sums on
    ``[0, min(width, emax)]`` (beyond ``emax`` the density is below ``exp(-40) f(c)``).
    ``c`` is returned in the original orientation, and ``mu = E[z] - c`` (mirrored).
    """
    a, b = W.a, W.b
    zero = xp.zeros_like(b)
    c = xp.minimum(b, zero)
    em = fam.emax(xp, c)
    # Widths: c - a is the window's width (from unstandardized values) when c = b.
    wl = xp.minimum(xp.where(b <= 0, zero - W.neg_w, zero - a), em)
    wr = xp.minimum(xp.maximum(b, zero), em)  # 0 unless the window contains the centre (then c = 0)
    bdev = backend_of(b)
    kw = {"device": bdev.device} if bdev.device is not None else {}
    r = xp.asarray(_GL_R, dtype=b.dtype, **kw)
    w = xp.asarray(_GL_W, dtype=b.dtype, **kw)
    c_, wl_, wr_ = c[..., None], wl[..., None], wr[..., None]
    el, er = wl_ * r, wr_ * r
    ql_log = fam.piece_logq(xp, c_, el)
    qr_log = fam.piece_logq(xp, c_, er)  # only used where c == 0 (symmetric density)
    ql = xp.exp(ql_log) * (wl_ * w)
    qr = xp.exp(qr_log) * (wr_ * w)
    j0 = xp.sum(ql, axis=-1) + xp.sum(qr, axis=-1)
    mu = (xp.sum(qr * er, axis=-1) - xp.sum(ql * el, axis=-1)) / j0
    mu_ = mu[..., None]
    dl, dr = -el - mu_, er - mu_
    var = (xp.sum(ql * dl * dl, axis=-1) + xp.sum(qr * dr * dr, axis=-1)) / j0
    elog = (xp.sum(ql * ql_log, axis=-1) + xp.sum(qr * qr_log, axis=-1)) / j0
    m_left = c + mu
    mean = xp.where(W.flip, -m_left, m_left)
    ent = xp.log(j0) - elog
    c_orig = xp.where(W.flip, -c, c)
    return mean, var, ent, elog, c_orig, mu


def _moment_example(family: str, kind: str) -> Callable[[Any], tuple]:
    def make(rng: Any) -> tuple:
        return _trunc_params(rng, kind), {"family": family}

    return make


@primitive(name="truncated.mean")
@_quiet
@_jax_jit
def _mean(xp: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal") -> Any:
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    m, mu = (_moments(xp, fam, W)[i] for i in (0, 5))
    # When the window lies on one side of loc its mean is an offset mu from the end
    # nearest loc: counting from that end keeps the digits when loc is far away.
    zero = xp.zeros_like(m)
    near = xp.where(W.flip, low + zero, high + zero)
    one_sided = W.b <= 0
    near = xp.where(one_sided, near, loc + zero)
    step = xp.where(one_sided, xp.where(W.flip, -mu, mu), m)
    return near + scale * step


@_mean.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    m = _moments(xp, fam, W)[0]
    dma = W.ra * (m - W.alpha_s)
    dmb = W.rb * (W.beta_s - m)
    return g * (1.0 - dma - dmb), g * (m - W.alpha_s * dma - W.beta_s * dmb), g * dma, g * dmb


@primitive(name="truncated.variance")
@_quiet
@_jax_jit
def _variance(xp: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal") -> Any:
    fam = _FAMILIES[family]
    v = _moments(xp, fam, _Window(xp, fam, loc, scale, low, high))[1]
    return scale * scale * v


@_variance.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    m, v = _moments(xp, fam, W)[:2]
    da, db = W.alpha_s - m, W.beta_s - m
    dva = W.ra * (v - da * da)
    dvb = W.rb * (db * db - v)
    return (
        -g * scale * (dva + dvb),
        g * scale * (2.0 * v - W.alpha_s * dva - W.beta_s * dvb),
        g * scale * dva,
        g * scale * dvb,
    )


@primitive(name="truncated.entropy")
@_quiet
@_jax_jit
def _entropy(xp: Any, loc: Any, scale: Any, low: Any, high: Any, family: str = "normal") -> Any:
    fam = _FAMILIES[family]
    h = _moments(xp, fam, _Window(xp, fam, loc, scale, low, high))[2]
    return xp.log(scale) + h + xp.zeros_like(loc)


@_entropy.defvjp
@_quiet
@_jax_jit
def _(xp: Any, inputs: tuple, out: Any, g: Any, family: str = "normal") -> tuple:
    loc, scale, low, high = inputs
    fam = _FAMILIES[family]
    W = _Window(xp, fam, loc, scale, low, high)
    _, _, _, elog, c, _ = _moments(xp, fam, W)
    # dH/dalpha = ra (log f(alpha) - E log f - 1); dH/dbeta = rb (1 - log f(beta) + E log f).
    dha = W.ra * (fam.lf_diff(xp, W.alpha_s, c) - elog - 1.0)
    dhb = W.rb * (1.0 - fam.lf_diff(xp, W.beta_s, c) + elog)
    return (
        -g * (dha + dhb) / scale,
        g * (1.0 - W.alpha_s * dha - W.beta_s * dhb) / scale,
        g * dha / scale,
        g * dhb / scale,
    )


for _fam in ("normal", "logistic"):
    for _kind in _KINDS:
        for _p in (_mean, _variance, _entropy):
            _p.example(_moment_example(_fam, _kind))


# ----------------------------------------------------------------------------------
# Generic truncation of any base with cdf / log_cdf / icdf / log_prob
# ----------------------------------------------------------------------------------
@primitive(name="truncated.finite_part", nondiff=(1,))
@_quiet
def _finite_part(xp: Any, v: Any, other: Any) -> Any:
    """``v`` where finite, else ``other`` where finite, else 0 (gradient to ``v`` only)."""
    zero = xp.zeros_like(v + other)
    o = xp.where(xp.isfinite(other), other + zero, zero)
    return xp.where(xp.isfinite(v), v + zero, o)


@_finite_part.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    v, _ = inputs
    return xp.where(xp.isfinite(v), g, xp.zeros_like(g)), None


@_finite_part.example
def _(rng: Any) -> tuple:
    import numpy as np

    return (np.array([0.3, -np.inf, 1.0, np.inf]), np.array([1.0, 2.0, np.inf, -np.inf])), {}


@primitive(name="truncated.clip_window")
def _clip_window(xp: Any, x: Any, low: Any, high: Any) -> Any:
    """``x`` clipped into ``[low, high]`` (gradient to whichever is returned)."""
    return xp.minimum(xp.maximum(x, low), high)


@_clip_window.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x, low, high = inputs
    zero = xp.zeros_like(g)
    below, above = x < low, x > high
    return (
        xp.where(below | above, zero, g),
        xp.where(below & xp.isfinite(low), g, zero),
        xp.where(above & xp.isfinite(high), g, zero),
    )


@_clip_window.example
def _(rng: Any) -> tuple:
    import numpy as np

    return (np.array([-3.0, 0.2, 5.0, 1.0]), np.array([-1.0, -1.0, -1.0, -np.inf]), np.array([2.0, 2.0, 2.0, np.inf])), {}


def _log_diff(xp: Any, hi: Any, lo: Any) -> Any:
    """``log(exp(hi) - exp(lo))`` for ``lo <= hi``."""
    return hi + special.log1mexp(xp.minimum(lo - hi, xp.zeros_like(hi)))


def _mask_bounds(xp: Any, la: Any, lb: Any, low: Any, high: Any) -> tuple:
    """log F at the true bounds: -inf below an infinite ``low``, 0 above an infinite ``high``."""
    la = _where_inf(xp, low == -_INF, -_INF, la)
    lb = xp.where(high == _INF, xp.zeros_like(lb), lb)
    return la, lb


@primitive(name="truncated.generic_log_prob", nondiff=(3, 4, 5))
@_quiet
def _g_log_prob(xp: Any, lp: Any, la: Any, lb: Any, x: Any, low: Any, high: Any) -> Any:
    la, lb = _mask_bounds(xp, la, lb, low, high)
    out = lp - _log_diff(xp, lb, la)
    return _where_inf(xp, ~_inside(xp, x, low, high), -_INF, out)


@_g_log_prob.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    lp, la, lb, x, low, high = inputs
    la, lb = _mask_bounds(xp, la, lb, low, high)
    lz = _log_diff(xp, lb, la)
    gi = xp.where(_inside(xp, x, low, high), g, xp.zeros_like(g))
    # d(-log Z)/d la = F(a)/Z, d(-log Z)/d lb = -F(b)/Z.
    ga = xp.where(xp.isfinite(low), gi * xp.exp(la - lz), xp.zeros_like(gi))
    gb = xp.where(xp.isfinite(high), -gi * xp.exp(lb - lz), xp.zeros_like(gi))
    return gi, ga, gb, None, None, None


@_g_log_prob.example
def _(rng: Any) -> tuple:
    import numpy as np

    la = np.log(rng.uniform(0.05, 0.3, size=4))
    lb = np.log(rng.uniform(0.6, 0.95, size=4))
    lp = rng.normal(size=4)
    return (lp, la, lb, np.zeros(4), np.array([-1.0, -np.inf, -1.0, -2.0]), np.array([1.0, 1.0, np.inf, 2.0])), {}


@primitive(name="truncated.generic_log_cdf", nondiff=(3, 4))
@_quiet
def _g_log_cdf(xp: Any, lx: Any, la: Any, lb: Any, low: Any, high: Any) -> Any:
    la, lb = _mask_bounds(xp, la, lb, low, high)
    return _log_diff(xp, lx, la) - _log_diff(xp, lb, la)


@_g_log_cdf.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    lx, la, lb, low, high = inputs
    la, lb = _mask_bounds(xp, la, lb, low, high)
    ln = _log_diff(xp, lx, la)
    lz = _log_diff(xp, lb, la)
    ok = out > -_INF
    zero = xp.zeros_like(g)
    gx = xp.where(ok, g * xp.exp(lx - ln), zero)
    ga = xp.where(ok & xp.isfinite(low), g * (xp.exp(la - lz) - xp.exp(la - ln)), zero)
    gb = xp.where(xp.isfinite(high), -g * xp.exp(lb - lz), zero)
    return gx, ga, gb, None, None


@_g_log_cdf.example
def _(rng: Any) -> tuple:
    import numpy as np

    la = np.log(rng.uniform(0.05, 0.2, size=4))
    lb = np.log(rng.uniform(0.7, 0.95, size=4))
    lx = np.log(rng.uniform(0.3, 0.6, size=4))
    return (lx, la, lb, np.array([-1.0, -np.inf, -1.0, -2.0]), np.array([1.0, 1.0, np.inf, 2.0])), {}


@primitive(name="truncated.generic_quantile", nondiff=(0, 4, 6, 7, 8, 9, 10, 11))
@_quiet
def _g_quantile(
    xp: Any, x0: Any, lx: Any, la: Any, lb: Any, lpx: Any, u: Any, low: Any, high: Any,
    lx0: Any, la0: Any, lb0: Any, u0: Any,
) -> Any:
    """The draw ``x0`` (computed without gradient) carrying the implicit gradient.

    ``x0`` solves ``F(x0) = (1 - u) F(low) + u F(high)``; ``lx, la, lb`` are the base's
    ``log_cdf`` at ``x0``, ``low``, ``high`` (recorded with the base parameters), ``lpx``
    its ``log_prob`` at ``x0``; ``lx0, la0, lb0, u0`` are the same values without
    gradient.  The forward is one Newton step on ``F(x) = (1 - u) F(low) + u F(high)``
    from ``x0``,

    ``x0 - [F(x0) - F0(x0) - (1 - u)(F(low) - F0(low)) - u (F(high) - F0(high))
    - (u - u0)(F0(high) - F0(low))] / f(x0)``,

    whose bracket is exactly 0 at the given values (so the result *is* ``x0``) and
    whose first derivatives are the implicit-function derivatives of the draw.
    """
    la, lb = _mask_bounds(xp, la, lb, low, high)
    la0, lb0 = _mask_bounds(xp, la0, lb0, low, high)

    def term(lv: Any, lv0: Any, w: Any) -> Any:
        d = w * (xp.exp(lv - lpx) - xp.exp(lv0 - lpx))
        return xp.where(lv == lv0, xp.zeros_like(d), d)

    step = term(lx, lx0, 1.0) - term(la, la0, 1.0 - u) - term(lb, lb0, u)
    du = (u - u0) * (xp.exp(lb0 - lpx) - xp.exp(la0 - lpx))
    step = step - xp.where(u == u0, xp.zeros_like(du), du)
    return x0 - step


@_g_quantile.defvjp
@_quiet
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    x0, lx, la, lb, lpx, u, low, high = inputs[:8]
    la, lb = _mask_bounds(xp, la, lb, low, high)
    zero = xp.zeros_like(g)
    gx = -g * xp.exp(lx - lpx)
    ga = xp.where(xp.isfinite(low), g * xp.exp(xp.log1p(-u) + la - lpx), zero)
    gb = xp.where(xp.isfinite(high), g * xp.exp(xp.log(u) + lb - lpx), zero)
    gu = g * xp.exp(_log_diff(xp, lb, la) - lpx)
    return (None, gx, ga, gb, None, gu) + (None,) * 6


@_g_quantile.example
def _(rng: Any) -> tuple:
    import numpy as np

    la = np.log(rng.uniform(0.05, 0.2, size=4))
    lb = np.log(rng.uniform(0.7, 0.95, size=4))
    u = rng.uniform(0.1, 0.9, size=4)
    lx = np.log(np.exp(la) * (1 - u) + np.exp(lb) * u)
    lpx = np.log(rng.uniform(0.2, 0.4, size=4))
    low, high = np.array([-1.0, -np.inf, -1.0, -2.0]), np.array([1.0, 1.0, np.inf, 2.0])
    return (rng.normal(size=4), lx, la, lb, lpx, u, low, high, lx, la, lb, u), {}


# Quadrature in probability space for the generic moments (see :class:`Truncated`):
# composite Gauss-Legendre on [0, 1], graded toward 0 by panels [4**-(j+1), 4**-j]
# (j < depth) plus [0, 4**-depth], with n_j = max(4, 16 - 2j/3) nodes on panel j.
# A quantile with a logarithmic singularity at the end (an exponential tail) keeps
# each panel's nearest singularity a panel length away, so n_j points give ~1e-16 on
# the first panels and the deep ones, whose share of the integral is below 4**-j,
# need fewer.  Measured in float64 against scipy.integrate.quad on the Gumbel, Laplace,
# Cauchy and exponential windows of tests/test_truncated.py: relative error <= 6e-14.
_GQ_RATIO = 4.0
# Newton steps polishing each quadrature node's quantile (Truncated._newton).
_NEWTON_STEPS = 3


@functools.lru_cache(maxsize=None)
def _graded_rule(depth: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    rs: list[float] = []
    ws: list[float] = []
    for j in range(depth + 1):
        hi = _GQ_RATIO ** -j
        lo = _GQ_RATIO ** -(j + 1) if j < depth else 0.0
        x, w = _leggauss(max(4, 16 - (2 * j) // 3))
        rs += [lo + (hi - lo) * 0.5 * (xi + 1.0) for xi in x]
        ws += [(hi - lo) * 0.5 * wi for wi in w]
    return tuple(rs), tuple(ws)


def _rule_depth(eps: float) -> int:
    """Panels needed for the finest to reach ``eps / 600``: the part of ``[0, 1]`` left to
    the last panel, ``[0, t]``, holds at most ``~t log(t)**2`` of a second moment with an
    exponential tail, below ``eps`` (31 panels in float64, 17 in float32)."""
    return int(math.ceil(math.log(600.0 / eps) / math.log(_GQ_RATIO)))


@primitive(name="truncated.weighted_sum", nondiff=(1,))
def _wsum(xp: Any, v: Any, w: Any) -> Any:
    """``sum(w * v)`` over the leading (quadrature) axis; ``w`` carries no gradient."""
    return xp.sum(w * v, axis=0)


@_wsum.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    v, w = inputs
    return xp.expand_dims(g, axis=0) * w + xp.zeros_like(v), None


@_wsum.example
def _(rng: Any) -> tuple:
    return (rng.normal(size=(6, 3)), rng.uniform(0.0, 0.3, size=(6, 3))), {}


@primitive(name="truncated.weighted_variance", nondiff=(1,))
def _wvar(xp: Any, v: Any, w: Any) -> Any:
    """``sum(w * (v - m)**2)`` over the leading axis, ``m = sum(w * v)`` (a centred sum:
    nothing cancels however far the values are from 0)."""
    d = v - xp.expand_dims(xp.sum(w * v, axis=0), axis=0)
    return xp.sum(w * d * d, axis=0)


@_wvar.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    v, w = inputs
    d = v - xp.expand_dims(xp.sum(w * v, axis=0), axis=0)
    c = d - xp.expand_dims(xp.sum(w * d, axis=0), axis=0)  # d minus its (rounding-size) mean
    return 2.0 * xp.expand_dims(g, axis=0) * w * c, None


@_wvar.example
def _(rng: Any) -> tuple:
    return (rng.normal(size=(6, 3)), rng.uniform(0.0, 0.3, size=(6, 3))), {}


@primitive(name="truncated.fill_where", nondiff=(1, 2))
def _fill_where(xp: Any, v: Any, keep: Any, fill: Any) -> Any:
    """``v`` where ``keep`` (1, or True), else ``fill`` (0; no gradient there)."""
    return xp.where(keep > 0.5, v, fill + xp.zeros_like(v))


@_fill_where.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    _, keep, _ = inputs
    return xp.where(keep > 0.5, g, xp.zeros_like(g)), None, None


@_fill_where.example
def _(rng: Any) -> tuple:
    import numpy as np

    # (The self-check perturbs every input, so the fills are finite here; in use they are
    # inf, -inf or NaN.)
    return (rng.normal(size=4), np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.0, 5.0, 0.0, -7.0])), {}


# ----------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------
def _check_window(b: Any, low: Any, high: Any) -> None:
    """``low < high`` everywhere (after broadcasting), or ``ValueError`` naming both."""
    check_not_nan(b, "low", low)
    check_not_nan(b, "high", high)
    if kind_of(low) is None and kind_of(high) is None:
        if not float(low) < float(high):
            raise ValueError(f"low must be < high, got low={low!r}, high={high!r}")
        return
    if not (is_concrete(low) and is_concrete(high)):
        return
    xp = b.xp
    lo = low if kind_of(low) is not None else xp.asarray(float(low), dtype=high.dtype, **_dev(b))
    hi = high if kind_of(high) is not None else xp.asarray(float(high), dtype=lo.dtype, **_dev(b))
    shape = broadcast_shapes(low=lo, high=hi)
    lo_b, hi_b = xp.broadcast_to(lo, shape), xp.broadcast_to(hi, shape)
    ok = lo_b < hi_b
    if not bool(xp.all(ok)):
        flat = xp.reshape(~ok, (-1,))
        i = int(xp.argmax(xp.astype(flat, xp.int32)))
        lv = float(xp.reshape(lo_b, (-1,))[i])
        hv = float(xp.reshape(hi_b, (-1,))[i])
        raise ValueError(f"low must be < high, got low={lv!r}, high={hv!r} (in an array of shape {shape})")


def _dev(b: Any) -> dict:
    return {"device": b.device} if b.device is not None else {}


# ----------------------------------------------------------------------------------
# Exact rejection sampling from the backend's own generator
# ----------------------------------------------------------------------------------
# Backends whose native generator the rejection sampler uses.  JAX keeps the inverse
# CDF (a data-dependent number of rounds does not fit ``jit``), and so do CuPy and
# torch off the CPU (not measured or tested here: no GPU), array_api_strict/dask
# (no native generator) and the portable stream (its numbers must agree across
# backends, and only the inverse CDF of the same uniforms guarantees that).
_REJECT_KINDS = ("numpy", "torch")
# A batch is sampled by rejection when every window has a proposal that accepts at
# least this share of its candidates: normal candidates / tail candidates.  Measured
# with NumPy, float64, 1e6 draws on the benchmark machine (interleaved): a standard
# normal costs ~9.5 ns, a uniform 2-4 ns, an inverse-CDF draw 13-30 ns (least for
# windows around the centre, where ndtri takes its cheapest branch); rejection from
# normals is then faster from an acceptance of about 0.65 up, the tail method from
# about 0.5 up.
_MIN_ACCEPT_NORMAL = 0.65
_MIN_ACCEPT_TAIL = 0.5
# Fewer draws than this per call keep the inverse CDF: the rejection sampler's fixed
# cost (its window constants, key splits for refills) is then the larger part.
_MIN_DRAWS = 4096
# A single window with at most this many draws takes all of them from one pool.
_POOL_ALL = 1 << 16
# Refill rounds with fewer open positions than this propose _REPS candidates for each
# (fewer rounds of small arrays, whose cost is per call rather than per element).
_SMALL_ROUND = 1 << 14
_REPS = 8
# One finite window with at least _STRIP_MIN_DRAWS draws (float64) samples from a
# table of _STRIPS equal-mass strips instead (:func:`_strip_plan`), when at least
# _MIN_ACCEPT_STRIPS of its candidates are accepted at once.  Candidates are formed
# _STRIP_CHUNK at a time, so that the work arrays stay in cache.
_STRIPS = 4096
_STRIP_MIN_DRAWS = 1 << 16
_MIN_ACCEPT_STRIPS = 0.9
_STRIP_CHUNK = 1 << 14


class _Rounds:
    """Noise for successive rounds of the rejection sampler.

    A generator is simply drawn from again.  A key serves the first round itself and
    later rounds through keys split from it (:func:`diffsample.random.split`, 8 at a
    time, the last of each 8 being split again), so the same key gives the same draws.
    """

    def __init__(self, src: Any) -> None:
        self.src = src
        self.count = 0
        self.keys: Any = None

    def next(self) -> Any:
        src = self.src
        if src.kind == "generator":
            return src.value
        self.count += 1
        if self.count == 1:
            return src.value
        i = (self.count - 2) % 7
        if i == 0:
            self.keys = split(src.value if self.keys is None else self.keys[7], 8)
        return self.keys[i]


def _rejection_draws(d: Any, key: Any, shape: tuple) -> Any:
    """Draws of :class:`TruncatedNormal` ``d`` by exact rejection, or ``None``.

    ``None`` (the caller then inverts the CDF) on the backends and streams named
    above ``_REJECT_KINDS``, for traced parameters, for fewer than ``_MIN_DRAWS``
    draws, and for batches with a window where neither proposal accepts enough (see
    ``_MIN_ACCEPT_NORMAL``; e.g. narrow windows away from the centre).  Per window
    (in the mirrored coordinates of :class:`_Window`, mass ``Z``):

    * *normal*: candidates ``loc + scale z`` with ``z`` standard normal (``|z|`` with
      the window's sign when it lies on one side of ``loc``), kept when in
      ``[low, high]``; acceptance ``Z`` (``2Z`` one-sided);
    * *tail* (one-sided, ``c = -b > 0`` standard deviations from ``loc``): Marsaglia's
      tail method (1964), ``t = sqrt(c**2 + 2E)`` with ``E`` standard exponential
      (``-log U1``), kept when ``U2 t <= c`` and inside the window; formed as the
      offset ``t - c = 2E/(c + sqrt(c**2 + 2E))`` from the window's near end, so a
      window far from ``loc`` keeps its digits; acceptance
      ``c Phi(-c)/phi(c) (1 - exp(D))``;
    * *strips* (one finite window, float64, ``_STRIP_MIN_DRAWS`` draws or more): the
      table of :func:`_strip_plan`, tried first, where it accepts at least
      ``_MIN_ACCEPT_STRIPS`` of its candidates at once.

    Each window takes the proposal that accepts more (of those that accept enough).
    Every position keeps drawing until it accepts (positions that rejected are redrawn
    in later rounds, or, for a single window, filled from a pool of candidates), so
    each draw has exactly the truncated distribution, in the computation dtype.
    """
    b = d._backend
    if b.kind not in _REJECT_KINDS or (b.kind == "torch" and getattr(b.device, "type", "cpu") != "cpu"):
        return None
    src = resolve_source(key)
    if src.kind == "generator":
        if src.owner != b.kind:
            return None  # draw() raises the error that names the mismatch
    elif current_stream() != "native":
        return None
    if math.prod(shape) < _MIN_DRAWS:
        return None
    params = d._args()
    if not all(is_concrete(p) for p in params):
        return None
    dt = compute_dtype(b, d.dtype)
    arrays = [stop_gradient(asarray(b, p, dt)) for p in params]
    with quiet_numpy():
        plan = None
        if math.prod(d.batch_shape) == 1 and math.prod(shape) >= _STRIP_MIN_DRAWS and dt == b.xp.float64:
            plan = _strip_plan_cached(b, *arrays)
        if plan is None:
            plan = _rejection_plan(b.xp, *arrays, tuple(d.batch_shape))
        if plan is None:
            return None
        return _rejection_sample(b, _Rounds(src), shape, dt, plan)


class _Plan:
    """Per-window constants of the rejection sampler, batch-shaped and flattened
    (``strips``: the table of :func:`_strip_plan`, or None)."""

    strips: Any = None

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _rejection_plan(xp: Any, loc: Any, scale: Any, low: Any, high: Any, batch_shape: tuple) -> Any:
    fam = _NormalFamily
    W = _Window(xp, fam, loc, scale, low, high)
    a, b, flip = W.a, W.b, W.flip
    zero = xp.zeros_like(b)
    mass = xp.exp(W.lb + W.l1mD)
    straddle = (a < 0) & (b > 0)
    acc_n = xp.where(straddle, mass, xp.minimum(2.0 * mass, zero + 1.0))
    c = zero - b
    mills = xp.exp(-fam.lf_minus_lF(xp, b, b, zero))  # Phi(b) / phi(b), b <= 0
    acc_t = xp.where(b < 0, c * mills * (-xp.expm1(W.D)), zero)
    acc_t = xp.where(xp.isnan(acc_t), zero, acc_t)
    ok_n, ok_t = acc_n >= _MIN_ACCEPT_NORMAL, acc_t >= _MIN_ACCEPT_TAIL
    if not bool(xp.all(ok_n | ok_t)):
        return None
    tail = ok_t & ((acc_t > acc_n) | ~ok_n)
    acc = xp.where(tail, acc_t, acc_n)
    # Candidates move away from loc into a one-sided window (the sign does not matter
    # for a window around loc: the normal is symmetric).
    step = xp.where(flip | straddle, zero + scale, zero - scale)
    origin = xp.where(tail, xp.where(flip, zero + low, zero + high), zero + loc)
    cols = {"origin": origin, "step": step, "low": zero + low, "high": zero + high, "fold": ~straddle,
            "c": xp.where(tail, c, zero + 1.0), "tail": tail}
    cols = {k: xp.broadcast_to(v, batch_shape) for k, v in cols.items()}
    size = math.prod(batch_shape)
    flat = {k: xp.reshape(v, (-1,)) for k, v in cols.items()}
    return _Plan(
        batch=cols, flat=flat, size=size,
        acc=float(xp.min(acc)),
        all_tail=bool(xp.all(cols["tail"])), no_tail=not bool(xp.any(cols["tail"])),
        all_fold=bool(xp.all(cols["fold"])), no_fold=not bool(xp.any(cols["fold"])),
        # Bounds that are infinite for every window need no comparison.
        low_finite=bool(xp.any(xp.isfinite(low))), high_finite=bool(xp.any(xp.isfinite(high))),
        c2_finite=bool(xp.all(xp.isfinite(cols["c"] * cols["c"]))),
    )


# Strip tables of recent windows, by backend and parameter values (building one costs
# ~0.4 ms on NumPy; repeated calls on one distribution reuse it).
_STRIP_PLANS: dict = {}


def _strip_plan_cached(b: Any, *params: Any) -> Any:
    """:func:`_strip_plan` of a window given as one-element arrays, by value.

    The table is built from new arrays holding the values (never from the caller's,
    which may change in place later, e.g. in an optimizer step), and keyed by them
    with the number of strips.
    """
    values = tuple(float(b.xp.reshape(p, ())) for p in params)  # one window: one element each
    key = (b, _STRIPS, *values)
    plan = _STRIP_PLANS.get(key, _NO_PLAN)
    if plan is _NO_PLAN:
        kw = {"device": b.device} if b.device is not None else {}
        plan = _strip_plan(b, *(b.xp.asarray(v, dtype=b.xp.float64, **kw) for v in values))
        if len(_STRIP_PLANS) >= 32:
            _STRIP_PLANS.clear()
        _STRIP_PLANS[key] = plan
    return plan


_NO_PLAN = object()


def _strip_plan(b: Any, loc: Any, scale: Any, low: Any, high: Any) -> Any:
    """The strip table of one finite window (0-d parameters), or None where it would
    accept fewer than ``_MIN_ACCEPT_STRIPS`` of its candidates at once.

    The window is cut at its quantiles ``i / K`` (``K = _STRIPS``, by :func:`_quantile`)
    into strips of equal mass.  Over strip ``j`` of width ``w_j`` stands a box of
    height ``A / w_j``, ``A`` the largest ``w_j * max(g)`` over the strips, ``g`` the
    density relative to its peak in the window; every box then has the same area and
    covers the density over its strip.  A point uniform in the union of the boxes,
    kept when under ``g``, is an exact draw.  One uniform ``u`` gives the box
    ``j = floor(K u)`` and the height ``r = K u - j`` (as a share of the box's); where
    ``r`` is below a share ``rho`` that lies under the density on every strip (the
    least of ``w_j min(g) / A``; ``min(g)`` is at an end of the strip, ``g`` being
    unimodal) the point is accepted whatever its position, and ``r / rho`` is a
    uniform position in the strip: ``x = e_j + (r / rho) w_j``, formed as
    ``d_j + (K u) c_j`` with ``c_j = w_j / rho`` and ``d_j = e_j - j c_j``.  Only the
    others (``1 - rho``, 0.7% on ``[-1, 2]``) need a second uniform for the position
    and ``g`` itself (:func:`_strip_proposals`).  ``rho`` is a multiple of ``2**-41``,
    so that ``j + rho`` is exact for every ``j < 4096`` and ``K u - j < rho`` (``K u``
    is exact too) happens with probability exactly ``rho`` in every box.
    """
    xp, K = b.xp, _STRIPS  # at most 2**12 (see rho below)
    if not (math.isfinite(float(low)) and math.isfinite(float(high))):
        return None
    u = xp.arange(1, K, dtype=xp.float64, device=b.device) / K
    e = xp.concat([xp.reshape(low, (1,)), _quantile(xp, _NormalFamily, loc, scale, low, high, u), xp.reshape(high, (1,))])
    lo, hi = e[:-1], e[1:]
    w = xp.maximum(hi - lo, xp.zeros_like(lo))
    peak = xp.minimum(xp.maximum(loc, low), high)
    lg_lo, lg_hi = _strip_log_g(lo, peak, loc, scale), _strip_log_g(hi, peak, loc, scale)
    g_min = xp.exp(xp.minimum(lg_lo, lg_hi))
    g_max = xp.exp(_strip_log_g(xp.minimum(xp.maximum(peak, lo), hi), peak, loc, scale))
    A = xp.max(w * g_max)
    # One share rho for every box, the least of w_j min(g) / A (so that a candidate not
    # accepted at once is in box j with the same probability for all j), except the
    # last strip, never accepted at once: d_j + K u c_j could round past high there,
    # and the few candidates it gets (1 in K) are clipped on the second look.
    rho = math.floor(float(xp.min((w * g_min)[:-1] / A)) * 2.0**41) / 2.0**41
    acc = rho * (K - 1) / K  # the share accepted at once (a lower bound of all accepted)
    if not acc >= _MIN_ACCEPT_STRIPS:
        return None
    j = xp.arange(K, dtype=xp.float64, device=b.device)
    last = j == K - 1
    c = xp.where(last, 0.0, w / rho)
    table = _Plan(edge=lo, width=w, rho=xp.where(last, 0.0, rho), threshold=xp.where(last, j, j + rho),
                  slope=c, offset=lo - j * c, area=A, p_last=1.0 / ((K - 1) * (1.0 - rho) + 1.0),
                  peak=peak, loc=loc, scale=scale, low=low, high=high, K=K)
    return _Plan(size=1, strips=table, acc=acc)


def _strip_log_g(x: Any, peak: Any, loc: Any, scale: Any) -> Any:
    """``log g(x)``: the normal log density at ``x`` less its value at ``peak``."""
    return _NormalFamily.lf_diff(None, (x - loc) / scale, (peak - loc) / scale, (x - peak) / scale)


def _strip_proposals(b: Any, rounds: Any, n: int, dt: Any, T: Any) -> tuple:
    """``n`` candidates from the strip table ``T`` (see :func:`_strip_plan`) and the
    positions of those rejected.

    One uniform per candidate (from the next round's key) picks its box and height;
    where the height is in the box's lower share ``rho_j`` the candidate is accepted
    and its position formed from the same uniform, in place.  A candidate above that
    share is redrawn from its law given that event (uniforms from the round after):
    the box ``j`` with probability proportional to ``1 - rho_j``, the height uniform
    in ``[rho_j, 1)`` of the box's, the position uniform in the strip; it is kept when
    the point is under ``g``.  The first uniform decides only which of the two events
    happened, so the candidates have the law of a point uniform in the boxes.
    """
    xp, K = b.xp, T.K
    u = draw("uniform01", rounds.next(), (n,), b, dt)  # u = 0 is a draw like any other here
    later = []  # per chunk: not accepted at once
    threshold, slope, offset = T.threshold, T.slope, T.offset
    # In place on views of u (the draws end up in u); the tables' own 1-d take method
    # (NumPy's and torch's: this runs on those two only) skips two wrapper layers per
    # call (~0.5 ms of ~7 at 1e6 draws).
    for c0 in range(0, n, _STRIP_CHUNK):
        s = u[c0:c0 + _STRIP_CHUNK]
        s *= K
        j = xp.astype(s, xp.int64)  # s >= 0: truncation is floor
        later.append(s >= threshold.take(j))
        s *= slope.take(j)
        s += offset.take(j)
    pos = xp.nonzero(xp.concat(later) if len(later) > 1 else later[0])[0]
    m = int(pos.shape[0])
    if not m:
        return u, pos
    v = draw("uniform01", rounds.next(), (3, m), b, dt)
    # The last box with probability p_last, else one of the others, uniformly.
    j = xp.astype(xp.minimum((v[0] - T.p_last) / (1.0 - T.p_last) * (K - 1), K - 1.5), xp.int64)
    j = xp.where(v[0] < T.p_last, K - 1, j)
    rho, w = xp.take(T.rho, j), xp.take(T.width, j)
    r = rho + v[1] * (1.0 - rho)
    x = xp.minimum(xp.take(T.edge, j) + v[2] * w, T.high)
    u[pos] = x
    pos = pos[~(r * T.area < w * xp.exp(_strip_log_g(x, T.peak, T.loc, T.scale)))]
    return u, pos


def _proposals(b: Any, key: Any, shape: tuple, dt: Any, tail: bool, P: dict, fold: Any, plan: Any) -> tuple:
    """Candidates ``x`` of shape ``shape`` and whether each is accepted."""
    xp = b.xp
    if tail:
        w = draw("uniform", key, (2,) + shape, b, dt)
        e2, u2 = w[0], w[1]
        e2 = inplace(b.kind, "multiply", inplace(b.kind, "log", e2, None), -2.0)  # 2E, E = -log U1
        c = P["c"]
        if plan.c2_finite:
            r = inplace(b.kind, "sqrt", e2 + c * c, None)  # r = sqrt(c**2 + 2E) = c + t
        else:
            r = c * xp.sqrt(1.0 + (e2 / c) / c)
        ok = inplace(b.kind, "multiply", u2, r) <= c  # Marsaglia: U2 r <= c
        t = inplace(b.kind, "divide", e2, inplace(b.kind, "add", r, c))  # t = 2E / (c + r)
    else:
        t = draw("normal", key, shape, b, dt)
        if fold is True:
            t = inplace(b.kind, "abs", t, None)
        elif fold is not False:
            t = xp.where(fold, xp.abs(t), t)
        ok = None
    x = inplace(b.kind, "add", inplace(b.kind, "multiply", t, P["step"]), P["origin"])
    for bound, finite, op in ((P["low"], plan.low_finite, "greater_equal"), (P["high"], plan.high_finite, "less_equal")):
        if finite:
            inside = getattr(xp, op)(x, bound)
            ok = inside if ok is None else (ok & inside)
    if ok is None:
        ok = xp.ones(shape, dtype=xp.bool, device=b.device)
    return x, ok


def _fold_of(plan: Any, values: Any) -> Any:
    return True if plan.all_fold else False if plan.no_fold else values


def _rejection_sample(b: Any, rounds: _Rounds, shape: tuple, dt: Any, plan: Any) -> Any:
    xp = b.xp
    n = math.prod(shape)
    if plan.strips is not None:
        x, pos = _strip_proposals(b, rounds, n, dt, plan.strips)
        if int(pos.shape[0]):
            x[pos] = _pooled(b, rounds, dt, plan, int(pos.shape[0]))
        return xp.reshape(x, shape)
    if plan.size == 1 and n <= _POOL_ALL:
        return xp.reshape(_pooled(b, rounds, dt, plan, n), shape)
    if plan.size == 1:
        # First round in place (no compaction of a large array), then one pool for
        # the positions that rejected (faster than a pool for all, measured).
        tail = plan.all_tail
        x, ok = _proposals(b, rounds.next(), shape, dt, tail, plan.batch, _fold_of(plan, plan.batch["fold"]), plan)
        out = xp.reshape(x, (-1,))
        pos = xp.nonzero(~xp.reshape(ok, (-1,)))[0]
        if int(pos.shape[0]):
            out[pos] = _pooled(b, rounds, dt, plan, int(pos.shape[0]))
        return xp.reshape(out, shape)
    if plan.all_tail or plan.no_tail:
        tail = plan.all_tail
        x, ok = _proposals(b, rounds.next(), shape, dt, tail, plan.batch, _fold_of(plan, plan.batch["fold"]), plan)
        out = xp.reshape(x, (-1,))
        _refill(b, rounds, dt, plan, out, xp.nonzero(~xp.reshape(ok, (-1,)))[0], tail)
        return xp.reshape(out, shape)
    out = xp.empty((n,), dtype=dt, device=b.device)
    tail_at = xp.reshape(xp.broadcast_to(plan.batch["tail"], shape), (-1,))
    for tail in (False, True):
        _refill(b, rounds, dt, plan, out, xp.nonzero(tail_at if tail else ~tail_at)[0], tail)
    return xp.reshape(out, shape)


def _pooled(b: Any, rounds: _Rounds, dt: Any, plan: Any, n: int) -> Any:
    """``n`` draws from a single window: candidates are drawn as one pool, sized so
    that enough are accepted with high probability (the mean minus four standard
    deviations of the accepted count is ``n``), and the first ``n`` accepted are kept
    (a second pool in the rare case of a shortfall).  The draws are exchangeable, so
    this is the same distribution as redrawing each rejected position."""
    xp = b.xp
    if plan.strips is None:
        P = {key: xp.reshape(v, ()) for key, v in plan.flat.items()}
        fold = _fold_of(plan, P["fold"])
    parts, have = [], 0
    while have < n:
        k = n - have
        p = plan.acc
        m = int(math.ceil((k + 4.0 * math.sqrt(k * (1.0 - p)) + 8.0) / p))
        if plan.strips is None:
            x, ok = _proposals(b, rounds.next(), (m,), dt, plan.all_tail, P, fold, plan)
        else:
            x, rejected = _strip_proposals(b, rounds, m, dt, plan.strips)
            ok = xp.ones((m,), dtype=xp.bool, device=b.device)
            ok[rejected] = False
        got = x[ok][:k]
        parts.append(got)
        have += int(got.shape[0])
    return parts[0] if len(parts) == 1 else xp.concat(parts)


def _refill(b: Any, rounds: _Rounds, dt: Any, plan: Any, out: Any, pos: Any, tail: bool) -> None:
    """Draw at flat positions ``pos`` of ``out`` until each has accepted a candidate."""
    xp = b.xp
    while pos.shape[0] > 0:
        k = int(pos.shape[0])
        if plan.size == 1:
            P = {key: xp.reshape(v, ()) for key, v in plan.flat.items()}
        else:
            at = pos % plan.size
            P = {key: v[at] for key, v in plan.flat.items()}
        fold = _fold_of(plan, P["fold"])
        if k > _SMALL_ROUND:
            x, ok = _proposals(b, rounds.next(), (k,), dt, tail, P, fold, plan)
        else:
            xs, oks = _proposals(b, rounds.next(), (_REPS, k), dt, tail, P, fold, plan)
            x, ok = xs[_REPS - 1], oks[_REPS - 1]
            for j in range(_REPS - 2, -1, -1):  # the first accepted candidate of each column
                x = xp.where(oks[j], xs[j], x)
                ok = ok | oks[j]
        out[pos[ok]] = x[ok]
        pos = pos[~ok]


# ----------------------------------------------------------------------------------
# The distributions
# ----------------------------------------------------------------------------------
class _LocScaleTruncated(Distribution):
    """Shared implementation of the truncated normal and logistic."""

    _params = ("loc", "scale", "low", "high")
    _family = "normal"

    def __init__(self, loc: Any, scale: Any, low: Any = -_INF, high: Any = _INF, validate_args: bool = True) -> None:
        super().__init__(validate_args, loc=loc, scale=scale, low=low, high=high)

    def _validate(self) -> None:
        b = self._backend
        check_finite(b, "loc", self.loc)
        check_positive(b, "scale", self.scale)
        _check_window(b, self.low, self.high)

    def _args(self) -> tuple:
        return self.loc, self.scale, self.low, self.high

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Reparameterized draws of shape ``sample_shape + batch_shape``, all in ``[low, high]``.

        Inverse-transform sampling in log space from one uniform per draw; for the
        normal on NumPy and torch (CPU) with at least 4096 draws, in the native
        stream, exact rejection sampling from the native generator instead where
        that is faster (normal or exponential-tail candidates, or, for one finite
        window and 65536 draws or more in float64, a table of equal-mass strips; see
        the module notes: same distribution, other numbers).
        Gradients w.r.t. ``loc``, ``scale``, ``low`` and ``high`` by implicit
        reparameterization, a function of the draw and the parameters only.

        Parameters
        ----------
        key : key array, int or generator
            Source of noise (:func:`diffsample.random.key`, an int seed, or the
            backend's own generator).
        sample_shape : int or tuple of int
            Leading shape of the draws.
        """
        shape = self._extended_shape(sample_shape)
        if self._family == "normal":
            x = _rejection_draws(self, key, shape)
            if x is not None:
                return _reparam.apply(self._backend, self.dtype, *self._args(), x, family=self._family)
        u = draw("uniform", key, shape, self._backend, self.dtype)
        return _rsample(*self._args(), u, family=self._family)

    def log_prob(self, x: Any) -> Any:
        """Log density at ``x``; ``-inf`` outside ``[low, high]``."""
        return _log_prob(x, *self._args(), family=self._family)

    def cdf(self, x: Any) -> Any:
        """Truncated CDF at ``x`` (0 below ``low``, 1 above ``high``)."""
        return _cdf(x, *self._args(), family=self._family)

    def log_cdf(self, x: Any) -> Any:
        """Log of the truncated CDF, accurate however small the window's mass."""
        return _log_cdf(x, *self._args(), family=self._family)

    def icdf(self, p: Any) -> Any:
        """Quantile at probabilities ``p`` in [0, 1] (``low`` at 0, ``high`` at 1)."""
        return _icdf(p, *self._args(), family=self._family)

    def score(self, x: Any) -> dict[str, Any]:
        """Per-sample gradient of ``log_prob(x)`` w.r.t. each parameter.

        Returns ``{"loc", "scale", "low", "high"}``, each of shape
        ``broadcast(x.shape, batch_shape)`` and 0 where ``x`` is outside the window;
        each is itself a primitive with a hand-written VJP (second derivatives).
        """
        return {w: _score(x, *self._args(), family=self._family, wrt=w) for w in _SCORE_NAMES}

    def entropy(self) -> Any:
        """Differential entropy, of shape ``batch_shape`` (quadrature, see the module notes)."""
        return _entropy(*self._args(), family=self._family)

    @property
    def mean(self) -> Any:
        """Mean, of shape ``batch_shape``."""
        return _mean(*self._args(), family=self._family)

    @property
    def variance(self) -> Any:
        """Variance, of shape ``batch_shape``; accurate relative to itself far in the tails."""
        return _variance(*self._args(), family=self._family)


class TruncatedNormal(_LocScaleTruncated):
    """Normal ``N(loc, scale**2)`` restricted to ``[low, high]``, right far in the tails.

    Either end may be infinite (``low=-inf``, ``high=inf``).  Draws are in
    ``[low, high]`` with the right distribution even when the window holds a
    vanishing share of the normal's mass, for example standardized windows
    ``[8, inf)``, ``[100, 101]`` or ``[-10001, -10000]``, in float32 and float64.
    Gradients w.r.t. all four parameters come from implicit reparameterization and
    stay finite in float32 far in the tails.  Every method is a primitive with a
    hand-written VJP.

    Parameters
    ----------
    loc : array or float
        Mean of the normal before truncation.
    scale : array or float
        Standard deviation before truncation, > 0.
    low, high : array or float
        Ends of the window, ``low < high``; ``-inf``/``inf`` for no bound.
    validate_args : bool
        Check ``loc`` finite, ``scale > 0``, ``low``/``high`` not NaN and
        ``low < high`` (default True).  Skipped under ``jax.jit`` and ``torch.func``
        transforms (values cannot be read there); invalid values then give NaN.

    Raises
    ------
    ValueError
        ``scale <= 0``, ``low >= high``, NaN parameters, shapes that do not broadcast.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.truncated import TruncatedNormal
    >>> d = TruncatedNormal(0.0, 1.0, np.array([8.0, -10001.0]), np.array([np.inf, -10000.0]))
    >>> x = d.sample(ds.random.key(0), (1000,))
    >>> bool(np.all((x >= d.low) & (x <= d.high)))
    True
    >>> [round(float(m), 6) for m in d.mean]
    [8.121368, -10000.0001]
    >>> f"{float(d.variance[1]):.12e}"  # about 1/10000**2 (the closed form loses every digit here)
    '9.999999400000e-09'

    Pathwise gradients on NumPy, without any framework:

    >>> def draws(loc, low):
    ...     return TruncatedNormal(loc, 1.0, low, np.inf).rsample(ds.random.key(1), (4,))
    >>> x, pullback = ds.vjp(draws, np.array([0.0]), np.array([3.0]))
    >>> d_loc, d_low = pullback(np.ones_like(x))
    >>> d_low.shape
    (1,)
    """

    _family = "normal"


class TruncatedLogistic(_LocScaleTruncated):
    """Logistic ``(loc, scale)`` restricted to ``[low, high]``, right far in the tails.

    The same interface and guarantees as :class:`TruncatedNormal`.  Its pathwise
    gradient ``dx/dlow = (1 - u) f(alpha)/f(zeta)`` involves a ratio of logistic
    densities, which decay like ``exp(-|z|)``: on a window ``[a, a + 1]`` the ratio is
    at most about ``e``, however far out ``a`` is (the normal's grows like
    ``exp(a)``), see ``benchmarks/tails_study.py``.

    Parameters
    ----------
    loc : array or float
        Location of the logistic before truncation.
    scale : array or float
        Scale before truncation, > 0.
    low, high : array or float
        Ends of the window, ``low < high``; ``-inf``/``inf`` for no bound.
    validate_args : bool
        As for :class:`TruncatedNormal`.

    Raises
    ------
    ValueError
        ``scale <= 0``, ``low >= high``, NaN parameters, shapes that do not broadcast.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.truncated import TruncatedLogistic
    >>> d = TruncatedLogistic(0.0, 1.0, 40.0, 41.0)
    >>> x = d.sample(ds.random.key(0), (5,))
    >>> bool(np.all((x >= 40.0) & (x <= 41.0)))
    True
    >>> round(float(d.mean), 6)  # an exponential truncated to [0, 1], shifted by 40
    40.418023
    """

    _family = "logistic"


class Truncated(Distribution):
    """Any distribution ``base`` restricted to ``[low, high]``.

    What ``base`` must provide: ``cdf(x)``, ``log_cdf(x)``, ``icdf(p)`` and
    ``log_prob(x)``, differentiable (diffsample primitives) in ``base``'s
    parameters, a ``batch_shape`` and a ``dtype``.  Gradients w.r.t. ``base``'s
    parameters and ``low``/``high`` flow through those methods by implicit
    reparameterization.

    * For a :class:`~diffsample.Normal` or
      :class:`~diffsample.distributions.logistic.Logistic` base this *is*
      :class:`TruncatedNormal` / :class:`TruncatedLogistic` on ``base.loc`` and
      ``base.scale``: every method, right far in both tails.
    * For any other base (Gumbel, Laplace, Cauchy, Exponential, Uniform, your own)
      every method works: ``sample``, ``rsample``, ``log_prob``, ``cdf``,
      ``log_cdf``, ``icdf``, ``mean``, ``variance``, ``entropy`` and (for the bases
      listed under ``score`` below) ``score``.  Draws and ``icdf`` start from
      ``base.icdf`` of a probability formed in log space and are polished by Newton
      steps on ``log F`` (on ``log(-log F)`` in the upper half, with the target
      formed from survival functions), so they stay right in both tails: a Gumbel
      on ``[40, inf)``, where ``1 - cdf(40)`` is 4e-18, draws ``40 + Exp(1)``-like
      values.

    Parameters
    ----------
    base : Distribution
        The distribution to truncate.
    low, high : array or float
        Ends of the window, ``low < high``; ``-inf``/``inf`` for no bound.
    validate_args : bool
        Check ``low``/``high`` not NaN and ``low < high`` (default True).

    Notes
    -----
    **Moments of a generic base.**  With ``Q`` the truncated quantile,
    ``E[g(X)] = integral_0^1 g(Q(p)) dp``: ``mean`` is ``E[X]``, ``variance`` the
    centred ``E[(X - mean)**2]`` (nothing cancels far from 0), and ``entropy``
    ``-E[log_prob(X)]``.  The integral is a composite Gauss-Legendre rule in ``p``
    (about 500 nodes in float64, 380 in float32): ``[0, 1]`` is split at
    ``p_c = F_T(base.loc)`` for a location-scale base (its mode, and the Laplace
    density's kink; 1/2 for other bases), and the panels on each side shrink
    geometrically by 4 toward ``p = 0`` and ``p = 1`` down to ``~eps/600``, so that a
    quantile that diverges at an infinite end (or varies fast near a far end) is
    integrated to full precision.  Each node's quantile is polished by Newton steps
    on ``log F`` (on ``log(-log F)`` in the upper half, with the target formed from
    the survival functions), so nodes in an upper tail, where ``1 - F`` is below
    ``eps``, keep their digits.  Measured against ``scipy.integrate.quad`` in float64
    (``tests/test_truncated.py``): relative error below ~1e-13 on bulk, one-sided and
    far-tail windows such as a Gumbel on ``[20, 21]`` or ``[40, inf)`` and a Laplace on
    ``[-50, -49]`` (5e-13 for a Cauchy's variance on ``[-300, -299]``).  The values are formed from ``x`` itself, so a window of width
    ``w`` at distance ``|x|`` from 0 loses about ``|x|/w`` ulps (a variance on
    ``[1e6, 1e6 + 1]`` keeps ~9 digits in float64, ``[20, 21]`` ~6 in float32).
    The nodes are a fixed rule (no gradient); gradients w.r.t. ``base``'s parameters
    and the ends flow through the quantiles at the nodes, so they are the same
    quadrature of the exact derivative.

    **Moments that do not exist.**  A bounded window always has them.  On a window
    with an infinite end the base is asked: where ``base.mean`` (``base.variance``)
    is not finite -- :class:`~diffsample.Cauchy` returns NaN for both -- the mean
    (variance) is taken not to exist on any infinite side, and ``mean`` is ``inf``
    for ``[low, inf)``, ``-inf`` for ``(-inf, high]`` and NaN for the whole line,
    ``variance`` is ``inf``; neither has a gradient there (0).  This reads no value
    and works under ``jax.jit``.  A base without ``mean``/``variance`` gives NaN on
    windows with an infinite end (it cannot be told whether the moment exists).
    The test is per base, not per side: a base with one heavy tail is taken to have
    no moment on either infinite side.

    **Score.**  ``score(x)[theta] = base.score(x)[theta] - d log Z / d theta`` with
    ``Z = F(high) - F(low)``, ``d log Z / d low = -f(low)/Z`` and
    ``d log Z / d high = f(high)/Z``, the ratios ``f(v)/Z`` formed as
    ``exp(log f(v) - log Z)``.  ``dF(v)/d theta`` is known for location-scale bases
    (:class:`~diffsample.Gumbel`, :class:`~diffsample.Laplace`,
    :class:`~diffsample.Cauchy` and the rest of
    :class:`~diffsample.distributions.base.LocationScale`: ``dF/dloc = -f(v)``,
    ``dF/dscale = -f(v) (v - loc)/scale``), :class:`~diffsample.Exponential`
    (``dF/drate = v f(v)/rate``) and :class:`~diffsample.Uniform` (whose ``low`` and
    ``high`` are returned as ``"base.low"``/``"base.high"``); other bases raise
    ``NotImplementedError``.  The generic score is computed in array operations:
    differentiable by torch and JAX, not recorded for :func:`diffsample.vjp`.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.distributions.truncated import Truncated
    >>> d = Truncated(ds.Normal(np.zeros(2), 1.0), -1.0, np.array([1.0, np.inf]))
    >>> d.cdf(np.array([0.0, 0.0])).round(6)
    array([0.5     , 0.405713])
    >>> type(d.mean).__name__  # a Normal base gets every method of TruncatedNormal
    'ndarray'

    Any other base, for example a Gumbel on ``[0, 2]`` and a Cauchy on ``[0, inf)``
    (whose mean is infinite):

    >>> g = Truncated(ds.Gumbel(0.0, 1.0), 0.0, 2.0)
    >>> print(f"{float(g.mean):.10f} {float(g.variance):.10f} {float(g.entropy()):.10f}")
    0.8160621417 0.2961224087 0.6400677747
    >>> float(Truncated(ds.Cauchy(0.0, 1.0), 0.0, np.inf).mean)
    inf
    >>> sorted(g.score(np.array([0.5, 1.5])))
    ['high', 'loc', 'low', 'scale']
    >>> x, pullback = ds.vjp(lambda lo: Truncated(ds.Gumbel(0.0, 1.0), lo, 2.0).mean, np.array([0.0]))
    >>> pullback(np.ones(1))[0].round(6)  # d mean / d low
    array([0.593841])
    """

    def __init__(self, base: Any, low: Any = -_INF, high: Any = _INF, validate_args: bool = True) -> None:
        self.base, self.low, self.high = base, low, high
        b = backend_of(low, high, *[getattr(base, p) for p in getattr(base, "_params", ())])
        self._backend = b
        if isinstance(base, (Normal, Logistic)):
            cls = TruncatedNormal if isinstance(base, Normal) else TruncatedLogistic
            self._ls: _LocScaleTruncated | None = cls(base.loc, base.scale, low, high, validate_args=validate_args)
            self.batch_shape = self._ls.batch_shape
            self.dtype = self._ls.dtype
        else:
            self._ls = None
            if validate_args:
                _check_window(b, low, high)
            shape = broadcast_shapes(low=low, high=high)
            batch = broadcast_shape(tuple(base.batch_shape), shape)
            if batch is None:
                raise ValueError(f"low/high of shape {shape} do not broadcast with the base's batch shape {tuple(base.batch_shape)}")
            self.batch_shape = batch
            self.dtype = float_dtype(b, low, high, *[getattr(base, p) for p in getattr(base, "_params", ())])
            # Python-scalar ends as arrays of the base's backend (no gradient to them).
            self._lo = low if kind_of(low) is not None else b.xp.asarray(float(low), dtype=self.dtype, **_dev(b))
            self._hi = high if kind_of(high) is not None else b.xp.asarray(float(high), dtype=self.dtype, **_dev(b))
        self.event_shape = ()

    def __repr__(self) -> str:
        return f"Truncated({self.base!r}, low: shape {shape_of(self.low)}, high: shape {shape_of(self.high)})"

    # -- generic helpers --------------------------------------------------------
    def _bounds_log_cdf(self) -> tuple:
        """``base.log_cdf`` at finite stand-ins of ``low``/``high`` (gradient to finite ends only)."""
        lo = _finite_part(self._lo, self._hi)
        hi = _finite_part(self._hi, self._lo)
        return self.base.log_cdf(lo), self.base.log_cdf(hi)

    def _generic_quantile(self, p: Any, q: Any = None) -> Any:
        """Truncated quantile at ``p``, carrying the implicit gradient (:func:`_g_quantile`).

        With ``q`` (``1 - p``, given exactly, for the quadrature nodes) the target is
        formed from ``q`` and the value polished by :meth:`_newton`, accurate also
        where ``1 - F`` is below ``eps``.
        """
        b = self._backend
        xp = b.xp
        if kind_of(p) is None:
            p = xp.asarray(float(p), dtype=self.dtype, **_dev(b))
        la, lb = self._bounds_log_cdf()
        # Value of the draw, without gradient: F(x) = (1 - p) F(low) + p F(high) in log space.
        with quiet_numpy():
            la0, lb0 = (stop_gradient(v) for v in (la, lb))
            la0 = _where_inf(xp, _as(b, self._lo, la0) == -_INF, -_INF, la0)
            lb0 = xp.where(_as(b, self._hi, lb0) == _INF, xp.zeros_like(lb0), lb0)
            ps = stop_gradient(p)
            lo0, hi0 = (stop_gradient(_as(b, v, la0)) for v in (self._lo, self._hi))
            if q is None:
                y = xp.logaddexp(la0 + xp.log1p(-ps), lb0 + xp.log(ps))
                x0 = stop_gradient(self.base.icdf(xp.exp(y)))
            else:
                y = xp.logaddexp(la0 + xp.log(q), lb0 + xp.log(ps))
                # Where F(x) > 1/2 the target comes from the survival functions,
                # S = q S(low) + p S(high) with S(v) = -expm1(log F(v)), so that
                # log F(x) = log1p(-S) keeps its relative accuracy however small S is
                # (logaddexp leaves an absolute error of ~eps there).
                s_t = -(xp.expm1(la0) * q + xp.expm1(lb0) * ps)
                y = xp.where(s_t < 0.5, xp.log1p(-xp.minimum(s_t, _full(xp, s_t, 0.5))), y)
                fi = xp.finfo(y.dtype)
                # The start: the base's quantile, at a probability kept below 1 (and
                # above 0) so that it is finite; Newton's steps then fix its digits.
                start = xp.clip(xp.exp(y), min=float(fi.smallest_normal), max=1.0 - float(fi.eps) / 2)
                x0 = self._newton(stop_gradient(self.base.icdf(start)), y, lo0, hi0)
            x0 = stop_gradient(_clip_window(self._into_support(x0), lo0, hi0))
        lx = self.base.log_cdf(x0)
        lpx = stop_gradient(self.base.log_prob(x0))
        nd = [stop_gradient(v) for v in (lx, la, lb, p)]
        return _g_quantile(x0, lx, la, lb, lpx, p, self._lo, self._hi, *nd)

    def _into_support(self, x: Any) -> Any:
        """``x`` clipped into ``base.support`` where the base has one: a bounded base's
        ``icdf`` can round an ulp past its support's end (``low + (high - low) p`` for the
        Uniform), where the density is 0 and the implicit gradient infinite."""
        sup = getattr(self.base, "support", None)
        if not isinstance(sup, tuple) or len(sup) != 2:
            return x
        b = self._backend
        lo, hi = (stop_gradient(_as(b, v, x)) for v in sup)
        return b.xp.minimum(b.xp.maximum(x, lo), hi)

    def _newton(self, x0: Any, y: Any, lo: Any, hi: Any) -> Any:
        """``x0`` polished by Newton steps on ``log F(x) = y`` (values, no gradient).

        ``base.icdf(exp(y))`` loses the digits of ``1 - F`` when ``F`` is near 1 (an
        upper tail): ``exp(y)`` keeps only ``eps`` of them (the caller clamps it below
        1 so that the start is finite).  Where ``y > -log 2`` the steps are taken on
        ``log(-log F(x))`` (``~ log(1 - F)``, linear in an exponential upper tail, so
        one step lands), elsewhere on ``log F(x)``; both need ``base.log_cdf``
        accurate only where it is (``log1p(-S)`` and the like).  A non-finite start
        (a base whose ``icdf`` saturates) starts from the window's finite end instead.
        Steps that come out non-finite are not taken; every iterate is clipped into
        the window.
        """
        xp = self._backend.xp
        fin_lo, fin_hi = xp.isfinite(lo), xp.isfinite(hi)
        start = xp.where(x0 > 0, xp.where(fin_hi, hi, lo), xp.where(fin_lo, lo, hi))
        x = xp.where(xp.isfinite(x0), x0, start)
        upper = y > -_LOG2
        for _ in range(_NEWTON_STEPS):
            lF = stop_gradient(self.base.log_cdf(x))
            r = xp.exp(lF - stop_gradient(self.base.log_prob(x)))  # F(x) / f(x)
            # log(-log F) - log(-y) = -log1p((y - lF) / lF); d/dx log(-log F) = f / (F log F).
            dx = xp.where(upper, xp.log1p((y - lF) / lF) * lF * r, (y - lF) * r)
            x = xp.where(xp.isfinite(dx), x + dx, x)
            x = xp.minimum(xp.maximum(x, lo), hi)
        return x

    # -- quadrature (generic bases) ---------------------------------------------
    def _quad(self) -> tuple:
        """``(Q, w)``: quantiles at the quadrature probabilities and their weights,
        each of shape ``(M,) + batch_shape``, with ``E[g(X)] ~ sum(w * g(Q), axis=0)``.

        The probabilities split at ``p_c = F_T(base.loc)`` for location-scale bases
        (the mode of every such family here, and the Laplace density's kink), at 1/2
        otherwise; ``[0, p_c]`` takes :func:`_graded_rule` graded toward 0 and
        ``[p_c, 1]`` graded toward 1, so the panels shrink geometrically toward the
        ends of the window, where the quantile varies fastest (and diverges at an
        infinite end).  Nodes are clipped into ``[tiny, 1 - eps/2]``; ``p_c`` and the
        nodes carry no gradient (a fixed rule), the quantiles do.
        """
        b = self._backend
        xp = b.xp
        dt = self.dtype
        fi = xp.finfo(dt)
        kw = _dev(b)
        r_, w_ = _graded_rule(_rule_depth(float(fi.eps)))
        lead = (len(r_),) + (1,) * len(self.batch_shape)
        r = xp.reshape(xp.asarray(r_, dtype=dt, **kw), lead)
        w = xp.reshape(xp.asarray(w_, dtype=dt, **kw), lead)
        if isinstance(self.base, LocationScale):
            pc = stop_gradient(self.cdf(stop_gradient(asarray(b, self.base.loc, dt))))
        else:
            pc = xp.asarray(0.5, dtype=dt, **kw)
        pc = xp.broadcast_to(xp.asarray(pc, dtype=dt), self.batch_shape)
        pc1 = 1.0 - pc
        with quiet_numpy():
            lower, upper = pc * r, pc1 * r
            p = xp.concat([lower, 1.0 - upper], axis=0)
            q = xp.concat([1.0 - lower, upper], axis=0)  # 1 - p, exact where p is near 1
            tiny = float(fi.smallest_normal)
            p = xp.clip(p, min=tiny, max=1.0 - float(fi.eps) / 2)
            q = xp.clip(q, min=tiny, max=1.0)
            wt = xp.concat([pc * w, pc1 * w], axis=0)
        return self._generic_quantile(p, q), wt

    def _moment_exists(self, which: str) -> tuple:
        """``(keep, fill)`` of batch shape: where the moment exists, and what to return
        where it does not (see the class notes)."""
        b = self._backend
        xp = b.xp
        shape = self.batch_shape
        lo = xp.broadcast_to(stop_gradient(asarray(b, self._lo, self.dtype)), shape)
        hi = xp.broadcast_to(stop_gradient(asarray(b, self._hi, self.dtype)), shape)
        inf_lo, inf_hi = lo == -_INF, hi == _INF
        try:
            m = getattr(self.base, which)
        except (AttributeError, NotImplementedError):
            m = None
        zero = xp.zeros(shape, dtype=self.dtype, **_dev(b))
        bounded = ~(inf_lo | inf_hi)
        if m is None:  # unknown: NaN on windows with an infinite end
            return bounded, zero + _NAN
        ok = xp.broadcast_to(xp.isfinite(stop_gradient(asarray(b, m, self.dtype))), shape)
        keep = bounded | ok
        if which == "variance":
            return keep, zero + _INF
        fill = xp.where(inf_lo & inf_hi, zero + _NAN, xp.where(inf_hi, zero + _INF, zero - _INF))
        return keep, fill

    def _no_score(self) -> Any:
        raise NotImplementedError(
            f"Truncated.score needs the derivatives of the base's CDF in its parameters; they are known "
            f"for location-scale bases (Normal, Logistic, Gumbel, Laplace, Cauchy), Exponential and Uniform, "
            f"not for a {type(self.base).__name__} base"
        )

    def _generic_score(self, x: Any) -> dict[str, Any]:
        base = self.base
        if isinstance(base, LocationScale):
            kind = "loc-scale"
        elif isinstance(base, Exponential):
            kind = "rate"
        elif isinstance(base, Uniform):
            kind = "uniform"
        else:
            return self._no_score()
        b = backend_of(x, self._lo, self._hi, *[getattr(base, n) for n in base._params])
        xp = b.xp
        dt = float_dtype(b, x, self._lo, self._hi, *[getattr(base, n) for n in base._params])
        shape = broadcast_shape(shape_of(x), self.batch_shape)
        if shape is None:
            raise ValueError(f"x of shape {shape_of(x)} does not broadcast with batch shape {self.batch_shape}")
        with quiet_numpy():
            x = asarray(b, x, dt)
            bs = base.score(x)
            lo, hi = asarray(b, self._lo, dt), asarray(b, self._hi, dt)
            la, lb = self._bounds_log_cdf()
            la, lb = _mask_bounds(xp, asarray(b, la, dt), asarray(b, lb, dt), lo, hi)
            lz = _log_diff(xp, lb, la)  # log Z
            lo_s, hi_s = asarray(b, _finite_part(lo, hi), dt), asarray(b, _finite_part(hi, lo), dt)
            zero = xp.zeros(shape, dtype=dt, **_dev(b))
            # f(low) / Z and f(high) / Z in log space (0 at an infinite end).
            ra = xp.where(xp.isfinite(lo), xp.exp(asarray(b, base.log_prob(lo_s), dt) - lz), zero)
            rb = xp.where(xp.isfinite(hi), xp.exp(asarray(b, base.log_prob(hi_s), dt) - lz), zero)
            out: dict[str, Any] = {}
            if kind == "loc-scale":
                loc, scale = (asarray(b, getattr(base, n), dt) for n in ("loc", "scale"))
                # dF(v)/dloc = -f(v), dF(v)/dscale = -f(v) (v - loc) / scale.
                out["loc"] = bs["loc"] + (rb - ra)
                out["scale"] = bs["scale"] + (rb * (hi_s - loc) - ra * (lo_s - loc)) / scale
            elif kind == "rate":
                rate = asarray(b, base.rate, dt)
                # F(v) = 1 - exp(-rate v): dF/drate = v f(v) / rate (0 for v <= 0, where f = 0).
                out["rate"] = bs["rate"] - (rb * hi_s - ra * lo_s) / rate
            else:
                u_lo, u_hi = (asarray(b, getattr(base, n), dt) for n in ("low", "high"))
                width = u_hi - u_lo
                # F(v) = (v - lo_b) / w inside the base's support: dF/dlo_b = -(1 - F)/w,
                # dF/dhi_b = -F/w there, 0 outside.
                Fa, Fb = xp.exp(la), xp.exp(lb)
                ia = xp.where((lo > u_lo) & (lo < u_hi), zero + 1.0, zero)
                ib = xp.where((hi > u_lo) & (hi < u_hi), zero + 1.0, zero)
                lzw = xp.exp(-lz) / width
                out["base.low"] = bs["low"] - ((Fb - 1.0) * ib - (Fa - 1.0) * ia) * lzw
                out["base.high"] = bs["high"] - (-Fb * ib + Fa * ia) * lzw
            out["low"] = ra + zero
            out["high"] = zero - rb
            # 0 outside the window and where the base's density is 0 (outside its support).
            inside = _inside(xp, x, lo, hi) & (stop_gradient(asarray(b, base.log_prob(x), dt)) > -_INF)
            return {k: xp.where(inside, xp.broadcast_to(v, shape), zero) for k, v in out.items()}

    # -- public API -------------------------------------------------------------
    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Reparameterized draws of shape ``sample_shape + batch_shape``, in ``[low, high]``."""
        if self._ls is not None:
            return self._ls.rsample(key, sample_shape)
        shape = self._extended_shape(sample_shape)
        u = stop_gradient(draw("uniform", key, shape, self._backend, self.dtype))
        return self._generic_quantile(u, 1.0 - u)

    def log_prob(self, x: Any) -> Any:
        """Log density at ``x``: ``base.log_prob(x) - log(F(high) - F(low))``; ``-inf`` outside."""
        if self._ls is not None:
            return self._ls.log_prob(x)
        la, lb = self._bounds_log_cdf()
        return _g_log_prob(self.base.log_prob(x), la, lb, x, self._lo, self._hi)

    def log_cdf(self, x: Any) -> Any:
        """``log((F(x) - F(low)) / (F(high) - F(low)))`` with ``x`` clipped into the window."""
        if self._ls is not None:
            return self._ls.log_cdf(x)
        la, lb = self._bounds_log_cdf()
        xc = _clip_window(x, self._lo, self._hi)
        return _g_log_cdf(self.base.log_cdf(xc), la, lb, self._lo, self._hi)

    def cdf(self, x: Any) -> Any:
        """Truncated CDF at ``x``."""
        if self._ls is not None:
            return self._ls.cdf(x)
        return _exp(self.log_cdf(x))

    def icdf(self, p: Any) -> Any:
        """Quantile at probabilities ``p`` in [0, 1]."""
        if self._ls is not None:
            return self._ls.icdf(p)
        if kind_of(p) is None:
            p = self._backend.xp.asarray(float(p), dtype=self.dtype, **_dev(self._backend))
        return self._generic_quantile(p, 1.0 - stop_gradient(p))

    def score(self, x: Any) -> dict[str, Any]:
        """Per-sample gradient of ``log_prob(x)`` w.r.t. each parameter.

        ``base.score(x)[name] - d log Z / d name`` for the base's parameters (a
        Uniform base's ``low``/``high`` as ``"base.low"``/``"base.high"``), and
        ``"low"``/``"high"`` for the window; each of shape
        ``broadcast(x.shape, batch_shape)`` and 0 where ``x`` is outside the window
        (or where the base's density is 0).
        ``NotImplementedError`` for bases other than those listed in the class notes.
        """
        if self._ls is not None:
            return self._ls.score(x)
        return self._generic_score(x)

    def entropy(self) -> Any:
        """Differential entropy, of shape ``batch_shape`` (``-E[log_prob(X)]`` by quadrature for generic bases)."""
        if self._ls is not None:
            return self._ls.entropy()
        Q, w = self._quad()
        lp = self.log_prob(Q)
        # A node can land an ulp outside a bounded base's support (base.icdf rounding),
        # where log_prob is -inf: such a node (of weight ~eps) is left out.
        xp = self._backend.xp
        return _wsum(_fill_where(lp, xp.isfinite(stop_gradient(lp)), 0.0), -w)

    @property
    def mean(self) -> Any:
        """Mean, of shape ``batch_shape`` (``inf``/``-inf``/NaN where it does not exist, see the class notes)."""
        if self._ls is not None:
            return self._ls.mean
        keep, fill = self._moment_exists("mean")
        Q, w = self._quad()
        return _fill_where(_wsum(Q, w), keep, fill)

    @property
    def variance(self) -> Any:
        """Variance, of shape ``batch_shape`` (``inf`` where it does not exist, see the class notes)."""
        if self._ls is not None:
            return self._ls.variance
        keep, fill = self._moment_exists("variance")
        Q, w = self._quad()
        return _fill_where(_wvar(Q, w), keep, fill)


def _as(b: Any, v: Any, like: Any) -> Any:
    """``v`` as an array of ``like``'s dtype on the backend's device."""
    if kind_of(v) is None:
        return b.xp.asarray(float(v), dtype=like.dtype, **_dev(b))
    return v if v.dtype == like.dtype else b.xp.astype(v, like.dtype)


@primitive(name="truncated.exp")
def _exp(xp: Any, x: Any) -> Any:
    return xp.exp(x)


@_exp.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any) -> tuple:
    return (g * out,)


@_exp.example
def _(rng: Any) -> tuple:
    return (rng.normal(size=4),), {}
