"""TruncatedNormal sampling against ``scipy.stats.truncnorm`` and ``jax.random.truncated_normal``.

Run as ``python benchmarks/bench_truncated.py`` (``--quick`` for a smoke run;
``--parts speed,cdf,jax,tails`` to choose what runs).  Four parts:

* ``speed``: NumPy, float64, 1e6 draws, sampling only (SciPy has no gradient):
  ``scipy.stats.truncnorm.rvs(a, b, size=n, random_state=rng)`` against
  ``TruncatedNormal(0, 1, a, b).sample(key, (n,))`` with ``key`` a
  ``numpy.random.Generator`` (``native generator``) or ``ds.random.key(0)`` (``key
  array``: a Philox generator is built per call).  Timed interleaved in one process
  with the calling thread's CPU time as the clock (all of this work runs on the
  calling thread; see ``_timing.py``).  Ours samples these two windows by exact
  rejection from the native generator (standard normals kept inside ``[-1, 2]``;
  Marsaglia's tail method on ``[8, inf)``).  The ``floor`` rows time, against the
  same peer, what such samplers cannot avoid: the normals the rejection sampler
  draws on average for 1e6 draws in ``[-1, 2]`` (``n / Z``, ``Z = 0.8186`` the
  window's mass) and plain ``n`` normals, the ``2n`` uniforms of the tail method,
  each from the benchmark's PCG64 generator (a key array's Philox is slower), and
  ``scipy.special.ndtri`` of 1e6 uniforms (the inverse CDF's floor).
  Target (issue 4): >= 20x faster than SciPy.
* ``cdf``: the largest relative difference between our ``cdf``/``log_prob`` and
  SciPy's ``truncnorm.cdf``/``logpdf`` on a grid through bulk windows, float64.
  Target: 1e-12.
* ``jax``: float32, 1e6 draws, under ``jax.jit`` with the key and the bounds as
  traced arguments: ``jax.random.truncated_normal(key, a, b, (n,))`` against
  ``TruncatedNormal(0, 1, a, b).sample(key, (n,))``; ``block_until_ready`` on the
  draws, wall clock.  Target: our time <= 1.5x the peer's.
* ``tails``: 1e5 draws per window and sampler; counts of draws outside ``[a, b]``,
  of non-finite draws, and the sample mean against the exact mean (mpmath, 60
  digits, closed form ``(phi(a) - phi(b)) / Z``).  A mean is called wrong when it is
  more than 6 standard errors (``sd / sqrt(n)``, sd from mpmath) plus 2 ulps of the
  mean away.  Also SciPy's ``truncnorm.mean/var/entropy`` methods against mpmath.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

from _timing import add_repo_to_path, compare, environment, fmt_time, markdown_table

add_repo_to_path()

import numpy as np  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

import diffsample as ds  # noqa: E402
from diffsample.distributions.truncated import TruncatedNormal  # noqa: E402

INF = math.inf


def _plan(quick: bool) -> dict:
    return {"rounds": 3, "block_s": 0.01} if quick else {"rounds": 9, "block_s": 0.2}


# ---------------------------------------------------------------------- NumPy speed
def speed_rows(n: int, quick: bool) -> list[list[str]]:
    rows = []
    plan = dict(_plan(quick), clock=time.thread_time)
    rng_peer = np.random.default_rng(0)
    for a, b in [(-1.0, 2.0), (8.0, INF)]:
        d = TruncatedNormal(0.0, 1.0, a, b)

        def peer(a=a, b=b) -> None:
            scipy.stats.truncnorm.rvs(a, b, size=n, random_state=rng_peer)

        for name, key in [("native generator", np.random.default_rng(1)), ("key array", ds.random.key(0))]:

            def ours(key=key, d=d) -> None:
                d.sample(key, (n,))

            for steady in (True, False):
                r = compare(peer, ours, steady=steady, **plan)
                how = "repeated calls" if steady else "1 call after SciPy's"
                rows.append([f"[{a:g}, {b:g}]", name, how, fmt_time(r.peer_s), fmt_time(r.ours_s), f"{1 / r.ratio:.1f}x", _clean(r)])
                _emit(rows[-1])
    u = np.random.default_rng(2).random(n)
    g = np.random.default_rng(3)
    mass = scipy.special.ndtr(2.0) - scipy.special.ndtr(-1.0)
    floors = [
        ("[-1, 2]", f"floor: rng.standard_normal(n / Z = {n / mass:.3g})", lambda: g.standard_normal(int(n / mass))),
        ("[-1, 2]", "floor: rng.standard_normal(n)", lambda: g.standard_normal(n)),
        ("[-1, 2]", "floor: scipy.special.ndtri(u) alone", lambda: scipy.special.ndtri(u)),
        ("[8, inf]", "floor: rng.random(2n)", lambda: g.random(2 * n)),
    ]
    for window, name, fn in floors:
        a, b = (-1.0, 2.0) if window == "[-1, 2]" else (8.0, INF)
        r = compare(lambda a=a, b=b: scipy.stats.truncnorm.rvs(a, b, size=n, random_state=rng_peer), fn, steady=True, **plan)
        rows.append([window, name, "repeated calls", fmt_time(r.peer_s), fmt_time(r.ours_s), f"{1 / r.ratio:.1f}x", _clean(r)])
        _emit(rows[-1])
    return rows


def _clean(r) -> str:
    return "yes" if r.clean else "no (noisy rounds used)"


# ------------------------------------------------------------------ CDF agreement
def cdf_rows() -> list[list[str]]:
    rows = []
    worst_cdf = worst_lp = 0.0
    windows = [(-1.0, 2.0), (-3.0, 0.5), (0.2, 0.9), (-INF, 1.0), (-0.5, INF), (1.0, 4.0), (-2.5, 2.5)]
    for a, b in windows:
        for loc, scale in [(0.0, 1.0), (1.3, 0.4), (-2.0, 3.0)]:
            lo = loc + scale * a if math.isfinite(a) else a
            hi = loc + scale * b if math.isfinite(b) else b
            za, zb = max(a, -8.0), min(b, 8.0)
            x = loc + scale * np.linspace(za, zb, 401)[1:-1]
            d = TruncatedNormal(loc, scale, lo, hi)
            ref = scipy.stats.truncnorm(a, b, loc=loc, scale=scale)
            c_ref, lp_ref = ref.cdf(x), ref.logpdf(x)
            ok = c_ref > 1e-300
            worst_cdf = max(worst_cdf, float(np.max(np.abs(d.cdf(x)[ok] - c_ref[ok]) / c_ref[ok])))
            worst_lp = max(worst_lp, float(np.max(np.abs(d.log_prob(x) - lp_ref) / np.maximum(1.0, np.abs(lp_ref)))))
    rows.append(["cdf vs truncnorm.cdf", "max relative difference", f"{worst_cdf:.2e}", "1e-12", "yes" if worst_cdf <= 1e-12 else "**no**"])
    rows.append(["log_prob vs truncnorm.logpdf", "max |diff| / max(1, |ref|)", f"{worst_lp:.2e}", "1e-12", "yes" if worst_lp <= 1e-12 else "**no**"])
    return rows


# ------------------------------------------------------------------------- JAX speed
def jax_rows(n: int, quick: bool) -> list[list[str]]:
    import jax
    import jax.numpy as jnp

    rows = []
    f32 = jnp.float32

    @jax.jit
    def peer_fn(key, a, b):
        return jax.random.truncated_normal(key, a, b, (n,), f32)

    @jax.jit
    def ours_fn(key, a, b):
        return TruncatedNormal(jnp.zeros((), f32), jnp.ones((), f32), a, b).sample(key, (n,))

    key = jax.random.PRNGKey(0)
    for a, b in [(-1.0, 2.0), (0.0, INF), (8.0, INF), (30.0, 31.0)]:
        aa, bb = jnp.asarray(a, f32), jnp.asarray(b, f32)
        r = compare(lambda: jax.block_until_ready(peer_fn(key, aa, bb)),
                    lambda: jax.block_until_ready(ours_fn(key, aa, bb)), **_plan(quick))
        target = r.ratio <= 1.5
        rows.append([f"[{a:g}, {b:g}]", fmt_time(r.peer_s), fmt_time(r.ours_s), f"{r.ratio:.2f}", "yes" if target else "**no**", _clean(r)])
        _emit(rows[-1])
    return rows


# ------------------------------------------------------------------------ tails
def _mp_moments(a: float, b: float) -> tuple[float, float, float]:
    import mpmath as mp

    mp.mp.dps = 60
    A = mp.mpf(a) if math.isfinite(a) else -mp.inf
    B = mp.mpf(b) if math.isfinite(b) else mp.inf
    right = math.isfinite(a) and (not math.isfinite(b) or a + b > 0)
    Z = (mp.ncdf(-A) - (mp.ncdf(-B) if math.isfinite(b) else 0)) if right else ((mp.ncdf(B) if math.isfinite(b) else 1) - (mp.ncdf(A) if math.isfinite(a) else 0))
    phi = lambda t: mp.npdf(t) if mp.isfinite(t) else mp.mpf(0)  # noqa: E731
    tphi = lambda t: t * mp.npdf(t) if mp.isfinite(t) else mp.mpf(0)  # noqa: E731
    m = (phi(A) - phi(B)) / Z
    v = 1 + (tphi(A) - tphi(B)) / Z - m * m
    h = mp.log(mp.sqrt(2 * mp.pi * mp.e) * Z) + (tphi(A) - tphi(B)) / (2 * Z)
    return float(m), float(v), float(h)


TAIL_WINDOWS = [(8.0, INF), (30.0, 31.0), (100.0, 101.0), (-10001.0, -10000.0), (-INF, -40.0), (1e4, INF)]


def _verdict(x: np.ndarray, a: float, b: float, dtype: str) -> tuple[str, str, str, str, bool]:
    n = x.size
    m, v, _ = _mp_moments(a, b)
    out = int(np.sum(~((x >= a) & (x <= b)) & np.isfinite(x)))
    nonfinite = int(np.sum(~np.isfinite(x)))
    xf = x.astype(np.float64)
    mean = float(np.mean(xf[np.isfinite(xf)])) if nonfinite < n else float("nan")
    tol = 6 * math.sqrt(v / n) + 2 * float(np.finfo(dtype).eps) * abs(m)
    ok_mean = abs(mean - m) <= tol
    wrong = out > 0 or nonfinite > 0 or not ok_mean
    return str(out), str(nonfinite), f"{mean:.10g} (exact {m:.10g})", "**wrong**" if wrong else "right", wrong


def tail_rows(n: int) -> tuple[list[list[str]], list[list[str]]]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    rows = []
    samplers = []
    for dtype in ("float32", "float64"):
        jdt = jnp.float32 if dtype == "float32" else jnp.float64

        def peer_jax(a, b, jdt=jdt):
            return np.asarray(jax.jit(lambda k, a, b: jax.random.truncated_normal(k, a, b, (n,), jdt))(
                jax.random.PRNGKey(0), jnp.asarray(a, jdt), jnp.asarray(b, jdt)))

        def ours_jax(a, b, jdt=jdt):
            f = jax.jit(lambda k, a, b: TruncatedNormal(jnp.zeros((), jdt), jnp.ones((), jdt), a, b).sample(k, (n,)))
            return np.asarray(f(jax.random.PRNGKey(0), jnp.asarray(a, jdt), jnp.asarray(b, jdt)))

        def ours_np(a, b, dtype=dtype):
            return TruncatedNormal(np.zeros((), dtype), np.ones((), dtype), np.asarray(a, dtype), np.asarray(b, dtype)).sample(ds.random.key(0), (n,))

        samplers += [(f"jax.random.truncated_normal ({dtype}, jit)", dtype, peer_jax),
                     (f"ours, JAX ({dtype}, jit)", dtype, ours_jax),
                     (f"ours, NumPy ({dtype})", dtype, ours_np)]
    samplers.append(("scipy.stats.truncnorm.rvs (float64)", "float64",
                     lambda a, b: scipy.stats.truncnorm.rvs(a, b, size=n, random_state=np.random.default_rng(0))))
    for a, b in TAIL_WINDOWS:
        for name, dtype, fn in samplers:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    x = np.asarray(fn(a, b))
                out, nonfinite, mean, verdict, _ = _verdict(x, a, b, dtype)
            rows.append([f"[{a:g}, {b:g}]", name, out, nonfinite, mean, verdict])
            _emit(rows[-1])
    # SciPy's moment methods against mpmath (ours: TruncatedNormal.mean/variance/entropy).
    mrows = []
    for a, b in TAIL_WINDOWS[:5]:
        m, v, h = _mp_moments(a, b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                s = scipy.stats.truncnorm(a, b)
                sm, sv, sh = float(s.mean()), float(s.var()), float(s.entropy())
        d = TruncatedNormal(0.0, 1.0, a, b)
        om, ov, oh = float(d.mean), float(d.variance), float(d.entropy())

        def rel(x, r):
            return f"{abs(x - r) / abs(r):.1e}" if math.isfinite(x) else str(x)

        mrows.append([f"[{a:g}, {b:g}]", f"{v:.6g}", rel(sv, v), rel(ov, v), rel(sm, m), rel(om, m), rel(sh, h), rel(oh, h)])
    return rows, mrows


_VERBOSE = False


def _emit(row: list[str]) -> None:
    if _VERBOSE:
        print(" | ".join(row), flush=True)


def main(argv: list[str] | None = None) -> None:
    global _VERBOSE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few rounds, short blocks: a smoke run")
    p.add_argument("--parts", default="speed,cdf,jax,tails")
    p.add_argument("--n", default="1e6", help="draws per call for the speed parts")
    p.add_argument("--verbose", action="store_true", help="print each row as it is measured")
    args = p.parse_args(argv)
    _VERBOSE = args.verbose
    n = int(float(args.n))
    parts = [s.strip() for s in args.parts.split(",")]
    import jax  # noqa: F401  (versions in the environment line)

    print(f"TruncatedNormal sampling, n = {n:.0e}{' (--quick)' if args.quick else ''}")
    print(environment("numpy", "scipy", "jax", "jaxlib", "array_api_compat"))
    if "speed" in parts:
        print("\nNumPy, float64, sampling only (clock: thread CPU time); speed-up = SciPy time / ours (target >= 20x)\n")
        print(markdown_table(["window", "ours given", "timed as", "scipy truncnorm.rvs", "ours", "speed-up", "clean rounds"], speed_rows(n, args.quick)))
    if "cdf" in parts:
        print("\nAgreement with scipy.stats.truncnorm, float64, bulk windows (7 windows x 3 (loc, scale), 399 points each)\n")
        print(markdown_table(["quantity", "measure", "value", "target", "met?"], cdf_rows()))
    if "jax" in parts:
        print("\nJAX, float32, under jax.jit (wall clock); ratio = ours / jax.random.truncated_normal (target <= 1.5)\n")
        print(markdown_table(["window", "jax.random", "ours", "ratio", "<= 1.5?", "clean rounds"], jax_rows(n, args.quick)))
    if "tails" in parts:
        nt = 10_000 if args.quick else 100_000
        rows, mrows = tail_rows(nt)
        print(f"\nSamples in the tails ({nt:.0e} draws each, standard normal truncated to the window)\n")
        print(markdown_table(["window", "sampler", "outside [a, b]", "inf/NaN", "sample mean", "verdict"], rows))
        print("\nMoments: relative error against mpmath (60 digits) of scipy.stats.truncnorm and of ours\n")
        print(markdown_table(["window", "exact variance", "SciPy var", "ours var", "SciPy mean", "ours mean", "SciPy entropy", "ours entropy"], mrows))


if __name__ == "__main__":
    main()
