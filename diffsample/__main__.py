"""``python -m diffsample``: backends found, a gradient self-check, and a short demo.

Exits non-zero when a self-check fails.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from typing import Any, Callable

import numpy as np

import diffsample as ds
from diffsample.testing import check_primitive


def _backends() -> list[tuple[str, str, Callable[[np.ndarray], Any]]]:
    """(name, device description, numpy -> array) for every backend importable here."""
    found: list[tuple[str, str, Callable[[np.ndarray], Any]]] = [("numpy", "cpu", np.asarray)]
    if importlib.util.find_spec("array_api_strict"):
        xps = importlib.import_module("array_api_strict")
        found.append(("array_api_strict", "cpu", xps.asarray))
    if importlib.util.find_spec("torch"):
        import torch

        found.append(("torch", "cpu", lambda a: torch.from_numpy(np.ascontiguousarray(a))))
        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            found.append(("torch", f"cuda:0 ({name})", lambda a: torch.from_numpy(np.ascontiguousarray(a)).cuda()))
    if importlib.util.find_spec("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)  # the self-check runs in float64
        import jax.numpy as jnp

        for dev in jax.devices():
            found.append(("jax", f"{dev.platform}:{dev.id}", lambda a, dev=dev: jax.device_put(jnp.asarray(a), dev)))
    if importlib.util.find_spec("cupy"):
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                found.append(("cupy", "cuda:0", cupy.asarray))
        except Exception:
            pass
    return found


def _self_check(backends: list) -> bool:
    prims = ds.registered_primitives()
    print(f"\nGradient self-check: {len(prims)} primitives, hand-written VJP against central finite differences (float64)")
    ok = True
    for name, dev, make in backends:
        worst, failed = 0.0, []
        t0 = time.perf_counter()
        for pname, prim in sorted(prims.items()):
            if not prim.examples:
                continue
            try:
                worst = max(worst, check_primitive(prim, make, rtol=1e-6))
            except Exception as e:  # report every failure, keep checking
                failed.append(f"{pname}: {type(e).__name__}: {str(e)[:200]}")
        status = "ok" if not failed else "FAILED"
        print(f"  {name:<17} {dev:<22} {status:<7} worst relative error {worst:.1e}  ({time.perf_counter() - t0:.1f} s)")
        for f in failed:
            print(f"      {f}")
        ok &= not failed
    return ok


def _demo() -> None:
    print("\nPathwise gradient of E[(x - 3)^2], x ~ N(mu, sigma), on NumPy (no framework):")
    mu, sigma = np.array([1.0]), np.array([2.0])
    n = 100_000
    x, pullback = ds.vjp(lambda m, s: ds.Normal(m, s).rsample(ds.random.key(0), (n,)), mu, sigma)
    objective = np.mean((x - 3.0) ** 2)
    d_mu, d_sigma = pullback(2.0 * (x - 3.0) / n)  # chain rule: df/dx, then the sampler's VJP
    print(f"  objective  {objective:8.4f}   exact {(1 - 3) ** 2 + 2**2:8.4f}")
    print(f"  d/d mu     {d_mu[0]:8.4f}   exact {2 * (1 - 3):8.4f}")
    print(f"  d/d sigma  {d_sigma[0]:8.4f}   exact {2 * 2:8.4f}")

    print("\nGumbel-Softmax of p = [0.1, 0.2, 0.3, 0.4] at falling temperatures (one draw, same key):")
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]]))
    many = np.tile(logits, (20_000, 1))
    for tau in (10.0, 1.0, 0.1, 0.01):
        y = ds.gumbel_softmax(logits, ds.random.key(1), tau=tau)[0]
        sharp = np.mean(np.max(ds.gumbel_softmax(many, ds.random.key(2), tau=tau), axis=-1))
        print(f"  tau={tau:<5}  y = [{', '.join(f'{v:.3f}' for v in y)}]   mean max(y) over 20000 draws {sharp:.3f}")
    hard = ds.gumbel_softmax(many, ds.random.key(3), tau=1.0, hard=True).mean(0)
    print(f"  hard=True frequencies [{', '.join(f'{v:.3f}' for v in hard)}]  (softmax(logits) = [0.1, 0.2, 0.3, 0.4])")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffsample", description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="only list backends and run the self-check")
    args = parser.parse_args(argv)
    print(f"diffsample {ds.__version__} (Python {sys.version.split()[0]}, NumPy {np.__version__})")
    backends = _backends()
    print("Backends found:")
    for name, dev, _ in backends:
        mod = sys.modules.get(name)
        ver = getattr(mod, "__version__", "")
        print(f"  {name:<17} {ver:<14} {dev}")
    ok = _self_check(backends)
    if not args.no_demo:
        _demo()
        from diffsample.estimators import variance_table

        print()
        variance_table()
    print("\nself-check passed" if ok else "\nself-check FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
