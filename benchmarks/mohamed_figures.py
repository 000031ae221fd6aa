"""Reproduce Figures 2-3 of Mohamed, Rosca, Figurnov & Mnih, "Monte Carlo Gradient
Estimation in Machine Learning" (JMLR 2020) with diffsample on NumPy.

Run as ``python benchmarks/mohamed_figures.py`` (``--n`` samples per point, default
20000; ``--quick`` for 12 values of k per cost instead of 100).

For ``x ~ N(mu = 1, sigma = 1)`` and the costs

* ``f(x) = (x - k)^2``,   k = linspace(-3, 3, 100)      (Figure 2),
* ``f(x) = exp(-k x^2)``, k log-spaced from 0.1 to 10   (Figure 3, top),
* ``f(x) = cos(k x)``,    k log-spaced from 0.5 to 5    (Figure 3, bottom),

(the log-spaced grids are ``numpy.geomspace(0.1, 10, 100)`` and
``numpy.geomspace(0.5, 5, 100)``: the issue writes them as ``logspace(0.1, 10)``,
read here as endpoints, not as powers of ten), the script computes the variance of
the single-sample gradient estimator for mu and for sigma of four estimators
(score function, score function with the optimal constant baseline, pathwise,
measure-valued with coupling):

* exactly, by numerical integration (``scipy.integrate.quad``; nested for the
  coupled Maxwell/uniform pair), see ``diffsample.estimators.mohamed.exact_variances``;
* empirically, as the per-sample variance of the contributions returned by the
  library's estimators (``EstimatorResult.per_sample``), with its standard error
  ``sqrt((m4 - v^2) / n)``.

It checks that every empirical variance agrees with its integral within sampling
error (|z| below the two-sided Bonferroni threshold for all comparisons at a total
false-failure rate of 1e-3), prints a table, and saves
``benchmarks/figures/mohamed_fig2.png`` and ``benchmarks/figures/mohamed_fig3.png``
(lines: exact; dots: empirical).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from diffsample.estimators.mohamed import COSTS, ESTIMATORS, empirical_variances, exact_variances  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
COLORS = {
    "score function": "tab:red",
    "score function + optimal baseline": "tab:orange",
    "pathwise": "tab:blue",
    "measure-valued (coupled)": "tab:green",
}


def grids(quick: bool) -> dict[str, np.ndarray]:
    m = 12 if quick else 100
    return {
        "quadratic": np.linspace(-3.0, 3.0, m),
        "exp": np.geomspace(0.1, 10.0, m),
        "cos": np.geomspace(0.5, 5.0, m),
    }


def compute(ks: dict[str, np.ndarray], n: int) -> dict:
    out = {}
    for cost, kv in ks.items():
        t0 = time.perf_counter()
        ex = [exact_variances(cost, float(k)) for k in kv]
        t1 = time.perf_counter()
        emp = empirical_variances(cost, kv, n=n, seed=1)
        t2 = time.perf_counter()
        exact = {e: {p: np.array([v[e][p] for v in ex]) for p in ("mu", "sigma")} for e in ESTIMATORS}
        out[cost] = {"k": kv, "exact": exact, "emp": emp}
        print(f"  {cost:<10} exact integrals {t1 - t0:5.1f} s, estimators on NumPy {t2 - t1:5.1f} s")
    return out


def check(res: dict, n: int) -> bool:
    from scipy.stats import norm

    m = sum(len(r["k"]) for r in res.values()) * len(ESTIMATORS) * 2
    zc = float(norm.isf(1e-3 / (2 * m)))
    print(f"\nAgreement: |empirical - exact| / stderr over {m} comparisons; threshold {zc:.2f} "
          "(two-sided, Bonferroni, total false-failure rate 1e-3)")
    ok = True
    for cost, r in res.items():
        worst = (0.0, None)
        for e in ESTIMATORS:
            for p in ("mu", "sigma"):
                v, se = r["emp"][e][p]
                ex = r["exact"][e][p]
                # An absolute floor for the degenerate points where both are ~0 (e.g. the
                # coupled measure-valued estimator for mu at k = mu, whose variance is 0).
                z = np.abs(v - ex) / np.maximum(se, 1e-12 + 1e-9 * np.abs(ex))
                i = int(np.argmax(z))
                if z[i] > worst[0]:
                    worst = (float(z[i]), f"{e}, {p}, k = {r['k'][i]:.3g}")
        ok &= worst[0] < zc
        print(f"  {COSTS[cost][0]:<12} max |z| = {worst[0]:.2f}  ({worst[1]})  {'ok' if worst[0] < zc else 'DISAGREES'}")
    return ok


def table(res: dict, n: int, rows_per_cost: int = 5) -> None:
    short = {"score function": "SF", "score function + optimal baseline": "SF+opt.baseline",
             "pathwise": "pathwise", "measure-valued (coupled)": "measure-valued"}
    head = f"{'cost':<12} {'k':>7} {'param':<6}" + "".join(f" {short[e]:>24}" for e in ESTIMATORS)
    print(f"\nVariance of the single-sample estimator, x ~ N(1, 1): empirical (n = {n}) / exact (quad)")
    print(head)
    print("-" * len(head))
    for cost, r in res.items():
        kv = r["k"]
        idx = np.unique(np.linspace(0, len(kv) - 1, rows_per_cost).round().astype(int))
        for i in idx:
            for p in ("mu", "sigma"):
                cells = ""
                for e in ESTIMATORS:
                    v = r["emp"][e][p][0][i]
                    x = r["exact"][e][p][i]
                    cells += f" {v:>11.4g}/{x:<12.4g}"
                print(f"{COSTS[cost][0]:<12} {kv[i]:>7.3g} {p:<6}{cells}")


def plot(res: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.join(HERE, "figures"), exist_ok=True)
    paths = []

    def panel(ax, r, p, logx):
        kv = r["k"]
        for e in ESTIMATORS:
            ax.plot(kv, r["exact"][e][p], color=COLORS[e], lw=1.6, label=e)
            ax.plot(kv, r["emp"][e][p][0], "o", color=COLORS[e], ms=2.5, alpha=0.6)
        ax.set_yscale("log")
        if logx:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if kv[0] <= t <= kv[-1] * 1.001]
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("k")
        ax.set_ylabel("variance")
        ax.grid(alpha=0.3, which="both")

    # Figure 2: (x - k)^2, with the cost and its derivative for k in {-3, 0, 3} below.
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), gridspec_kw={"height_ratios": [2, 1]})
    r = res["quadratic"]
    for j, p in enumerate(("mu", "sigma")):
        panel(axes[0, j], r, p, False)
        axes[0, j].set_title(f"(x - k)$^2$: variance of the gradient estimator for $\\{p}$")
    # The coupled measure-valued variance for mu is exactly 0 at k = mu = 1 (the two
    # halves cancel); clip the axis rather than follow it down to round-off.
    axes[0, 0].set_ylim(bottom=1e-3)
    axes[0, 0].annotate("-> 0 at k = 1", (1.0, 1.3e-3), fontsize=8, color=COLORS["measure-valued (coupled)"])
    axes[0, 0].legend(fontsize=8)
    xs = np.linspace(-4, 6, 400)
    for j, k in enumerate((-3.0, 0.0, 3.0)):
        c = f"C{j}"
        axes[1, 0].plot(xs, COSTS["quadratic"][1](xs, k), color=c, label=f"k = {k:g}")
        axes[1, 0].plot(xs, COSTS["quadratic"][2](xs, k), "--", color=c)
    axes[1, 0].set_title("f(x; k) (solid) and f'(x; k) (dashed)")
    axes[1, 0].legend(fontsize=8)
    axes[1, 0].set_ylim(-15, 40)
    dens = np.exp(-0.5 * (xs - 1) ** 2) / np.sqrt(2 * np.pi)
    axes[1, 1].plot(xs, dens, color="k")
    axes[1, 1].set_title("the measure N(x | 1, 1)")
    fig.suptitle("Mohamed et al. (2020), Figure 2, reproduced with diffsample on NumPy (lines: exact, dots: empirical)")
    fig.tight_layout()
    path = os.path.join(HERE, "figures", "mohamed_fig2.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    # Figure 3: exp(-k x^2) (top) and cos(k x) (bottom).
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for i, cost in enumerate(("exp", "cos")):
        for j, p in enumerate(("mu", "sigma")):
            panel(axes[i, j], res[cost], p, True)
            axes[i, j].set_title(f"{COSTS[cost][0]}: gradient for $\\{p}$")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Mohamed et al. (2020), Figure 3, reproduced with diffsample on NumPy (lines: exact, dots: empirical)")
    fig.tight_layout()
    path = os.path.join(HERE, "figures", "mohamed_fig3.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="samples per point (default 20000)")
    ap.add_argument("--quick", action="store_true", help="12 values of k per cost instead of 100")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print(f"Mohamed et al. (2020) Figures 2-3 on NumPy, x ~ N(1, 1), n = {args.n} samples per point")
    res = compute(grids(args.quick), args.n)
    table(res, args.n)
    ok = check(res, args.n)
    if not args.no_plot:
        for p in plot(res):
            print(f"saved {os.path.relpath(p)}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
