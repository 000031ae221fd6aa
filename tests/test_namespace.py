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


def test_resolve_params_fast_lanes_agree_with_the_general_functions(be):
    """resolve_params' straight-line lanes (two arrays of one type) give what
    backend_of, broadcast_shapes and float_dtype give, for 0-d, equal, broadcasting
    and mismatched shapes and dtypes, twice (the second call takes the cached lane)."""
    from diffsample._lib.namespace import float_dtype
    from diffsample._lib.validate import broadcast_shapes, resolve_params

    pairs = [
        (be.asarray(0.0, "float32"), be.asarray(1.0, "float32")),
        (be.asarray([0.0, 1.0, 2.0], "float64"), be.asarray([1.0, 2.0, 3.0], "float64")),
        (be.asarray([0.0, 1.0, 2.0], "float32"), be.asarray(1.0, "float32")),
        (be.asarray(0.0, "float32"), be.asarray([1.0, 2.0], "float32")),
        (be.asarray([[0.0], [1.0]], "float32"), be.asarray([1.0, 2.0, 3.0], "float32")),
        (be.asarray(0.0, "float32"), be.asarray(1.0, "float64")),
        (be.asarray([0.0, 1.0], "float64"), 2.0),
    ]
    for loc, scale in pairs:
        want = (backend_of(loc, scale), broadcast_shapes(loc=loc, scale=scale), float_dtype(backend_of(loc, scale), loc, scale))
        for _ in range(2):
            b, shape, dt = resolve_params(("loc", "scale"), (loc, scale))
            assert (b.kind, b.device, shape, dt) == (want[0].kind, want[0].device, want[1], want[2])
            assert type(shape) is tuple
    with pytest.raises(ValueError, match="do not broadcast"):
        resolve_params(("loc", "scale"), (be.asarray([0.0, 1.0]), be.asarray([1.0, 2.0, 3.0])))


def test_torch_cpu_and_meta_are_two_devices():
    """Two devices without a GPU: a CPU tensor beside a meta tensor, in either order
    (the CPU lane of resolve_params must not take the pair)."""
    torch = pytest.importorskip("torch")
    for loc, scale in [(torch.zeros(()), torch.ones((), device="meta")), (torch.zeros((), device="meta"), torch.ones(()))]:
        with pytest.raises(TypeError, match="two devices"):
            ds.Normal(loc, scale)
