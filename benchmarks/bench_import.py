"""Time of ``import diffsample`` in a fresh interpreter, and what it drags in.

Run as ``python benchmarks/bench_import.py`` (``--quick`` for a smoke run,
``--runs N`` to choose the number of runs).

* Wall time of ``python -c "import diffsample"`` minus that of ``python -c "pass"``,
  the two run alternately ``--runs`` times in fresh subprocesses; the table shows the
  medians and the median of the paired differences.  ``import numpy`` is timed the
  same way for scale, and so is ``import diffsample; diffsample.random.key(0)``
  (the first call loads NumPy and array-api-compat's NumPy namespace).
* Two settings: *with .pyc* (byte-code compiled once beforehand into a private
  ``PYTHONPYCACHEPREFIX`` directory, as after ``pip install``: the target row) and
  *checkout, no .pyc* (``PYTHONDONTWRITEBYTECODE=1``, installed libraries use their
  own byte-code but every module of the checkout is compiled from source on each
  import, as in a development checkout without ``__pycache__``).
* The heavy libraries that must stay unimported (torch, jax, jaxlib, cupy, scipy,
  array_api_strict, dask) are looked up in ``sys.modules`` after ``import diffsample``.
* ``--clock cpu`` reports the child's user + system CPU time instead of the elapsed
  time: steadier when other processes share the machine (``-X importtime`` is always
  wall time).
* ``-X importtime``: the modules with the largest cumulative import time (median over
  a few runs, with .pyc).

Target (from the issue): ``import diffsample`` <= 150 ms, importing no framework.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from _timing import markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK = "wall"
HEAVY = ("torch", "jax", "jaxlib", "cupy", "scipy", "array_api_strict", "dask")


def _env(cache: str | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if cache is None:
        # Installed libraries keep their own __pycache__; the checkout gets none.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(code: str, env: dict, *flags: str) -> tuple[float, str]:
    """Run ``python -c code``; (seconds by the chosen clock, stdout + stderr)."""
    c0, t0 = _children_cpu(), time.perf_counter()
    p = subprocess.run([sys.executable, *flags, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    dt = (_children_cpu() - c0) if CLOCK == "cpu" else (time.perf_counter() - t0)
    if p.returncode != 0:
        raise RuntimeError(f"{code!r} failed:\n{p.stderr}")
    return dt, p.stdout + p.stderr


def _time_imports(env: dict, runs: int) -> dict[str, list[float]]:
    codes = {
        "pass": "pass",
        "numpy": "import numpy",
        "diffsample": "import diffsample",
        "diffsample + first key": "import diffsample; diffsample.random.key(0)",
    }
    out: dict[str, list[float]] = {k: [] for k in codes}
    for r in range(runs):
        order = list(codes) if r % 2 == 0 else list(reversed(codes))
        for name in order:
            out[name].append(_run(codes[name], env)[0])
    return out


def _heavy_modules(env: dict) -> tuple[list[str], bool]:
    code = (
        "import sys, diffsample\n"
        f"heavy = {HEAVY!r}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
        f"print('numpy' in sys.modules)"
    )
    heavy, numpy = _run(code, env)[1].split("\n")[:2]
    return [m for m in heavy.split(",") if m], numpy == "True"


def _importtime(env: dict, runs: int, top: int) -> list[tuple[str, float, float]]:
    per: dict[str, list[tuple[int, int]]] = {}
    for _ in range(runs):
        err = _run("import diffsample", env, "-X", "importtime")[1]
        for line in err.splitlines():
            if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
                continue
            self_us, cum_us, name = (s.strip() for s in line[len("import time:"):].split("|"))
            per.setdefault(name.strip(), []).append((int(self_us), int(cum_us)))
    rows = [(name, statistics.median(c for _, c in v) / 1e3, statistics.median(s for s, _ in v) / 1e3) for name, v in per.items()]
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 runs instead of 11")
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: elapsed time (default); cpu: user + system CPU time of the child process, "
                   "steadier on a busy machine")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = args.clock
    runs = args.runs or (3 if args.quick else 11)

    cache = tempfile.mkdtemp(prefix="ds_pyc_")
    env_pyc = _env(cache)
    _run("import diffsample, numpy", env_pyc)  # compile every module once into the private cache
    env_nopyc = _env(None)

    rows = []
    verdicts = []
    nopyc = "checkout, no .pyc" + (" (but diffsample/__pycache__ exists)" if os.path.isdir(os.path.join(ROOT, "diffsample", "__pycache__")) else "")
    for label, env in (("with .pyc", env_pyc), (nopyc, env_nopyc)):
        t = _time_imports(env, runs)
        base = statistics.median(t["pass"])
        for name in ("numpy", "diffsample", "diffsample + first key"):
            diff = statistics.median(a - b for a, b in zip(t[name], t["pass"]))
            is_target = name == "diffsample" and label == "with .pyc"
            met = ("yes" if diff <= 0.150 else "**no**") if is_target else "-"
            if is_target:
                verdicts.append(diff)
            rows.append(
                [f"import {name}" if name != "diffsample + first key" else "import diffsample; ds.random.key(0)", label, f"{base * 1e3:.1f} ms", f"{statistics.median(t[name]) * 1e3:.1f} ms",
                 f"{diff * 1e3:.1f} ms", "<= 150 ms" if is_target else "- (info)", met]
            )
    heavy, numpy_loaded = _heavy_modules(env_pyc)
    top = _importtime(env_pyc, 3 if args.quick else 5, 12)

    print(f"import time in a fresh subprocess, median of {runs} alternating runs, clock: "
          f"{'user + system CPU time of the child' if CLOCK == 'cpu' else 'wall (time.perf_counter)'}"
          f"{' (--quick)' if args.quick else ''}")
    print(f"{sys.executable}, Python {sys.version.split()[0]}, {os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.2f}")
    print()
    print(markdown_table(["statement", "byte-code", "`python -c pass`", "with statement", "difference (median paired)", "target", "met?"], rows))
    print()
    print(f"Heavy modules in sys.modules after `import diffsample`: {', '.join(heavy) if heavy else 'none'} "
          f"(checked: {', '.join(HEAVY)}) -> {'yes' if not heavy else '**no**'}; "
          f"numpy imported: {'yes' if numpy_loaded else 'no (loaded on first use)'}")
    print()
    print("Largest cumulative import times (`-X importtime`, with .pyc, median):")
    print()
    print(markdown_table(["module", "cumulative", "self"], [[n, f"{c:.1f} ms", f"{s:.1f} ms"] for n, c, s in top]))


if __name__ == "__main__":
    main()
