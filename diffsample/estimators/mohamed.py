"""The variance comparison of Mohamed, Rosca, Figurnov & Mnih (JMLR 2020), Figures 2-3, on NumPy.

For ``x ~ N(mu, sigma)`` (``mu = sigma = 1`` in the paper) and three families of cost
``f(x; k)``, the variance of the *single-sample* gradient estimator for ``mu`` and for
``sigma`` is compared across four estimators: the score function, the score function
with the optimal constant baseline, the pathwise estimator and the measure-valued
estimator with coupling.  :func:`exact_variances` computes each variance by
numerical integration (``scipy.integrate.quad``); :func:`empirical_variances` runs
the library's estimators and reports the per-sample variance of their contributions
with its standard error; :func:`variance_table` prints both side by side.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["COSTS", "ESTIMATORS", "exact_variances", "empirical_variances", "variance_table"]


def _quadratic(x: Any, k: Any) -> Any:
    return (x - k) ** 2


def _quadratic_grad(x: Any, k: Any) -> Any:
    return 2.0 * (x - k)


def _gauss(x: Any, k: Any) -> Any:
    return np.exp(-k * x * x)


def _gauss_grad(x: Any, k: Any) -> Any:
    return -2.0 * k * x * np.exp(-k * x * x)


def _cos(x: Any, k: Any) -> Any:
    return np.cos(k * x)


def _cos_grad(x: Any, k: Any) -> Any:
    return -k * np.sin(k * x)


#: name -> (label, f(x, k), df/dx(x, k)); NumPy functions, ``k`` a float or an array
#: broadcasting against ``x``.
COSTS: dict[str, tuple[str, Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "quadratic": ("(x-k)^2", _quadratic, _quadratic_grad),
    "exp": ("exp(-k x^2)", _gauss, _gauss_grad),
    "cos": ("cos(k x)", _cos, _cos_grad),
}

#: The four estimators compared, in the order they are reported.
ESTIMATORS = ("score function", "score function + optimal baseline", "pathwise", "measure-valued (coupled)")
_SHORT = {
    "score function": "SF",
    "score function + optimal baseline": "SF+opt",
    "pathwise": "pathwise",
    "measure-valued (coupled)": "MVD",
}

_PHI = 1.0 / math.sqrt(2.0 * math.pi)
_Z = 12.0  # integration range in standard deviations (the Normal tail beyond it is < 1e-32)


def exact_variances(cost: str, k: float, mu: float = 1.0, sigma: float = 1.0) -> dict[str, Any]:
    """Exact single-sample variances of the four estimators, by numerical integration.

    With ``z ~ N(0, 1)``, ``x = mu + sigma z``, the scores ``s_mu = z / sigma`` and
    ``s_sigma = (z^2 - 1) / sigma``, and ``g`` the exact gradient:

    * score function: ``E[f^2 s^2] - g^2``;
    * optimal baseline ``b* = E[f s^2] / E[s^2]``: ``E[(f - b*)^2 s^2] - g^2``;
    * pathwise: ``E[f'(x)^2] - g_mu^2`` and ``E[(f'(x) z)^2] - g_sigma^2``;
    * measure-valued, coupled: ``E[(f(mu + sigma W) - f(mu - sigma W))^2] / (2 pi sigma^2)
      - g_mu^2`` with ``W`` Rayleigh, and ``E[(f(mu + sigma M) - f(mu + sigma M U))^2] /
      sigma^2 - g_sigma^2`` with ``M`` double-sided Maxwell, ``U`` uniform (a double
      integral, done as nested ``quad``).

    Parameters
    ----------
    cost : {"quadratic", "exp", "cos"}
        The cost family (see :data:`COSTS`).
    k : float
        The cost's parameter.
    mu, sigma : float
        The Normal's parameters.

    Returns
    -------
    dict
        ``{"grad": {"mu": g_mu, "sigma": g_sigma}, estimator: {"mu": var, "sigma": var}, ...}``
        with the estimators of :data:`ESTIMATORS`.

    Examples
    --------
    For ``f = (x - k)^2`` the pathwise variance for ``mu`` is ``Var(2 (x - k)) = 4 sigma^2``:

    >>> from diffsample.estimators.mohamed import exact_variances
    >>> v = exact_variances("quadratic", 0.0)
    >>> round(v["pathwise"]["mu"], 6), round(v["grad"]["mu"], 6)
    (4.0, 2.0)
    """
    from scipy import integrate

    _, f, df = COSTS[cost]
    pts = [max(-_Z + 1e-3, min(_Z - 1e-3, -mu / sigma))]  # where x = 0 (the peak of exp(-k x^2))

    def e_normal(h: Callable[[float], float]) -> float:
        return integrate.quad(lambda z: h(z) * _PHI * math.exp(-0.5 * z * z), -_Z, _Z, points=pts, limit=400)[0]

    def fz(z: float) -> float:
        return float(f(mu + sigma * z, k))

    def dfz(z: float) -> float:
        return float(df(mu + sigma * z, k))

    s_mu = lambda z: z / sigma  # noqa: E731
    s_sig = lambda z: (z * z - 1.0) / sigma  # noqa: E731
    g = {"mu": e_normal(lambda z: fz(z) * s_mu(z)), "sigma": e_normal(lambda z: fz(z) * s_sig(z))}
    scores = {"mu": s_mu, "sigma": s_sig}
    out: dict[str, Any] = {"grad": g}

    sf, opt = {}, {}
    for p, s in scores.items():
        sf[p] = e_normal(lambda z: (fz(z) * s(z)) ** 2) - g[p] ** 2
        b = e_normal(lambda z: fz(z) * s(z) ** 2) / e_normal(lambda z: s(z) ** 2)
        opt[p] = e_normal(lambda z: ((fz(z) - b) * s(z)) ** 2) - g[p] ** 2
    out["score function"] = sf
    out["score function + optimal baseline"] = opt
    out["pathwise"] = {
        "mu": e_normal(lambda z: dfz(z) ** 2) - g["mu"] ** 2,
        "sigma": e_normal(lambda z: (dfz(z) * z) ** 2) - g["sigma"] ** 2,
    }

    # Measure-valued with coupling.  Rayleigh density w exp(-w^2/2) on (0, inf).
    def rayleigh(w: float) -> float:
        d = f(mu + sigma * w, k) - f(mu - sigma * w, k)
        return float(d * d) * w * math.exp(-0.5 * w * w)

    mv_mu = integrate.quad(rayleigh, 0.0, _Z, limit=400)[0] / (2.0 * math.pi * sigma**2) - g["mu"] ** 2

    # Double-sided Maxwell M = S R (S a random sign, R ~ chi(3) with density
    # sqrt(2/pi) r^2 exp(-r^2/2)) and U ~ Uniform(0, 1): the negative sample is M U.
    def inner(r: float, sgn: float) -> float:
        top = float(f(mu + sigma * sgn * r, k))
        val = integrate.quad(lambda u: (top - float(f(mu + sigma * sgn * r * u, k))) ** 2, 0.0, 1.0, limit=200)[0]
        return val * math.sqrt(2.0 / math.pi) * r * r * math.exp(-0.5 * r * r)

    e_sq = 0.5 * sum(integrate.quad(inner, 0.0, _Z, args=(sgn,), limit=200)[0] for sgn in (1.0, -1.0))
    mv_sigma = e_sq / sigma**2 - g["sigma"] ** 2
    out["measure-valued (coupled)"] = {"mu": mv_mu, "sigma": mv_sigma}
    return out


def empirical_variances(
    cost: str, ks: Sequence[float], n: int = 20_000, seed: int = 0, mu: float = 1.0, sigma: float = 1.0
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per-sample variances of the library's four estimators on NumPy, for every ``k`` at once.

    The ``k`` values form a batch: the parameters are arrays of shape ``(len(ks),)``
    and the cost acts entry-wise, so each estimator runs once.

    Parameters
    ----------
    cost : {"quadratic", "exp", "cos"}
        The cost family.
    ks : sequence of float
        Values of the cost's parameter.
    n : int
        Samples per ``k``.
    seed : int
        Seed of the keys.
    mu, sigma : float
        The Normal's parameters.

    Returns
    -------
    dict
        ``{estimator: {"mu": (variance, stderr_of_variance), "sigma": (...)}}`` with arrays
        of shape ``(len(ks),)``.  The standard error of a sample variance ``v`` is
        ``sqrt((m4 - v^2) / n)``, ``m4`` the sample fourth central moment.

    Examples
    --------
    >>> from diffsample.estimators.mohamed import empirical_variances
    >>> v, se = empirical_variances("quadratic", [0.0], n=20_000)["pathwise"]["mu"]
    >>> bool(abs(v[0] - 4.0) < 4 * se[0])   # exact: 4 sigma^2
    True
    """
    from ..distributions.normal import Normal
    from ..random.keys import key as make_key
    from .measure_valued import measure_valued
    from .pathwise import pathwise
    from .score import score_function

    _, fk, dfk = COSTS[cost]
    kk = np.asarray(ks, dtype=np.float64)
    params = {"loc": np.full(kk.shape, float(mu)), "scale": np.full(kk.shape, float(sigma))}

    dist_fn = Normal
    def f(x: Any) -> Any:
        return fk(x, kk)

    def grad_f(x: Any) -> Any:
        return dfk(x, kk)

    runs = {
        "score function": lambda key: score_function(dist_fn, params, f, key, n),
        "score function + optimal baseline": lambda key: score_function(dist_fn, params, f, key, n, "optimal"),
        "pathwise": lambda key: pathwise(dist_fn, params, f, key, n, grad_f=grad_f),
        "measure-valued (coupled)": lambda key: measure_valued(dist_fn, params, f, key, n, coupling=True),
    }
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for i, (name, run) in enumerate(runs.items()):
        r = run(make_key(seed * 7919 + i))
        res = {}
        for p, pn in (("mu", "loc"), ("sigma", "scale")):
            c = np.asarray(r.per_sample[pn])
            dev = c - c.mean(axis=0)
            v = np.asarray(r.variance(pn))
            m4 = np.mean(dev**4, axis=0)
            res[p] = (v, np.sqrt(np.maximum(m4 - v * v, 0.0) / c.shape[0]))
        out[name] = res
    return out


DEFAULT_KS = {"quadratic": (-3.0, 0.0, 3.0), "exp": (0.1, 1.0, 10.0), "cos": (0.5, 1.5, 5.0)}


def variance_table(
    ks: dict[str, Sequence[float]] | None = None, n: int = 20_000, seed: int = 0, print_table: bool = True
) -> list[dict[str, Any]]:
    """The four estimators' single-sample variances on the Mohamed et al. costs, exact and empirical.

    Runs on NumPy (no framework) in a few seconds: the library's estimators with ``n``
    samples per ``k``, and the exact variances by numerical integration, for
    ``x ~ N(1, 1)``.

    Parameters
    ----------
    ks : dict, optional
        Cost name -> values of ``k`` (default: three per cost,
        ``{"quadratic": (-3, 0, 3), "exp": (0.1, 1, 10), "cos": (0.5, 1.5, 5)}``).
    n : int
        Samples per estimator and ``k``.
    seed : int
        Seed of the keys.
    print_table : bool
        Print the table.

    Returns
    -------
    list of dict
        One row per (cost, k, parameter): ``cost``, ``k``, ``param`` and, per estimator,
        ``(empirical, stderr, exact)``; the field ``worst_z`` is the largest
        ``|empirical - exact| / stderr`` over the row.

    Examples
    --------
    >>> from diffsample.estimators import variance_table
    >>> rows = variance_table({"quadratic": (0.0,)}, n=5000, print_table=False)
    >>> [r["param"] for r in rows], rows[0]["pathwise"][2]   # exact pathwise Var for mu: 4
    (['mu', 'sigma'], 4.0)
    """
    ks = dict(DEFAULT_KS) if ks is None else ks
    rows: list[dict[str, Any]] = []
    for cost, kv in ks.items():
        if cost not in COSTS:
            raise ValueError(f"unknown cost {cost!r}; known: {sorted(COSTS)}")
        emp = empirical_variances(cost, list(kv), n=n, seed=seed)
        for i, k in enumerate(kv):
            ex = exact_variances(cost, float(k))
            for p in ("mu", "sigma"):
                row: dict[str, Any] = {"cost": cost, "k": float(k), "param": p}
                worst = 0.0
                for est in ESTIMATORS:
                    v, se = emp[est][p]
                    e = float(ex[est][p])
                    row[est] = (float(v[i]), float(se[i]), round(e, 12))
                    # (an absolute floor for points where both are ~0, e.g. a variance that is
                    # exactly 0 such as the coupled measure-valued one for mu at k = mu)
                    worst = max(worst, abs(float(v[i]) - e) / max(float(se[i]), 1e-12 + 1e-9 * abs(e)))
                row["worst_z"] = worst
                rows.append(row)
    if print_table:
        print(_format_table(rows, n))
    return rows


def _format_table(rows: list[dict[str, Any]], n: int) -> str:
    """The rows of :func:`variance_table` as text."""
    head = f"{'cost':<12} {'k':>6} {'param':<6}" + "".join(f" {_SHORT[e]:^21}" for e in ESTIMATORS) + "   max|z|"
    lines = [
        "Variance of the single-sample gradient estimator, x ~ N(1, 1) (Mohamed et al. 2020, Figs. 2-3)",
        f"each cell: empirical (n = {n} per cell, NumPy) / exact (scipy.integrate.quad)",
        head,
        "-" * len(head),
    ]
    for r in rows:
        cells = "".join(f" {_fmt(r[e][0]):>10}/{_fmt(r[e][2]):<10}" for e in ESTIMATORS)
        lines.append(f"{COSTS[r['cost']][0]:<12} {r['k']:>6g} {r['param']:<6}{cells}   {r['worst_z']:5.2f}")
    return "\n".join(lines)


def _fmt(v: float) -> str:
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.4g}"
    return f"{v:.3e}"
