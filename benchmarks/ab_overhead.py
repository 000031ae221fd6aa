"""Per-call overhead of ``Normal.rsample`` at n = 1e3: this checkout against another, in one process.

``bench_normal.py`` compares diffsample with the peer one-liner; between two of its runs
this machine drifts by ±1 µs, as much as one change to the hot path saves.  This script
answers "did my change make the call cheaper?" instead: it imports the working tree's
``diffsample`` and a copy of another checkout's (``--old``, renamed ``diffsample_old``;
the package imports itself only relatively) into one process and times, interleaved in
blocks of ``--inner`` calls on the calling thread's CPU clock with the garbage collector
off, the peer one-liner, the old call and the new call (forward + backward; on NumPy
value + pullback through ``ds.vjp``), each with the backend's generator and with a key
array.

It prints the lower decile and the median over blocks of each call's time minus the
peer's: the decile is the least disturbed state of a shared machine, and differences
between old and new there repeat within about 0.3 µs from run to run.

Example (the old code at a commit, in a git worktree)::

    git worktree add /tmp/old <commit>
    python benchmarks/ab_overhead.py --old /tmp/old --backend torch
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _old_package(checkout: str) -> str:
    """A temporary directory holding ``checkout``'s package as ``diffsample_old``."""
    src = os.path.join(checkout, "diffsample")
    if not os.path.isdir(src):
        raise SystemExit(f"--old {checkout!r} has no diffsample/ package")
    root = tempfile.mkdtemp(prefix="diffsample_old_")
    shutil.copytree(src, os.path.join(root, "diffsample_old"), ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _torch_calls(new, old, n: int) -> dict:
    import torch

    loc = torch.zeros((), requires_grad=True)
    scale = torch.ones((), requires_grad=True)
    g = torch.Generator()
    g.manual_seed(0)

    def fb(f) -> None:
        loc.grad = scale.grad = None
        f().sum().backward()

    k_old, k_new = old.random.key(0), new.random.key(0)
    return {
        "peer": lambda: fb(lambda: loc + scale * torch.randn(n, generator=g)),
        "old (Generator)": lambda: fb(lambda: old.Normal(loc, scale).rsample(g, (n,))),
        "new (Generator)": lambda: fb(lambda: new.Normal(loc, scale).rsample(g, (n,))),
        "old (key array)": lambda: fb(lambda: old.Normal(loc, scale).rsample(k_old, (n,))),
        "new (key array)": lambda: fb(lambda: new.Normal(loc, scale).rsample(k_new, (n,))),
    }


def _numpy_calls(new, old, n: int) -> dict:
    import numpy as np

    loc, scale, ct = np.zeros((), np.float32), np.ones((), np.float32), np.ones(n, np.float32)
    rng = np.random.default_rng(0)

    def peer() -> tuple:
        eps = rng.standard_normal(n, dtype=np.float32)
        return loc + scale * eps, (ct.sum(), (ct * eps).sum())

    def ours(lib, key):
        def call() -> tuple:
            x, pullback = lib.vjp(lambda m, s: lib.Normal(m, s).rsample(key, (n,)), loc, scale)
            return x, pullback(ct)

        return call

    return {
        "peer": peer,
        "old (Generator)": ours(old, np.random.default_rng(1)),
        "new (Generator)": ours(new, np.random.default_rng(1)),
        "old (key array)": ours(old, old.random.key(0)),
        "new (key array)": ours(new, new.random.key(0)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", required=True, help="a checkout (directory holding diffsample/) to compare with")
    p.add_argument("--backend", choices=["torch", "numpy"], default="torch")
    p.add_argument("--inner", type=int, default=50, help="calls per timed block")
    p.add_argument("--blocks", type=int, default=600, help="blocks per contender")
    p.add_argument("--n", type=int, default=1000)
    a = p.parse_args()
    sys.path.insert(0, _old_package(a.old))
    import diffsample as new
    import diffsample_old as old

    calls = (_torch_calls if a.backend == "torch" else _numpy_calls)(new, old, a.n)
    for f in calls.values():  # warm-up: lazy imports, caches, allocator
        for _ in range(300):
            f()
    times: dict[str, list[float]] = {k: [] for k in calls}
    items = list(calls.items())
    clock = time.thread_time
    gc.collect()
    gc.disable()
    try:
        for i in range(a.blocks):
            for name, f in items if i % 2 == 0 else items[::-1]:
                t0 = clock()
                for _ in range(a.inner):
                    f()
                times[name].append((clock() - t0) / a.inner * 1e6)
    finally:
        gc.enable()

    def q(v: list[float], p: float) -> float:
        v = sorted(v)
        return v[int(p * (len(v) - 1))]

    print(f"Normal.rsample, {a.backend}, n = {a.n}, float32: µs per call above the peer "
          f"({a.blocks} blocks of {a.inner} calls each, time.thread_time)")
    for p_ in (0.1, 0.5):
        peer = q(times["peer"], p_)
        cells = "  ".join(f"{k} {q(v, p_) - peer:+.2f}" for k, v in times.items() if k != "peer")
        print(f"  {'lower decile' if p_ == 0.1 else 'median      '}: peer {peer:.2f} µs | {cells}")


if __name__ == "__main__":
    main()
