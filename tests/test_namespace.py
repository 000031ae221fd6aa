"""Namespace in = namespace out; mixed libraries are refused; import stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import diffsample as ds
from diffsample._lib.namespace import backend_of


def test_backend_resolution(be):
    x = be.asarray([1.0])
    b = backend_of(x, 2.0, None)
    assert b.kind == be.kind


def test_python_scalars_only_give_numpy():
    d = ds.Normal(0.0, 1.0)
    x = d.rsample(ds.random.key(0), (3,))
    assert isinstance(x, np.ndarray) and x.dtype == np.float64


def test_two_libraries_raise(be):
    other = None
    if be.kind != "numpy":
        other = np.array([1.0])
    else:
        xps = pytest.importorskip("array_api_strict")
        other = xps.asarray([1.0])
    with pytest.raises(TypeError, match="two libraries"):
        ds.Normal(be.asarray([0.0]), other)
    with pytest.raises(TypeError, match="two libraries"):
        ds.gumbel_softmax(be.asarray([0.0, 1.0]), 0, tau=other)


def test_torch_two_devices():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device beside the CPU")
    with pytest.raises(TypeError, match="two devices"):
        ds.Normal(torch.zeros(2), torch.ones(2, device="cuda"))


def test_import_touches_no_framework():
    code = (
        "import sys, diffsample as ds, numpy as np;"
        "ds.Normal(np.zeros(2), 1.0).rsample(ds.random.key(0), (3,));"
        "ds.gumbel_softmax(np.zeros((2, 3)), 0);"
        "bad = [m for m in ('torch', 'jax', 'cupy', 'jaxlib') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
