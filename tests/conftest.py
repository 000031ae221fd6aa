"""The one fixture set: every conformance test is written once and runs per backend.

Which backends run is chosen by the environment variable ``DIFFSAMPLE_BACKENDS``
(comma-separated names, as the nox sessions set it).  A backend named there that
cannot be imported is an error, not a skip, so a broken nox cell never passes
quietly.  Without the variable, every backend that imports is used.  GPU backends
(``torch-cuda``, ``jax-cuda``, ``cupy``) skip cleanly where no GPU is found.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

ALL_BACKENDS = ["numpy", "array_api_strict", "torch", "jax", "torch-cuda", "jax-cuda", "cupy"]
GPU_BACKENDS = {"torch-cuda", "jax-cuda", "cupy"}


@dataclass
class BackendCase:
    """One backend of the matrix, with the few helpers a test needs."""

    name: str
    kind: str
    xp: Any
    device: Any = None
    _asarray: Callable[..., Any] = field(default=None, repr=False)  # type: ignore[assignment]
    _to_numpy: Callable[[Any], np.ndarray] = field(default=None, repr=False)  # type: ignore[assignment]

    def asarray(self, a: Any, dtype: str | None = None) -> Any:
        """NumPy data (or a Python scalar) as this backend's array; dtype by name."""
        a = np.asarray(a)
        if dtype in ("float16", "bfloat16"):
            self.dtype(dtype)  # skips where the backend lacks it
        if dtype is not None:
            a = a.astype(dtype) if dtype != "bfloat16" else a.astype("float32")
        arr = self._asarray(a)
        if dtype == "bfloat16":
            arr = self.xp.astype(arr, self.dtype("bfloat16"))
        return arr

    def to_numpy(self, a: Any) -> np.ndarray:
        return self._to_numpy(a)

    def dtype(self, name: str) -> Any:
        if name == "bfloat16":
            if self.kind == "torch":
                import torch

                return torch.bfloat16
            if self.kind == "jax":
                import jax.numpy as jnp

                return jnp.bfloat16
            pytest.skip(f"{self.name} has no bfloat16")
        if not hasattr(self.xp, name):
            pytest.skip(f"{self.name} has no {name}")
        return getattr(self.xp, name)

    def __str__(self) -> str:
        return self.name


def _make(name: str) -> BackendCase:
    import array_api_compat

    if name == "numpy":
        return BackendCase(name, "numpy", array_api_compat.array_namespace(np.empty(0)), "cpu", np.asarray, np.asarray)
    if name == "array_api_strict":
        xps = importlib.import_module("array_api_strict")
        return BackendCase(name, name, xps, None, xps.asarray, lambda a: np.asarray(a))
    if name in ("torch", "torch-cuda"):
        import torch

        dev = torch.device("cuda" if name == "torch-cuda" else "cpu")
        if name == "torch-cuda" and not torch.cuda.is_available():
            raise _NoGPU("torch sees no CUDA device")
        xp = array_api_compat.array_namespace(torch.empty(0))
        return BackendCase(
            name, "torch", xp, dev,
            lambda a: torch.from_numpy(np.array(a, order="C", copy=True)).to(dev),  # keeps 0-d (ascontiguousarray makes it 1-d)
            lambda t: t.detach().cpu().numpy(),
        )
    if name in ("jax", "jax-cuda"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        if name == "jax-cuda":
            try:
                dev = jax.devices("gpu")[0]
            except RuntimeError as e:
                raise _NoGPU(f"jax sees no GPU: {e}") from None
        else:
            dev = jax.devices("cpu")[0]
        return BackendCase(name, "jax", jnp, dev, lambda a: jax.device_put(jnp.asarray(a), dev), np.asarray)
    if name == "cupy":
        cp = importlib.import_module("cupy")
        try:
            if cp.cuda.runtime.getDeviceCount() < 1:
                raise _NoGPU("cupy sees no GPU")
        except cp.cuda.runtime.CUDARuntimeError as e:
            raise _NoGPU(f"cupy sees no GPU: {e}") from None
        return BackendCase(name, "cupy", array_api_compat.array_namespace(cp.empty(0)), None, cp.asarray, cp.asnumpy)
    raise ValueError(f"unknown backend {name!r}; known: {ALL_BACKENDS}")


class _NoGPU(Exception):
    pass


def _selected() -> tuple[list[str], bool]:
    env = os.environ.get("DIFFSAMPLE_BACKENDS", "").strip()
    if env:
        return [n.strip() for n in env.split(",") if n.strip()], True
    return [n for n in ALL_BACKENDS if n not in GPU_BACKENDS], False


_CASES: dict[str, Any] = {}


def _case(name: str, required: bool) -> Any:
    if name not in _CASES:
        try:
            _CASES[name] = _make(name)
        except _NoGPU as e:
            _CASES[name] = ("skip", str(e))
        except ImportError as e:
            _CASES[name] = ("error" if required else "skip", f"{name} cannot be imported: {e}")
    return _CASES[name]


def available_backends() -> list[BackendCase]:
    """The backend cases that run in this session (for tests that loop over several)."""
    names, required = _selected()
    out = []
    for n in names:
        c = _case(n, required)
        if isinstance(c, BackendCase):
            out.append(c)
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "be" in metafunc.fixturenames:
        names, _ = _selected()
        metafunc.parametrize("be", names, indirect=True, ids=names)
    if "dtype" in metafunc.fixturenames:
        metafunc.parametrize("dtype", ["float32", "float64"])


@pytest.fixture
def be(request: pytest.FixtureRequest) -> BackendCase:
    names, required = _selected()
    c = _case(request.param, required)
    if isinstance(c, tuple):
        what, why = c
        if what == "error":
            pytest.fail(why)
        pytest.skip(why)
    return c


@pytest.fixture
def rng() -> np.random.Generator:
    """NumPy generator for *test data* (never for the library's noise)."""
    return np.random.default_rng(20261127)
