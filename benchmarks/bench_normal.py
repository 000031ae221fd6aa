"""``Normal.rsample`` forward + backward against the native one-liner, float32, CPU.

Run as ``python benchmarks/bench_normal.py`` (``--quick`` for a smoke run,
``--backends torch,jax,numpy`` and ``--sizes 1e3,1e6`` to choose; ``--breakdown``
instead times the steps of one call at the smallest size, on torch and NumPy, with
the public API only, to show where the added time goes; ``--profile`` runs cProfile
on one call at the smallest size and lists the functions with the most own time).

Each row times, interleaved in one process (see ``_timing.py``), one forward and
backward pass of ``loc + scale * eps`` with ``eps ~ N(0, 1)`` of shape ``(n,)`` and a
sum loss, for scalar float32 parameters:

* torch: ``x = loc + scale * torch.randn(n, generator=g); x.sum().backward()`` against
  ``x = ds.Normal(loc, scale).rsample(key, (n,)); x.sum().backward()``, with leaf
  tensors of shape ``()`` and ``requires_grad=True`` (their ``.grad`` is reset to
  ``None`` before every call, on both sides);
* JAX: ``jax.jit(jax.grad(loss, argnums=(1, 2)))(key, loc, scale)`` with the key a
  traced argument, ``loss = sum(loc + scale * jax.random.normal(key, (n,)))`` against
  the same loss with ``ds.Normal(loc, scale).rsample(key, (n,))``; ``block_until_ready``
  on the gradients;
* NumPy: ``eps = rng.standard_normal(n, dtype=float32); x = loc + scale * eps`` and the
  hand-written gradient ``(g.sum(), (g * eps).sum())`` against
  ``x, pullback = ds.vjp(lambda m, s: ds.Normal(m, s).rsample(key, (n,)), loc, scale)``
  and ``pullback(g)``, with ``g = ones(n, float32)``.

The peer always reuses one generator (what a user of the native API does).  The
``noise source`` column says what diffsample is given:

* ``key array``: ``ds.random.key(0)`` (a NumPy uint32 array).  On torch and NumPy
  diffsample then sets a native generator (kept per thread) to the key's state on
  every call (that is the price of functional keys on a stateful generator, and it is
  counted here);
* ``key array (torch)``: ``ds.random.key(0, like=loc)``, the key as a torch tensor;
* ``native generator``: the same kind of generator as the peer (``torch.Generator``,
  ``numpy.random.default_rng``), passed as ``key``;
* JAX: ``raw key`` is ``jax.random.PRNGKey(0)`` (uint32 data, equal to
  ``ds.random.key(0)``), ``typed key`` is ``jax.random.key(0)``; both sides get the same.

Two last torch rows per size (for information, no target) put diffsample beside the
library a torch user would otherwise pick: ``torch.distributions.Normal(loc,
scale).rsample((n,))`` (validating its arguments by default, as diffsample does, and
drawing from torch's global generator) against diffsample with a native generator; and
beside what a functional key costs in plain torch: the one-liner with
``g.manual_seed(seed)`` before every draw, against diffsample with a key array.

Targets (from the issue): ratio <= 1.10 at n = 1e6; added time <= 10 µs per call at
n = 1e3.  ``ratio`` is the median over rounds of the paired ours/peer ratio and
``Δ/call`` the median paired difference; ``rounds clean/run`` says how many rounds
were used and how many were run (rounds with other processes busy on the machine are
dropped, see ``_timing.py``).
"""

from __future__ import annotations

import argparse
import time

from _timing import PROFILE_HEADER, add_repo_to_path, compare, environment, fmt_time, markdown_table, profile, set_torch_threads

add_repo_to_path()

import numpy as np  # noqa: E402

import diffsample as ds  # noqa: E402

HEADER = ["backend", "noise source (ours)", "n", "peer", "ours", "ratio", "Δ/call", "target", "met?", "rounds clean/run"]


def _target(n: int, ratio: float, diff_s: float) -> tuple[str, str]:
    if n >= 1_000_000:
        return "ratio <= 1.10", "yes" if ratio <= 1.10 else "**no**"
    if n <= 1_000:
        return "Δ <= 10 µs", "yes" if diff_s <= 10e-6 else "**no**"
    return "-", "-"


def _row(backend: str, source: str, n: int, res) -> list[str]:
    target, met = _target(n, res.ratio, res.diff_s)
    return [backend, source, f"{n:.0e}", fmt_time(res.peer_s), fmt_time(res.ours_s), f"{res.ratio:.2f}", fmt_time(res.diff_s), target, met, res.rounds_note]


def _plan(n: int, quick: bool) -> dict:
    small = n <= 10_000
    clock = {"clock": _CLOCK, "max_foreign": float("inf") if _CLOCK is time.thread_time else 0.3}
    if quick:
        return {"rounds": 5 if small else 3, "block_s": 0.01, **clock}
    return {"rounds": 31 if small else 9, "block_s": 0.05 if small else 0.1, **clock}


# ---------------------------------------------------------------------------- torch
def torch_rows(sizes: list[int], quick: bool) -> list[list[str]]:
    import torch

    torch.manual_seed(0)
    rows = []
    for n in sizes:
        loc_p = torch.zeros((), requires_grad=True)
        scale_p = torch.ones((), requires_grad=True)
        loc_o = torch.zeros((), requires_grad=True)
        scale_o = torch.ones((), requires_grad=True)
        g_peer = torch.Generator()
        g_peer.manual_seed(0)

        def peer() -> None:
            loc_p.grad = scale_p.grad = None
            x = loc_p + scale_p * torch.randn(n, generator=g_peer)
            x.sum().backward()

        g_ours = torch.Generator()
        g_ours.manual_seed(1)

        def ours_with(key):
            def ours() -> None:
                loc_o.grad = scale_o.grad = None
                x = ds.Normal(loc_o, scale_o).rsample(key, (n,))
                x.sum().backward()

            return ours

        sources = [
            ("key array", ds.random.key(0)),
            ("key array (torch)", ds.random.key(0, like=loc_o)),
            ("native generator", g_ours),
        ]
        for name, key in sources:
            rows.append(_row("torch", name, n, compare(peer, ours_with(key), **_plan(n, quick))))
            _emit(rows[-1])

        # For information: the library a torch user would otherwise pick (it validates
        # by default, as diffsample does; it draws from torch's global generator).
        import torch.distributions as td

        def peer_td() -> None:
            loc_p.grad = scale_p.grad = None
            x = td.Normal(loc_p, scale_p).rsample((n,))
            x.sum().backward()

        # For information: what a functional key costs in plain torch, the one-liner with
        # its generator reseeded on every call (as diffsample reseeds a kept one).
        def peer_seeded() -> None:
            loc_p.grad = scale_p.grad = None
            g_peer.manual_seed(12345)
            x = loc_p + scale_p * torch.randn(n, generator=g_peer)
            x.sum().backward()

        info = [
            ("torch (peer: torch.distributions.Normal)", "native generator", peer_td, g_ours),
            ("torch (peer: the one-liner, generator reseeded per call)", "key array", peer_seeded, ds.random.key(0)),
        ]
        for backend, source, peer_info, key in info:
            res = compare(peer_info, ours_with(key), **_plan(n, quick))
            rows.append([backend, source, f"{n:.0e}", fmt_time(res.peer_s), fmt_time(res.ours_s),
                         f"{res.ratio:.2f}", fmt_time(res.diff_s), "- (info)", "-", res.rounds_note])
            _emit(rows[-1])
    return rows


# ------------------------------------------------------------------------------ jax
def jax_rows(sizes: list[int], quick: bool) -> list[list[str]]:
    import jax
    import jax.numpy as jnp

    rows = []
    for n in sizes:
        loc = jnp.zeros((), jnp.float32)
        scale = jnp.ones((), jnp.float32)

        def native_loss(key, m, s):
            return jnp.sum(m + s * jax.random.normal(key, (n,), jnp.float32))

        def ds_loss(key, m, s):
            return jnp.sum(ds.Normal(m, s).rsample(key, (n,)))

        f_peer = jax.jit(jax.grad(native_loss, argnums=(1, 2)))
        f_ours = jax.jit(jax.grad(ds_loss, argnums=(1, 2)))
        for name, key in [("raw key", jax.random.PRNGKey(0)), ("typed key", jax.random.key(0))]:

            def peer(key=key) -> None:
                jax.block_until_ready(f_peer(key, loc, scale))

            def ours(key=key) -> None:
                jax.block_until_ready(f_ours(key, loc, scale))

            rows.append(_row("jax.jit", name, n, compare(peer, ours, **_plan(n, quick))))
            _emit(rows[-1])
    return rows


# ---------------------------------------------------------------------------- numpy
def numpy_rows(sizes: list[int], quick: bool) -> list[list[str]]:
    rows = []
    for n in sizes:
        loc = np.zeros((), np.float32)
        scale = np.ones((), np.float32)
        ct = np.ones(n, np.float32)
        rng_peer = np.random.default_rng(0)

        def peer() -> tuple:
            eps = rng_peer.standard_normal(n, dtype=np.float32)
            x = loc + scale * eps
            return x, (ct.sum(), (ct * eps).sum())

        sources = [("key array", ds.random.key(0)), ("native generator", np.random.default_rng(1))]
        for name, key in sources:

            def ours(key=key) -> tuple:
                x, pullback = ds.vjp(lambda m, s: ds.Normal(m, s).rsample(key, (n,)), loc, scale)
                return x, pullback(ct)

            rows.append(_row("numpy (ds.vjp)", name, n, compare(peer, ours, **_plan(n, quick))))
            _emit(rows[-1])
    return rows


# ------------------------------------------------------------------------ breakdown
BREAKDOWN_HEADER = ["backend", "step", "peer", "ours", "Δ/call (ours - peer)", "rounds clean/run"]


def _bd_row(backend: str, step: str, res) -> list[str]:
    return [backend, step, fmt_time(res.peer_s), fmt_time(res.ours_s), fmt_time(res.diff_s), res.rounds_note]


def _user_primitive():
    """The same math as ``Normal.rsample`` declared through the public ``ds.primitive``."""

    @ds.primitive(name="benchmarks.loc_plus_scale_eps", nondiff=(2,))
    def loc_scale(xp, loc, scale, eps):
        return loc + scale * eps

    @loc_scale.defvjp
    def _(xp, inputs, out, g, needs):
        return g, (g * inputs[2] if needs[1] else None), None

    return loc_scale


def _bd_plan(quick: bool) -> dict:
    # The thread clock does not count time taken by other processes, so no round is
    # dropped for foreign load with it.
    return {"rounds": 7 if quick else 21, "block_s": 0.01 if quick else 0.02, "clock": _CLOCK,
            "max_foreign": float("inf") if _CLOCK is time.thread_time else 0.3}


def torch_breakdown(n: int, quick: bool) -> list[list[str]]:
    """Where the added time per call goes, on torch, with the public API only."""
    import torch
    import torch.distributions  # noqa: F401  (for the comparison row)

    torch.manual_seed(0)
    plan = _bd_plan(quick)
    loc = torch.zeros((), requires_grad=True)
    scale = torch.ones((), requires_grad=True)
    g = torch.Generator()
    g.manual_seed(0)
    key = ds.random.key(0)
    eps = torch.randn(n)
    prim = _user_primitive()

    class Minimal(torch.autograd.Function):
        @staticmethod
        def forward(ctx, m, s, e):
            ctx.save_for_backward(e)
            return m + s * e

        @staticmethod
        def backward(ctx, gr):
            (e,) = ctx.saved_tensors
            return gr.sum(), (gr * e).sum(), None

    class MinimalNormal:
        """The least a validated distribution object can do: hold the parameters,
        read and check them, draw with the parameters' dtype and device."""

        def __init__(self, m, s):
            self.m, self.s = m, s
            if not abs(m.item()) < float("inf") or not 0 < s.item() < float("inf"):
                raise ValueError("bad parameters")

        def rsample(self, gen, shape):
            return self.m + self.s * torch.randn(shape, generator=gen, dtype=self.m.dtype, device=self.m.device)

    def fb(f) -> None:
        loc.grad = scale.grad = None
        f().sum().backward()

    def nop() -> None:
        pass

    steps = [
        ("total: one-liner vs Normal.rsample (native generator)",
         lambda: fb(lambda: loc + scale * torch.randn(n, generator=g)),
         lambda: fb(lambda: ds.Normal(loc, scale).rsample(g, (n,)))),
        ("total: one-liner vs Normal(validate_args=False).rsample",
         lambda: fb(lambda: loc + scale * torch.randn(n, generator=g)),
         lambda: fb(lambda: ds.Normal(loc, scale, validate_args=False).rsample(g, (n,)))),
        ("  floor: one-liner vs a minimal validated Normal object in plain torch",
         lambda: fb(lambda: loc + scale * torch.randn(n, generator=g)),
         lambda: fb(lambda: MinimalNormal(loc, scale).rsample(g, (n,)))),
        ("Normal(loc, scale): validation (vs validate_args=False)",
         lambda: ds.Normal(loc, scale, validate_args=False), lambda: ds.Normal(loc, scale)),
        ("Normal(loc, scale, validate_args=False): construction", nop, lambda: ds.Normal(loc, scale, validate_args=False)),
        ("Normal(loc, scale) between torch kernels: one-liner fwd+bwd, alone vs after it",
         lambda: fb(lambda: loc + scale * torch.randn(n, generator=g)),
         lambda: (ds.Normal(loc, scale), fb(lambda: loc + scale * torch.randn(n, generator=g)))),
        ("  the same with torch.distributions.Normal(loc, scale) (for comparison)",
         lambda: fb(lambda: loc + scale * torch.randn(n, generator=g)),
         lambda: (torch.distributions.Normal(loc, scale), fb(lambda: loc + scale * torch.randn(n, generator=g)))),
        ("noise: torch.randn(n, generator=g) vs ds.random.normal(g, like=loc)",
         lambda: torch.randn(n, generator=g), lambda: ds.random.normal(g, (n,), like=loc)),
        ("noise: same, ds given the key array (reseeds a kept Generator)",
         lambda: torch.randn(n, generator=g), lambda: ds.random.normal(key, (n,), like=loc)),
        ("a new torch.Generator() + manual_seed (what diffsample avoids)", nop, lambda: torch.Generator().manual_seed(12345)),
        ("loc + scale*eps fwd+bwd: autograd vs @ds.primitive",
         lambda: fb(lambda: loc + scale * eps), lambda: fb(lambda: prim(loc, scale, eps))),
        ("  floor: autograd vs a minimal Python autograd.Function",
         lambda: fb(lambda: loc + scale * eps), lambda: fb(lambda: Minimal.apply(loc, scale, eps))),
        ("  forward only (grad mode): autograd vs @ds.primitive",
         lambda: loc + scale * eps, lambda: prim(loc, scale, eps)),
    ]
    rows = []
    for name, peer, ours in steps:
        rows.append(_bd_row("torch", name, compare(peer, ours, **plan)))
        _emit(rows[-1])
    return rows


def numpy_breakdown(n: int, quick: bool) -> list[list[str]]:
    """Where the added time per call goes, on NumPy, with the public API only."""
    plan = _bd_plan(quick)
    loc = np.zeros((), np.float32)
    scale = np.ones((), np.float32)
    ct = np.ones(n, np.float32)
    rng = np.random.default_rng(0)
    key = ds.random.key(0)
    eps = rng.standard_normal(n, dtype=np.float32)
    prim = _user_primitive()

    def native() -> tuple:
        e = rng.standard_normal(n, dtype=np.float32)
        return loc + scale * e, (ct.sum(), (ct * e).sum())

    def ours(validate: bool = True) -> tuple:
        x, pb = ds.vjp(lambda m, s: ds.Normal(m, s, validate_args=validate).rsample(rng, (n,)), loc, scale)
        return x, pb(ct)

    class MinimalNormal:
        """The least a validated distribution object with a value-and-pullback API can
        do: hold and check the parameters, draw, and return a closure for the VJP."""

        def __init__(self, m, s):
            self.m, self.s = m, s
            if not abs(float(m)) < float("inf") or not 0 < float(s) < float("inf"):
                raise ValueError("bad parameters")

        def rsample_vjp(self, gen, shape):
            e = gen.standard_normal(shape, dtype=self.m.dtype)
            return self.m + self.s * e, lambda g: (g.sum(), (g * e).sum())

    def minimal() -> tuple:
        x, pb = MinimalNormal(loc, scale).rsample_vjp(rng, (n,))
        return x, pb(ct)

    def hand() -> tuple:
        return loc + scale * eps, (ct.sum(), (ct * eps).sum())

    def tape() -> tuple:
        x, pb = ds.vjp(lambda m, s: prim(m, s, eps), loc, scale)
        return x, pb(ct)

    _, pullback = ds.vjp(lambda m, s: prim(m, s, eps), loc, scale)

    def nop() -> None:
        pass

    steps = [
        ("total: hand-written vs ds.vjp(Normal.rsample) (native generator)", native, ours),
        ("total: hand-written vs the same with validate_args=False", native, lambda: ours(False)),
        ("  floor: hand-written vs a minimal validated Normal object with a pullback", native, minimal),
        ("Normal(loc, scale): validation (vs validate_args=False)",
         lambda: ds.Normal(loc, scale, validate_args=False), lambda: ds.Normal(loc, scale)),
        ("Normal(loc, scale, validate_args=False): construction", nop, lambda: ds.Normal(loc, scale, validate_args=False)),
        ("noise: rng.standard_normal vs ds.random.normal(rng)",
         lambda: rng.standard_normal(n, dtype=np.float32), lambda: ds.random.normal(rng, (n,), np.float32)),
        ("noise: same, ds given the key array (resets a kept Philox Generator)",
         lambda: rng.standard_normal(n, dtype=np.float32), lambda: ds.random.normal(key, (n,), np.float32)),
        ("a new Generator(Philox(key=...)) (what diffsample avoids)", nop, lambda: np.random.Generator(np.random.Philox(key=12345))),
        ("loc + scale*eps value+grad: hand-written vs ds.vjp(@ds.primitive)", hand, tape),
        ("  forward: loc + scale*eps vs @ds.primitive outside ds.vjp", lambda: loc + scale * eps, lambda: prim(loc, scale, eps)),
        ("  forward: same, vs ds.vjp(@ds.primitive) (tape set-up)", lambda: loc + scale * eps,
         lambda: ds.vjp(lambda m, s: prim(m, s, eps), loc, scale)),
        ("  backward: (g.sum(), (g*eps).sum()) vs pullback(g)", lambda: (ct.sum(), (ct * eps).sum()), lambda: pullback(ct)),
    ]
    rows = []
    for name, peer, ours_fn in steps:
        rows.append(_bd_row("numpy", name, compare(peer, ours_fn, **plan)))
        _emit(rows[-1])
    return rows



def profiles(n: int, backends: list[str], quick: bool) -> None:
    """cProfile one forward+backward call of ours, per backend and noise source."""
    calls = 300 if quick else 3000
    for b in backends:
        if b == "torch":
            import torch

            loc = torch.zeros((), requires_grad=True)
            scale = torch.ones((), requires_grad=True)
            g = torch.Generator()
            g.manual_seed(0)
            for name, key in (("native generator", g), ("key array", ds.random.key(0))):

                def ours(key=key) -> None:
                    loc.grad = scale.grad = None
                    ds.Normal(loc, scale).rsample(key, (n,)).sum().backward()

                print(f"\n#### torch, {name}, n = {n:.0e} ({calls} calls)\n")
                print(markdown_table(PROFILE_HEADER, profile(ours, calls)))
        elif b == "numpy":
            loc = np.zeros((), np.float32)
            scale = np.ones((), np.float32)
            ct = np.ones(n, np.float32)
            for name, key in (("native generator", np.random.default_rng(0)), ("key array", ds.random.key(0))):

                def ours_np(key=key) -> tuple:
                    x, pullback = ds.vjp(lambda m, s: ds.Normal(m, s).rsample(key, (n,)), loc, scale)
                    return x, pullback(ct)

                print(f"\n#### numpy (ds.vjp), {name}, n = {n:.0e} ({calls} calls)\n")
                print(markdown_table(PROFILE_HEADER, profile(ours_np, calls)))


_VERBOSE = False
_CLOCK = time.perf_counter


def _emit(row: list[str]) -> None:
    if _VERBOSE:
        print(" | ".join(row), flush=True)


def main(argv: list[str] | None = None) -> None:
    global _VERBOSE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few rounds, short blocks: a smoke run")
    p.add_argument("--backends", default="torch,jax,numpy")
    p.add_argument("--sizes", default="1e3,1e6")
    p.add_argument("--verbose", action="store_true", help="print each row as it is measured")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="call torch.set_num_threads(N) first (default: torch's own setting, unchanged)")
    p.add_argument("--breakdown", action="store_true", help="instead: where the added time goes at n = 1e3 (torch, numpy)")
    p.add_argument("--profile", action="store_true", help="instead: cProfile one call at the smallest size (torch, numpy)")
    p.add_argument("--clock", choices=("wall", "thread"), default=None,
                   help="wall: time.perf_counter (default for the main table); thread: time.thread_time, "
                   "CPU time of the calling thread, steadier on a busy machine (default for --breakdown)")
    args = p.parse_args(argv)
    _VERBOSE = args.verbose
    if "torch" in args.backends:
        set_torch_threads(args.torch_threads)
    global _CLOCK
    clock = args.clock or ("thread" if args.breakdown else "wall")
    _CLOCK = time.thread_time if clock == "thread" else time.perf_counter
    backends = [b.strip() for b in args.backends.split(",")]
    if clock == "thread" and not args.breakdown and (
        "jax" in backends or ("torch" in backends and args.torch_threads != 1)
    ):
        p.error("--clock thread needs single-threaded work: --backends numpy, or torch with --torch-threads 1")
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    if args.profile:
        print(environment("numpy", "torch", "array_api_compat"))
        profiles(min(sizes), [b.strip() for b in args.backends.split(",") if b.strip() in ("torch", "numpy")], args.quick)
        return
    if args.breakdown:
        n = min(sizes)
        rows = []
        for b in args.backends.split(","):
            if b.strip() in ("torch", "numpy"):
                rows += {"torch": torch_breakdown, "numpy": numpy_breakdown}[b.strip()](n, args.quick)
        print(f"Normal.rsample: where the added time goes, n = {n:.0e}, float32, clock: "
              f"{'time.thread_time (CPU time of the calling thread)' if clock == 'thread' else 'time.perf_counter'}"
              f"{' (--quick)' if args.quick else ''}")
        print(environment("numpy", "torch", "array_api_compat"))
        print()
        print(markdown_table(BREAKDOWN_HEADER, rows))
        return
    rows: list[list[str]] = []
    for b in args.backends.split(","):
        rows += {"torch": torch_rows, "jax": jax_rows, "numpy": numpy_rows}[b.strip()](sizes, args.quick)
    print(f"Normal.rsample forward+backward, float32, scalar loc/scale, sum loss, clock: "
          f"{'time.thread_time (CPU time of the calling thread)' if clock == 'thread' else 'time.perf_counter'}"
          f"{' (--quick)' if args.quick else ''}")
    print(environment("numpy", "torch", "jax", "jaxlib", "array_api_compat"))
    print()
    print(markdown_table(HEADER, rows))


if __name__ == "__main__":
    main()
