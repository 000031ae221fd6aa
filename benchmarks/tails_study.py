"""The tails study: pathwise gradients of TruncatedNormal vs TruncatedLogistic far out.

Run as ``python benchmarks/tails_study.py`` (``--n`` draws per window, default 20000;
``--amax`` the last window start, default 30; ``--out`` the figure path).  It prints a
table and saves ``benchmarks/figures/tails_study.png``.  NumPy only, no framework:
every gradient comes from the library's hand-written VJPs through ``ds.vjp``.

Set-up.  Both families in standard form (``loc = 0``, ``scale = 1``; the logistic's
standard deviation is then ``pi/sqrt(3) = 1.81``), truncated to the window
``[a, a + 1]`` in its own standardized units, ``a = 0, 1, ..., amax``.  For each
window and dtype the same ``n`` uniforms ``u`` (one fixed key) give draws
``x = F_T^{-1}(u)`` and, per draw, the pathwise derivatives

* ``dx/dloc`` and ``dx/dscale`` (implicit reparameterization),
* ``dx/du = 1 / f_T(x)``, the Jacobian of the sampler w.r.t. its noise (``icdf``'s VJP);
  its exact mean is the window's width, 1, and its supremum ``Z / f(a + 1)``,

and the single-draw estimator of ``dE[x]/dloc`` is ``dx/dloc`` itself, so its
variance is the variance of those per-draw values.  Reported: the mean and the
largest ``|dx/dloc|``, ``|dx/dscale|``, ``dx/du``, the estimator's variance and
relative standard deviation ``sd / |mean|``, the number of non-finite values, and
for float32 the relative deviation of the float32 mean of ``dx/dloc`` from the
float64 one (same uniforms).  ``1/f(a)``, the untruncated inverse CDF's derivative
``dx/dp`` at the window's start (what a parameterization of the window by its
probability levels would see), is printed alongside.
"""

from __future__ import annotations

import argparse
import math
import os

from _timing import add_repo_to_path, markdown_table

add_repo_to_path()

import numpy as np  # noqa: E402

import diffsample as ds  # noqa: E402
from diffsample.distributions.truncated import TruncatedLogistic, TruncatedNormal  # noqa: E402

FAMILIES = {"normal": TruncatedNormal, "logistic": TruncatedLogistic}


def _log_pdf(family: str, a: float) -> float:
    if family == "normal":
        return -0.5 * a * a - 0.5 * math.log(2 * math.pi)
    return -abs(a) - 2 * math.log1p(math.exp(-abs(a)))


def _sup_du(family: str, a: float) -> float:
    """Exact largest dx/du = 1/f_T(x) on [a, a + 1], at x = a + 1 (the density decreases there)."""
    d = FAMILIES[family](0.0, 1.0, a, a + 1.0)
    return float(np.exp(-d.log_prob(np.float64(a + 1.0))))


def measure(family: str, a: float, n: int, dtype: str, u64: np.ndarray) -> dict:
    cls = FAMILIES[family]
    u = u64.astype(dtype)
    shape = (n,)
    params = [np.full(shape, v, dtype=dtype) for v in (0.0, 1.0, a, a + 1.0)]
    x, pullback = ds.vjp(lambda *p: cls(*p).icdf(u), *params)
    d_loc, d_scale, _, _ = pullback(np.ones(shape, dtype=dtype))
    d = cls(*(np.asarray(v, dtype=dtype) for v in (0.0, 1.0, a, a + 1.0)))
    _, pull_u = ds.vjp(lambda uu: d.icdf(uu), u)
    (d_u,) = pull_u(np.ones(shape, dtype=dtype))
    out = {"x": x}
    for name, g in (("loc", d_loc), ("scale", d_scale), ("u", d_u)):
        g64 = g.astype(np.float64)
        fin = np.isfinite(g64)
        out[name] = g64
        out[f"nonfinite_{name}"] = int(np.sum(~fin))
    return out


def study(n: int, amax: int) -> tuple[list[dict], np.ndarray]:
    u64 = ds.random.uniform(ds.random.key(2024), (n,), np.float64)
    rows = []
    starts = np.arange(0, amax + 1, dtype=float)
    for family in FAMILIES:
        for a in starts:
            res = {dt: measure(family, float(a), n, dt, u64) for dt in ("float64", "float32")}
            for dt in ("float64", "float32"):
                r = res[dt]
                dl, dsc, du = r["loc"], r["scale"], r["u"]
                mean_loc = float(np.mean(dl))
                row = {
                    "family": family, "a": float(a), "dtype": dt,
                    "mean_loc": mean_loc, "max_loc": float(np.max(np.abs(dl))),
                    "mean_scale": float(np.mean(np.abs(dsc))), "max_scale": float(np.max(np.abs(dsc))),
                    "var_loc": float(np.var(dl)), "rsd_loc": float(np.std(dl) / abs(mean_loc)) if mean_loc != 0 else math.inf,
                    "mean_du": float(np.mean(du)), "max_du": float(np.max(du)),
                    "nonfinite": r["nonfinite_loc"] + r["nonfinite_scale"] + r["nonfinite_u"],
                    "inv_pdf_a": math.exp(-_log_pdf(family, float(a))),
                    "sup_du": _sup_du(family, float(a)),
                    "dev32": abs(mean_loc - float(np.mean(res["float64"]["loc"]))) / abs(float(np.mean(res["float64"]["loc"])))
                    if dt == "float32" else 0.0,
                }
                rows.append(row)
    return rows, starts


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"


def table(rows: list[dict], show: list[float]) -> str:
    header = ["family", "a", "dtype", "E[dx/dloc]", "max |dx/dloc|", "E|dx/dscale|", "max |dx/dscale|",
              "Var(dx/dloc)", "sd/|mean|", "mean dx/du", "max dx/du", "sup dx/du", "1/f(a)", "inf/NaN", "f32 vs f64"]
    out = []
    for r in rows:
        if r["a"] not in show:
            continue
        out.append([r["family"], f"{r['a']:g}", r["dtype"], _fmt(r["mean_loc"]), _fmt(r["max_loc"]), _fmt(r["mean_scale"]),
                    _fmt(r["max_scale"]), _fmt(r["var_loc"]), _fmt(r["rsd_loc"]), _fmt(r["mean_du"]), _fmt(r["max_du"]),
                    _fmt(r["sup_du"]), _fmt(r["inv_pdf_a"]), str(r["nonfinite"]), _fmt(r["dev32"]) if r["dtype"] == "float32" else "-"])
    return markdown_table(header, out)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"normal": "tab:blue", "logistic": "tab:orange"}
    styles = {"float64": "-", "float32": "--"}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    panels = [
        (axes[0, 0], "mean_loc", "E[dx/dloc]  (= dE[x]/dloc)", "pathwise gradient w.r.t. loc"),
        (axes[0, 1], "mean_scale", "E|dx/dscale|", "pathwise gradient w.r.t. scale"),
        (axes[1, 0], "var_loc", "Var(dx/dloc)", "variance of the one-draw estimate of dE[x]/dloc"),
        (axes[1, 1], "max_du", "dx/du = 1/f_T(x)", "sampler Jacobian w.r.t. its noise u"),
    ]
    for ax, key, ylabel, title in panels:
        for family in ("normal", "logistic"):
            for dt in ("float64", "float32"):
                sel = [r for r in rows if r["family"] == family and r["dtype"] == dt]
                a = [r["a"] for r in sel]
                y = [max(abs(r[key]), 1e-300) for r in sel]
                ax.semilogy(a, y, styles[dt], color=colors[family], label=f"{family}, {dt}", lw=2 if dt == "float64" else 1.2)
        if key == "max_du":
            # Solid/dashed: the largest value among the n draws.  Dotted: the exact
            # supremum over the window.  Dash-dot: the sample mean (exactly 1 = the
            # window's width; far below 1 means the mean lives in draws never seen).
            for family in ("normal", "logistic"):
                sel = [r for r in rows if r["family"] == family and r["dtype"] == "float64"]
                a_ = [r["a"] for r in sel]
                ax.semilogy(a_, [r["sup_du"] for r in sel], ":", color=colors[family], label=f"{family}: exact sup over window")
                ax.semilogy(a_, [r["mean_du"] for r in sel], "-.", color=colors[family], label=f"{family}: sample mean (exact 1)")
            for line in ax.get_lines()[:4]:
                line.set_label(line.get_label().replace(", float", ": max over draws, float"))
        ax.set_xlabel("window start a  (window [a, a + 1], standardized)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    axes[1, 1].legend(fontsize=8)
    fig.suptitle("Truncated normal vs truncated logistic: pathwise gradients as the window moves into the right tail")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--amax", type=int, default=30)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", "tails_study.png"))
    args = p.parse_args(argv)
    rows, starts = study(args.n, args.amax)
    show = [a for a in (0, 1, 2, 4, 8, 15, 30) if a <= args.amax]
    print(f"Tails study: windows [a, a + 1], standard normal vs standard logistic, n = {args.n} draws per window")
    print()
    print(table(rows, show))
    plot(rows, args.out)
    print(f"\nfigure: {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
