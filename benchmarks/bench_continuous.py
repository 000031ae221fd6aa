"""Uniform, Exponential, Gumbel, Laplace, Cauchy: ``rsample`` against the peers, CPU.

Run as ``python benchmarks/bench_continuous.py`` (``--quick`` for a smoke run,
``--backends torch,numpy``, ``--dists uniform,cauchy`` and ``--sizes 1e6`` to choose;
``--threads 1`` sets ``torch.set_num_threads(1)`` first, which gives steadier numbers
on a small machine shared with other work: there a two-thread torch operation waits
for both threads to be scheduled, which penalizes code made of more, smaller
operations far beyond their cost on an idle machine).

Each row times, interleaved in one process (see ``_timing.py``), with scalar
parameters and draws of shape ``(n,)``:

* torch, float32, forward + backward: ``x = torch.distributions.X(*params).rsample((n,));
  x.sum().backward()`` against ``x = X(*params).rsample(key, (n,)); x.sum().backward()``
  with leaf tensors of shape ``()`` and ``requires_grad=True`` (their ``.grad`` reset
  to ``None`` before every call, on both sides).  The peer draws from torch's global
  generator (``torch.distributions`` takes no generator); ours is given either a
  ``torch.Generator`` (``native generator``) or ``ds.random.key(0)`` (``key array``:
  a fresh generator is seeded on every call, the price of functional keys);
* NumPy, float64, sampling only (no gradient: SciPy has none):
  ``scipy.stats.X.rvs(*params, size=n, random_state=rng)`` against
  ``X(*params).sample(key, (n,))`` with ``key`` a ``numpy.random.Generator``
  (``native generator``) or ``ds.random.key(0)``.

``ratio`` is the median over rounds of the paired ours/peer ratio, ``Δ/call`` the
median paired difference.  Target (from the issue): ratio <= 1.10 at n = 1e6 on torch
with the native generator.
"""

from __future__ import annotations

import argparse

from _timing import add_repo_to_path, compare, environment, fmt_time, markdown_table

add_repo_to_path()

import numpy as np  # noqa: E402

import diffsample as ds  # noqa: E402
from diffsample.distributions.cauchy import Cauchy  # noqa: E402
from diffsample.distributions.exponential import Exponential  # noqa: E402
from diffsample.distributions.gumbel import Gumbel  # noqa: E402
from diffsample.distributions.laplace import Laplace  # noqa: E402
from diffsample.distributions.uniform import Uniform  # noqa: E402

HEADER = ["backend", "distribution", "noise source (ours)", "n", "peer", "ours", "ratio", "Δ/call"]

# name -> (our class, parameter values, torch.distributions class name,
#          scipy.stats distribution name, scipy keyword arguments from the values)
DISTS = {
    "uniform": (Uniform, (0.0, 2.0), "Uniform", "uniform", lambda p: {"loc": p[0], "scale": p[1] - p[0]}),
    "exponential": (Exponential, (1.5,), "Exponential", "expon", lambda p: {"scale": 1.0 / p[0]}),
    "gumbel": (Gumbel, (0.5, 2.0), "Gumbel", "gumbel_r", lambda p: {"loc": p[0], "scale": p[1]}),
    "laplace": (Laplace, (0.5, 2.0), "Laplace", "laplace", lambda p: {"loc": p[0], "scale": p[1]}),
    "cauchy": (Cauchy, (0.5, 2.0), "Cauchy", "cauchy", lambda p: {"loc": p[0], "scale": p[1]}),
}


def _plan(n: int, quick: bool) -> dict:
    small = n <= 10_000
    if quick:
        return {"rounds": 5 if small else 3, "block_s": 0.01}
    return {"rounds": 31 if small else 9, "block_s": 0.05 if small else 0.1}


def _row(backend: str, dist: str, source: str, n: int, res) -> list[str]:
    return [backend, dist, source, f"{n:.0e}", fmt_time(res.peer_s), fmt_time(res.ours_s), f"{res.ratio:.2f}", fmt_time(res.diff_s)]


def torch_rows(dists: list[str], sizes: list[int], quick: bool) -> list[list[str]]:
    import torch
    import torch.distributions as td

    torch.manual_seed(0)
    rows = []
    for name in dists:
        cls, values, peer_name, _, _ = DISTS[name]
        peer_cls = getattr(td, peer_name)
        for n in sizes:
            pp = [torch.tensor(v, requires_grad=True) for v in values]
            po = [torch.tensor(v, requires_grad=True) for v in values]

            def peer() -> None:
                for t in pp:
                    t.grad = None
                peer_cls(*pp).rsample((n,)).sum().backward()

            g = torch.Generator()
            g.manual_seed(1)
            for source, key in [("native generator", g), ("key array", ds.random.key(0))]:

                def ours(key=key) -> None:
                    for t in po:
                        t.grad = None
                    cls(*po).rsample(key, (n,)).sum().backward()

                rows.append(_row("torch (fwd+bwd, float32)", name, source, n, compare(peer, ours, **_plan(n, quick))))
                _emit(rows[-1])
    return rows


def numpy_rows(dists: list[str], sizes: list[int], quick: bool) -> list[list[str]]:
    import scipy.stats as st

    rows = []
    for name in dists:
        cls, values, _, scipy_name, kwargs_of = DISTS[name]
        rvs, kwargs = getattr(st, scipy_name).rvs, kwargs_of(values)
        params = [np.float64(v) for v in values]
        for n in sizes:
            rng_peer = np.random.default_rng(0)

            def peer() -> None:
                rvs(size=n, random_state=rng_peer, **kwargs)

            for source, key in [("native generator", np.random.default_rng(1)), ("key array", ds.random.key(0))]:

                def ours(key=key) -> None:
                    cls(*params).sample(key, (n,))

                rows.append(_row("numpy vs scipy.stats (sample, float64)", name, source, n,
                                 compare(peer, ours, **_plan(n, quick))))
                _emit(rows[-1])
    return rows


_VERBOSE = False


def _emit(row: list[str]) -> None:
    if _VERBOSE:
        print(" | ".join(row), flush=True)


def main(argv: list[str] | None = None) -> None:
    global _VERBOSE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few rounds, short blocks: a smoke run")
    p.add_argument("--backends", default="torch,numpy")
    p.add_argument("--dists", default=",".join(DISTS))
    p.add_argument("--sizes", default="1e6")
    p.add_argument("--verbose", action="store_true", help="print each row as it is measured")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads(N) first (default: leave torch's)")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    _VERBOSE = args.verbose
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    dists = [d.strip() for d in args.dists.split(",")]
    rows: list[list[str]] = []
    for b in args.backends.split(","):
        rows += {"torch": torch_rows, "numpy": numpy_rows}[b.strip()](dists, sizes, args.quick)
    print(f"Continuous distributions: rsample against the peers, scalar parameters{' (--quick)' if args.quick else ''}")
    env = environment("numpy", "scipy", "torch", "array_api_compat")
    if args.threads:
        env = env.replace("(default, not changed)", "(set by --threads)")
    print(env)
    print()
    print(markdown_table(HEADER, rows))


if __name__ == "__main__":
    main()
