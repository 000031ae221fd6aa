"""Shared timing helper for the side-by-side benchmarks.

The benchmark machine is small and noisy, so contenders are never timed in separate
runs.  :func:`compare` times a *peer* and *ours* in the same process, interleaved:
each round times one block of ``inner`` calls of each contender (the order alternates
between rounds), and the results are

* the median per-call time of each contender over the rounds,
* the median over rounds of the *paired* ratio ``ours / peer`` (both measured in the
  same round, a few milliseconds apart, so slow drifts of the machine cancel), and
* the median over rounds of the paired difference ``ours - peer`` per call.

``time.perf_counter`` is the clock; the garbage collector is disabled inside a timed
block (as ``timeit`` does) and run between blocks, for both contenders alike.

The machine these figures come from is shared: other processes may take the CPUs for
seconds at a time, and torch's thread pool then slows down by large, erratic factors.
On Linux each round therefore also measures the *foreign* CPU load (busy time from
``/proc/stat``, hypervisor steal included, minus this process's own CPU time, divided by
the round's wall time).  Rounds in which other processes used more than ``max_foreign``
CPUs are discarded and repeated, up to ``2 * rounds`` attempts in all; if fewer than
``rounds`` clean rounds are then at hand, the clean ones are used if there are at least
3, otherwise all rounds are (and ``Result.clean`` says so).  Both contenders of a round
are kept or dropped together, so the filter never favours one side.

``clock`` may be ``time.thread_time`` (CPU time of the calling thread) instead of
``time.perf_counter``: it does not count the time the thread waits while other
processes run, so it is steadier on a loaded machine, but it is only meaningful for
work done entirely on the calling thread (NumPy; torch at sizes below its parallel
grain, about 32k elements; never JAX, whose computations run on XLA's own threads).
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

__all__ = ["Result", "compare", "fmt_time", "environment", "markdown_table", "add_repo_to_path", "set_torch_threads", "profile"]


TORCH_THREADS_SET = False


def set_torch_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` if ``n`` is given (the default leaves torch alone)."""
    global TORCH_THREADS_SET
    if n is None:
        return
    import torch

    torch.set_num_threads(n)
    TORCH_THREADS_SET = True


def add_repo_to_path() -> None:
    """Let ``python benchmarks/bench_x.py`` import the checkout's ``diffsample``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)


@dataclass
class Result:
    peer_s: float  # median seconds per call
    ours_s: float
    ratio: float  # median of paired ours/peer
    diff_s: float  # median of paired ours - peer, seconds per call
    rounds: int  # rounds used for the medians
    attempted: int  # rounds run
    inner: int  # calls per timed block
    clean: bool  # False when noisy rounds had to be used
    foreign: float | None  # median foreign CPU load (CPUs) of the rounds used

    @property
    def rounds_note(self) -> str:
        return f"{self.rounds}/{self.attempted}" + ("" if self.clean else " (noisy)")


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_snapshot() -> tuple[int, int, float, float] | None:
    """(busy jiffies of all CPUs, idle jiffies, own CPU seconds, wall seconds), Linux only."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    t = os.times()
    idle = vals[3] + vals[4]
    return sum(vals) - idle, idle, t.user + t.system, time.perf_counter()


def _foreign_load(a, b) -> float | None:
    """CPUs used by other processes (and the hypervisor) between two snapshots."""
    if a is None or b is None:
        return None
    wall = b[3] - a[3]
    if wall <= 0:
        return None
    return max(0.0, ((b[0] - a[0]) / _HZ - (b[2] - a[2])) / wall)


def _block(fn: Callable[[], object], inner: int, clock: Callable[[], float] = time.perf_counter) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = clock()
        for _ in range(inner):
            fn()
        return (clock() - t0) / inner
    finally:
        gc.enable()


def _calibrate(fns: Sequence[Callable[[], object]], block_s: float) -> int:
    """Calls per block so that the slowest contender's block takes about ``block_s``."""
    slowest = 0.0
    for fn in fns:
        t0 = time.perf_counter()
        fn()
        slowest = max(slowest, time.perf_counter() - t0)
    return max(1, int(block_s / max(slowest, 1e-7)))


def compare(
    peer: Callable[[], object],
    ours: Callable[[], object],
    *,
    rounds: int,
    inner: int | None = None,
    block_s: float = 0.05,
    warmup: int = 3,
    max_foreign: float = 0.3,
    clock: Callable[[], float] = time.perf_counter,
    steady: bool = False,
) -> Result:
    """Time ``peer`` and ``ours`` interleaved; see the module docstring.

    ``steady=True`` sizes each contender's block on its own (about ``block_s`` each)
    instead of giving both the calls that fill the slower one's block: where one call
    of the peer takes as long as a block, the shared size is 1 and ours would only be
    timed once, right after the peer has churned through memory (its arrays then
    start on freshly mapped pages).  ``Result.inner`` is then ours.
    """
    for _ in range(warmup):  # JIT compilation, page faults, caches, lazy imports
        peer()
        ours()
    inner_peer = None
    if inner is None and steady:
        inner_peer, inner = _calibrate([peer], block_s), _calibrate([ours], block_s)
    elif inner is None:
        inner = _calibrate([peer, ours], block_s)
    inner_peer = inner_peer or inner
    all_rounds: list[tuple[float, float, float | None]] = []  # (peer, ours, foreign load)
    clean_rounds: list[tuple[float, float, float | None]] = []
    r = 0
    while len(clean_rounds) < rounds and r < 2 * rounds:
        a = _cpu_snapshot()
        if r % 2 == 0:
            p = _block(peer, inner_peer, clock)
            o = _block(ours, inner, clock)
        else:
            o = _block(ours, inner, clock)
            p = _block(peer, inner_peer, clock)
        load = _foreign_load(a, _cpu_snapshot())
        all_rounds.append((p, o, load))
        if load is None or load <= max_foreign:
            clean_rounds.append((p, o, load))
        r += 1
    clean = len(clean_rounds) >= min(rounds, 3)
    used = clean_rounds if clean else all_rounds
    loads = [x[2] for x in used if x[2] is not None]
    return Result(
        peer_s=statistics.median(x[0] for x in used),
        ours_s=statistics.median(x[1] for x in used),
        ratio=statistics.median(x[1] / x[0] for x in used),
        diff_s=statistics.median(x[1] - x[0] for x in used),
        rounds=len(used),
        attempted=len(all_rounds),
        inner=inner,
        clean=clean,
        foreign=statistics.median(loads) if loads else None,
    )


def fmt_time(s: float) -> str:
    """Seconds as a short string in µs or ms."""
    if abs(s) < 1e-3:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e3:.2f} ms"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(*libs: str) -> str:
    """One line describing the machine and the library versions in use."""
    parts = [
        f"{_cpu_model()}, {os.cpu_count()} logical CPUs (1-min load average {os.getloadavg()[0]:.2f} when printed)",
        f"Python {platform.python_version()}",
    ]
    for name in libs:
        mod = sys.modules.get(name)
        if mod is not None:
            parts.append(f"{name} {getattr(mod, '__version__', '?')}")
    torch = sys.modules.get("torch")
    if torch is not None:
        how = "set with --torch-threads" if TORCH_THREADS_SET else "default, not changed"
        parts.append(f"torch.get_num_threads() = {torch.get_num_threads()} ({how})")
    return "; ".join(parts)


def profile(fn: Callable[[], object], calls: int, top: int = 15, warmup: int = 50) -> list[list[str]]:
    """cProfile ``fn`` over ``calls`` calls; the ``top`` functions by own time, per call of ``fn``.

    cProfile's own clock (wall time) is used; the profiler adds roughly a microsecond
    to every call it records, so the figures rank the hot spots and count the calls,
    while the ``--breakdown`` tables give the cost of each step without the profiler.
    """
    import cProfile
    import pstats

    for _ in range(warmup):
        fn()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(calls):
        fn()
    pr.disable()
    st = pstats.Stats(pr)
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        short = filename
        for marker in ("site-packages/", "diffsample/", "benchmarks/"):
            if marker in filename:
                short = filename[filename.index(marker) + (len(marker) if marker == "site-packages/" else 0):]
                break
        where = f"{short}:{line}({func})" if line else func
        rows.append((tt, ct, nc, where))
    rows.sort(key=lambda r: -r[0])
    total = sum(r[0] for r in rows)
    out = [["(all)", "-", f"{total / calls * 1e6:.1f} µs", "-"]]
    for tt, ct, nc, where in rows[:top]:
        out.append([where, f"{nc / calls:g}", f"{tt / calls * 1e6:.2f} µs", f"{ct / calls * 1e6:.2f} µs"])
    return out


PROFILE_HEADER = ["function", "calls per call", "own time per call", "cumulative per call"]
