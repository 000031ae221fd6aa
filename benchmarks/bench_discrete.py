"""Categorical sampling and RelaxedBernoulli rsample+backward against ``torch.distributions``, torch CPU, float32.

Run as ``python benchmarks/bench_discrete.py`` (``--quick`` for a smoke run;
``--single-thread`` runs torch on one thread and times with ``time.thread_time``, the
CPU time of the calling thread, which other processes on a shared machine do not
inflate).

Each row times, interleaved in one process (see ``_timing.py``):

* ``Categorical.sample``: ``torch.distributions.Categorical(logits=l).sample(sample_shape)``
  (torch draws with ``torch.multinomial``) against
  ``diffsample...Categorical(logits=l).sample(gen, sample_shape)`` (inverse CDF, one
  uniform per draw) with ``gen`` a ``torch.Generator``.  Both distributions are built
  once, outside the timed call; ``l`` is ``torch.randn(batch_shape + (K,))``.
* ``RelaxedBernoulli rsample + backward``: ``y = RelaxedBernoulli(t, logits=l).rsample(...)``
  then ``y.backward(w)`` with a fixed random cotangent ``w``, on both sides, with
  ``l`` a leaf tensor (``.grad`` reset before every call) and temperature 0.5
  (``torch.tensor(0.5)`` for torch, which requires a tensor; the float ``0.5`` for
  diffsample).  The distribution is built inside the timed call on both sides (torch's
  caches ``probs`` on the object, so it cannot be reused across backward passes), with
  each library's default argument validation.

``ratio`` is the median over rounds of the paired ours/peer ratio, ``Δ/call`` the
median paired difference; ``rounds`` counts the rounds used out of those run (rounds
in which other processes took the CPUs are dropped; see ``_timing.py``).  There are
no targets for these rows: they are reported for information.
"""

from __future__ import annotations

import argparse
import time

from _timing import add_repo_to_path, compare, environment, fmt_time, markdown_table, set_torch_threads

add_repo_to_path()

import diffsample as ds  # noqa: E402,F401  (the checkout's package)
from diffsample.distributions.categorical import Categorical  # noqa: E402
from diffsample.distributions.relaxed import RelaxedBernoulli  # noqa: E402

HEADER = ["what", "batch shape", "K", "sample shape", "torch.distributions", "diffsample", "ratio", "Δ/call", "rounds"]


_CLOCK = time.perf_counter


def _plan(size: int, quick: bool) -> dict:
    if quick:
        return {"rounds": 3, "block_s": 0.01, "clock": _CLOCK}
    if size < 100_000:
        return {"rounds": 21, "block_s": 0.05, "clock": _CLOCK}
    return {"rounds": 9, "block_s": 0.2, "clock": _CLOCK}


def _row(what, batch, k, sample_shape, res) -> list[str]:
    return [what, "x".join(map(str, batch)) or "()", str(k), "x".join(map(str, sample_shape)) or "()",
            fmt_time(res.peer_s), fmt_time(res.ours_s), f"{res.ratio:.2f}", fmt_time(res.diff_s), res.rounds_note]


def categorical_rows(quick: bool) -> list[list[str]]:
    import torch

    torch.manual_seed(0)
    rows = []
    cases = [((100_000,), 10, ()), ((1_000_000,), 4, ()), ((10_000,), 1000, ()), ((), 100, (1_000_000,)), ((64,), 10, ())]
    for batch, k, sample_shape in cases:
        logits = torch.randn(batch + (k,))
        peer_d = torch.distributions.Categorical(logits=logits)
        ours_d = Categorical(logits=logits)
        gen = torch.Generator()
        gen.manual_seed(1)

        def peer(d=peer_d, s=sample_shape) -> None:
            d.sample(s)

        def ours(d=ours_d, s=sample_shape) -> None:
            d.sample(gen, s)

        size = max(1, int(torch.tensor(batch + sample_shape).prod())) * k
        rows.append(_row("Categorical.sample", batch, k, sample_shape, compare(peer, ours, **_plan(size, quick))))
        print(" | ".join(rows[-1]), flush=True)
    return rows


def relaxed_bernoulli_rows(quick: bool) -> list[list[str]]:
    import torch

    torch.manual_seed(0)
    rows = []
    for shape in [(1000, 1000), (100, 1000), (64, 10)]:
        w = torch.randn(shape)
        lp = torch.randn(shape, requires_grad=True)
        lo = lp.detach().clone().requires_grad_(True)
        t = torch.tensor(0.5)
        gen = torch.Generator()
        gen.manual_seed(1)

        def peer() -> None:
            lp.grad = None
            torch.distributions.RelaxedBernoulli(t, logits=lp).rsample().backward(w)

        def ours() -> None:
            lo.grad = None
            RelaxedBernoulli(0.5, logits=lo).rsample(gen).backward(w)

        size = shape[0] * shape[1]
        rows.append(_row("RelaxedBernoulli rsample + backward", shape, "-", (), compare(peer, ours, **_plan(size, quick))))
        print(" | ".join(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few rounds, short blocks: a smoke run")
    p.add_argument("--single-thread", action="store_true", help="torch on one thread, timed by time.thread_time")
    args = p.parse_args(argv)
    if args.single_thread:
        global _CLOCK
        set_torch_threads(1)
        _CLOCK = time.thread_time
    rows = categorical_rows(args.quick) + relaxed_bernoulli_rows(args.quick)
    print()
    mode = ", one thread, time.thread_time" if args.single_thread else ", wall clock"
    print(f"Discrete sampling on torch CPU, float32{mode}{' (--quick)' if args.quick else ''}")
    print(environment("numpy", "torch", "array_api_compat"))
    print()
    print(markdown_table(HEADER, rows))


if __name__ == "__main__":
    main()
