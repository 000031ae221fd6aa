"""The conformance matrix: one session per backend cell, the same test-suite in each.

``nox`` runs the CPU matrix (numpy, array_api_strict, torch-cpu, jax-cpu and the
all-CPU parity cell).  The GPU cells (torch-cuda, jax-cuda, cupy) skip cleanly on a
machine without an NVIDIA GPU; on a GPU machine whose environment already has the
frameworks, run them without new virtualenvs: ``nox --no-venv -s torch-cuda jax-cuda cupy``.
"""

from __future__ import annotations

import shutil
import subprocess

import nox

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["numpy", "array_api_strict", "torch-cpu", "jax-cpu", "all-cpu"]

# cell -> (requirements file, backends the suite runs on, pytest marker expression)
CELLS = {
    "numpy": ("numpy", "numpy", "not parity"),
    "array_api_strict": ("array_api_strict", "array_api_strict", "not parity"),
    "torch-cpu": ("torch-cpu", "torch", "not parity"),
    "jax-cpu": ("jax-cpu", "jax", "not parity"),
    "all-cpu": ("all-cpu", "numpy,array_api_strict,torch,jax", "parity"),
    "torch-cuda": ("torch-cuda", "torch-cuda", "not parity"),
    "jax-cuda": ("jax-cuda", "jax-cuda", "not parity"),
    "cupy": ("cupy", "cupy", "not parity"),
}
GPU_CELLS = {"torch-cuda", "jax-cuda", "cupy"}


def _has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def _provisioned(session: nox.Session) -> bool:
    return isinstance(session.virtualenv, nox.virtualenv.PassthroughEnv)


def _run_cell(session: nox.Session, cell: str) -> None:
    reqs, backends, marker = CELLS[cell]
    if cell in GPU_CELLS and not _has_nvidia_gpu():
        session.skip(f"{cell}: no NVIDIA GPU on this machine")
    if not _provisioned(session):
        session.install("-r", f"backends/{reqs}.txt")
        session.install("--no-deps", "-e", ".")
    session.env["DIFFSAMPLE_BACKENDS"] = backends
    # The docstring examples run once, in the NumPy cell (they use NumPy arrays).
    paths = ["--doctest-modules", "diffsample", "tests"] if cell == "numpy" else []
    session.run("python", "-m", "pytest", "-m", marker, *paths, *session.posargs)


def _make(cell: str) -> None:
    @nox.session(name=cell)
    def _session(session: nox.Session) -> None:
        _run_cell(session, cell)

    _session.__doc__ = f"Run the suite on the {cell} cell."


for _cell in CELLS:
    _make(_cell)
