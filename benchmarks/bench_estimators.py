"""Gradient estimators against hand-written equivalents, float32, CPU, n = 1e6 samples.

Run as ``python benchmarks/bench_estimators.py`` (``--quick`` for a smoke run,
``--backends numpy,torch,jax`` to choose, ``--n`` for the number of samples).

Rows (each pair timed interleaved in one process, see ``_timing.py``):

* **score function + RLOO, NumPy**: ``score_function(Normal, {loc, scale}, f, key, n,
  "leave_one_out")`` against a hand-written NumPy REINFORCE with the same baseline:
  ``eps = rng.standard_normal(n); x = loc + scale * eps; fx = f(x);
  c = (fx - fx.mean()) * n / (n - 1); z = (x - loc) / scale`` and the per-sample
  contributions ``c * z / scale`` and ``c * (z*z - 1) / scale`` with their means.
  Both sides return the per-sample contributions (what the variance needs) and the
  means.  ``f(x) = (x - 0.5)^2``, scalar float32 ``loc = 1``, ``scale = 1``.
* **score function + RLOO, torch**: the same with torch ops on both sides
  (``torch.randn(n, generator=g)``), no autograd involved on the peer side.
* **pathwise, JAX under jit**: ``jax.jit`` of ``pathwise(Normal, {loc, scale}, f,
  key, n).grads`` against ``jax.jit(jax.grad(lambda loc, scale: mean(f(loc + scale *
  jax.random.normal(key, (n,))))))``; the key is a traced argument on both sides;
  ``block_until_ready`` on the gradients.  A second row has both sides also return
  the per-sample gradients (``jax.vmap(jax.grad(...))`` for the peer).

``ds.Normal`` has a hand-written ``score`` (per-sample d log p / d loc, d scale), so
``score_function`` takes the per-sample scores from it, as it does for every family.
``--torch-threads`` sets ``torch.set_num_threads``
(default: torch's own default).

The ``noise source`` column says what diffsample is given: the backend's native
generator (``numpy.random.Generator``, ``torch.Generator``, the same kind as the
peer reuses), or a key array (``ds.random.key(0)``: a fresh native generator is
seeded from it on every call, which is counted).  Targets (from the issue): ratio
<= 1.3 for the score function on NumPy and torch, <= 1.1 for pathwise under jit.
``ratio`` is the median over rounds of the paired ours/peer ratio.
"""

from __future__ import annotations

import argparse
import time

from _timing import add_repo_to_path, compare, environment, fmt_time, markdown_table

add_repo_to_path()

import numpy as np  # noqa: E402

import diffsample as ds  # noqa: E402
from diffsample.estimators import pathwise, score_function  # noqa: E402

HEADER = ["estimator", "backend", "noise source (ours)", "n", "peer", "ours", "ratio", "target", "met?", "rounds clean/run"]
K = 0.5


normal_fn = ds.Normal  # the class itself (the per-sample parameter copies are then not re-validated)


def _row(est, backend, source, n, res, target):
    met = "yes" if res.ratio <= target else "**no**"
    return [est, backend, source, f"{n:.0e}", fmt_time(res.peer_s), fmt_time(res.ours_s), f"{res.ratio:.2f}",
            f"<= {target}", met, res.rounds_note]


def _plan(quick):
    return {"rounds": 3, "block_s": 0.01} if quick else {"rounds": 11, "block_s": 0.2}


def numpy_rows(n, quick):
    loc = np.asarray(1.0, np.float32)
    scale = np.asarray(1.0, np.float32)
    rng_peer = np.random.default_rng(0)

    def f(x):
        return (x - np.float32(K)) ** 2

    def peer():
        eps = rng_peer.standard_normal(n, dtype=np.float32)
        x = loc + scale * eps
        fx = f(x)
        c = (fx - fx.mean()) * np.float32(n / (n - 1))
        z = (x - loc) / scale
        per_loc = c * z / scale
        per_scale = c * (z * z - 1) / scale
        return fx.mean(), per_loc.mean(), per_scale.mean(), per_loc, per_scale

    rows = []
    for name, key, cls in [
        ("native generator", np.random.default_rng(1), normal_fn),
        ("key array", ds.random.key(0), normal_fn),
    ]:

        def ours(key=key, cls=cls):
            return score_function(cls, {"loc": loc, "scale": scale}, f, key, n, "leave_one_out")

        res = compare(peer, ours, clock=time.thread_time, **_plan(quick))  # single-threaded: CPU time
        rows.append(_row("score function + RLOO", "numpy", name, n, res, 1.3))
        print(" | ".join(rows[-1]), flush=True)
    return rows


def torch_rows(n, quick):
    import torch

    loc = torch.tensor(1.0)
    scale = torch.tensor(1.0)
    g_peer = torch.Generator()
    g_peer.manual_seed(0)

    def f(x):
        return (x - K) ** 2

    def peer():
        eps = torch.randn(n, generator=g_peer)
        x = loc + scale * eps
        fx = f(x)
        c = (fx - fx.mean()) * (n / (n - 1))
        z = (x - loc) / scale
        per_loc = c * z / scale
        per_scale = c * (z * z - 1) / scale
        return fx.mean(), per_loc.mean(), per_scale.mean(), per_loc, per_scale

    g_ours = torch.Generator()
    g_ours.manual_seed(1)
    rows = []
    for name, key, cls in [
        ("native generator", g_ours, normal_fn),
        ("key array", ds.random.key(0), normal_fn),
    ]:

        def ours(key=key, cls=cls):
            return score_function(cls, {"loc": loc, "scale": scale}, f, key, n, "leave_one_out")

        res = compare(peer, ours, **_plan(quick))
        rows.append(_row("score function + RLOO", f"torch ({torch.get_num_threads()} threads)", name, n, res, 1.3))
        print(" | ".join(rows[-1]), flush=True)
    return rows


def jax_rows(n, quick):
    import jax
    import jax.numpy as jnp

    loc = jnp.asarray(1.0, jnp.float32)
    scale = jnp.asarray(1.0, jnp.float32)

    def f(x):
        return (x - K) ** 2

    def loss(key, m, s):
        return jnp.mean(f(m + s * jax.random.normal(key, (n,), jnp.float32)))

    peer_grads = jax.jit(jax.grad(loss, argnums=(1, 2)))
    ours_grads = jax.jit(lambda key, m, s: pathwise(normal_fn, {"loc": m, "scale": s}, f, key, n).grads)

    def one(key, m, s, eps):
        return f(m + s * eps)

    @jax.jit
    def peer_per(key, m, s):
        eps = jax.random.normal(key, (n,), jnp.float32)
        per = jax.vmap(jax.grad(one, argnums=(1, 2)), in_axes=(None, None, None, 0))(key, m, s, eps)
        return [jnp.mean(p) for p in per], per

    @jax.jit
    def ours_per(key, m, s):
        r = pathwise(normal_fn, {"loc": m, "scale": s}, f, key, n)
        return r.grads, r.per_sample

    key = jax.random.PRNGKey(0)
    rows = []
    for label, pf, of in [("grads", peer_grads, ours_grads), ("grads + per-sample", peer_per, ours_per)]:

        def peer(pf=pf):
            jax.block_until_ready(pf(key, loc, scale))

        def ours(of=of):
            jax.block_until_ready(of(key, loc, scale))

        res = compare(peer, ours, **_plan(quick))
        rows.append(_row(f"pathwise, jax.jit ({label})", "jax", "raw key (traced)", n, res, 1.1))
        print(" | ".join(rows[-1]), flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few rounds, short blocks: a smoke run")
    p.add_argument("--backends", default="numpy,torch,jax")
    p.add_argument("--n", default="1e6")
    p.add_argument("--torch-threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    n = int(float(args.n))
    rows = []
    for b in args.backends.split(","):
        rows += {"numpy": numpy_rows, "torch": torch_rows, "jax": jax_rows}[b.strip()](n, args.quick)
    print()
    print(f"Gradient estimators vs hand-written, float32, scalar loc/scale, f(x) = (x - {K})^2"
          f"{' (--quick)' if args.quick else ''}; NumPy rows timed with time.thread_time, others wall clock")
    print(environment("numpy", "torch", "jax", "jaxlib", "array_api_compat"))
    print()
    print(markdown_table(HEADER, rows))


if __name__ == "__main__":
    main()
