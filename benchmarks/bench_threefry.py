"""Speed of the portable Threefry-2x32 stream, in nanoseconds per 32-bit word.

Run as ``python benchmarks/bench_threefry.py``; ``--other`` adds torch (CPU) and
JAX (jitted), ``--repeat N`` sets the number of timed runs.

Each figure is the median of several ``time.perf_counter`` runs divided by the
number of words.  For comparison the table shows NumPy's own Philox generator
drawing uint32 integers and float32 uniforms.  The portable stream computes 20
Threefry rounds per word (about 110 vectorised integer operations), so it is
expected to be several times slower than NumPy's native C generators; its point
is that every backend gives the same bits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

import numpy as np

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from diffsample.random import threefry  # noqa: E402


def _ns_per_word(fn: Callable[[], object], n: int, repeat: int) -> float:
    fn()  # warm up (page faults, JIT compilation)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) / n * 1e9


def _numpy_cases(n: int) -> dict[str, Callable[[], object]]:
    key = np.array([0, 42], dtype=np.uint32)
    rng = np.random.Generator(np.random.Philox(42))
    bits = threefry.random_bits
    return {
        "diffsample threefry random_bits (uint32)": lambda: bits(np, key, (n,)),
        "diffsample threefry uniform float32": lambda: threefry.uniform_from_bits(np, bits(np, key, (n,))),
        "numpy Philox integers(0, 2**32, uint32)": lambda: rng.integers(0, 2**32, size=n, dtype=np.uint32),
        "numpy Philox random(float32)": lambda: rng.random(size=n, dtype=np.float32),
    }


def _other_cases(n: int) -> dict[str, Callable[[], object]]:
    cases: dict[str, Callable[[], object]] = {}
    try:
        import array_api_compat
        import torch
    except ImportError:
        pass
    else:
        xt = array_api_compat.array_namespace(torch.empty(0))
        tkey = torch.tensor([0, 42])
        label = f"torch CPU threefry random_bits ({torch.get_num_threads()} threads)"
        cases[label] = lambda: threefry.random_bits(xt, tkey, (n,))
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        pass
    else:
        jkey = jnp.asarray([0, 42], dtype=jnp.uint32)
        ours = jax.jit(lambda k: threefry.random_bits(jnp, k, (n,)))
        ref = jax.jit(lambda k: jax.random.bits(k, (n,), dtype=jnp.uint32))
        cases["jax.jit threefry random_bits"] = lambda: ours(jkey).block_until_ready()
        cases["jax.jit jax.random.bits (reference)"] = lambda: ref(jkey).block_until_ready()
    return cases


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7, help="timed runs per figure (median is shown)")
    p.add_argument("--other", action="store_true", help="also time torch and JAX")
    p.add_argument("--sizes", type=str, default="1e6,1e7", help="comma-separated word counts")
    p.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads for --other")
    args = p.parse_args(argv)
    if args.other and args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    sizes = [int(float(s)) for s in args.sizes.split(",")]

    table: dict[str, dict[int, float]] = {}
    for n in sizes:
        cases = _numpy_cases(n)
        if args.other:
            cases.update(_other_cases(n))
        for name, fn in cases.items():
            table.setdefault(name, {})[n] = _ns_per_word(fn, n, args.repeat)

    width = max(len(k) for k in table)
    head = "".join(f"{'n=' + format(n, '.0e'):>12}" for n in sizes)
    print(f"ns per 32-bit word (median of {args.repeat}), numpy {np.__version__}")
    print(f"{'':<{width}}{head}")
    for name, vals in table.items():
        print(f"{name:<{width}}" + "".join(f"{vals.get(n, float('nan')):>12.2f}" for n in sizes))


if __name__ == "__main__":
    main()
