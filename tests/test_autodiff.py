"""The primitive mechanism and diffsample.vjp, on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import diffsample as ds
from diffsample.testing import check_primitive, check_vjp


@ds.primitive(name="tests.scaled_square", nondiff=(2,))
def scaled_square(xp, x, a, noise, *, power=2):
    return a * x**power + noise


@scaled_square.defvjp
def _(xp, inputs, out, g, *, power=2):
    x, a, _ = inputs
    return g * a * power * x ** (power - 1), g * x**power, None


@scaled_square.example
def _(rng):
    return (rng.normal(size=(4, 3)), rng.normal(size=(3,)), rng.normal(size=(4, 3))), {"power": 3}


def test_user_primitive_on_every_backend(be, dtype):
    x = be.asarray([[1.0, 2.0], [3.0, -1.0]], dtype)
    a = be.asarray([0.5, 2.0], dtype)
    noise = be.asarray(np.zeros((2, 2)), dtype)
    y, pullback = ds.vjp(lambda x, a: scaled_square(x, a, noise, power=3), x, a)
    np.testing.assert_allclose(be.to_numpy(y), [[0.5, 16.0], [13.5, -2.0]])
    gx, ga = pullback(be.xp.ones_like(y))
    np.testing.assert_allclose(be.to_numpy(gx), [[1.5, 24.0], [13.5, 6.0]])
    # The cotangent of the broadcast parameter is summed back to its shape.
    np.testing.assert_allclose(be.to_numpy(ga), [28.0, 7.0])
    assert gx.dtype == x.dtype and tuple(ga.shape) == (2,)


def test_user_primitive_finite_differences(be):
    check_primitive(scaled_square, lambda a: be.asarray(a, "float64"))


def test_python_scalars_beside_arrays(be):
    x = be.asarray([1.0, 2.0], "float32")
    y = scaled_square(x, 2.0, 0.0)
    assert y.dtype == x.dtype and type(y) is type(x)
    np.testing.assert_allclose(be.to_numpy(y), [2.0, 8.0])


def test_chained_operations(be):
    """rsample then log_prob: the pullback chains two primitives (and sums both paths)."""
    key = ds.random.key(3)

    def f(m, s):
        d = ds.Normal(m, s)
        return d.log_prob(d.rsample(key, (5,)))

    m, s = be.asarray([0.2, -0.1]), be.asarray([1.5, 0.8])
    check_vjp(f, m, s)
    # log N(m + s eps; m, s) = -eps^2/2 - log s - const: d/dm = 0, d/ds = -1/s per draw.
    _, pullback = ds.vjp(f, m, s)
    gm, gs = pullback(be.xp.ones((5, 2), dtype=be.xp.float64))
    np.testing.assert_allclose(be.to_numpy(gm), 0.0, atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(gs), -5.0 / np.array([1.5, 0.8]), rtol=1e-12)


def test_untraced_output_is_an_error(be):
    if be.kind in ("torch", "jax"):
        pytest.skip("frameworks trace every operation")
    x = be.asarray([1.0, 2.0])
    with pytest.raises(ValueError, match="not produced by a diffsample operation"):
        ds.vjp(lambda m: ds.Normal(m, 1.0).rsample(0) * 2.0, x)


def test_same_array_twice(be):
    x = be.asarray([1.0, 2.0])
    _, pullback = ds.vjp(lambda a, b: ds.Normal(a, 1.0).log_prob(b), x, x)
    ga, gb = pullback(be.xp.ones_like(x))
    np.testing.assert_allclose(be.to_numpy(ga), 0.0, atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(gb), 0.0, atol=1e-12)


def test_one_operation_tapes(be):
    """ds.vjp's pullback for a tape of one operation (a path of its own on NumPy and
    the other tape backends) agrees with the general one: a primal used twice in the
    op gets both cotangents, the same array passed as two primals gets one cotangent
    each, a second pullback gives the same, and a view of a primal made inside fn gets
    none (arithmetic between recorded operations is not recorded, as documented)."""
    from diffsample.distributions.base import _ls_rsample as _rsample

    eps = be.asarray([1.0, 2.0, 3.0])
    m = be.asarray(0.5)
    ct = be.xp.ones_like(eps)
    _, pb = ds.vjp(lambda a: _rsample(a, a, eps), m)  # d/da sum(a + a eps) = 3 + 6
    assert float(be.to_numpy(pb(ct)[0])) == 9.0
    assert float(be.to_numpy(pb(ct)[0])) == 9.0
    _, pb = ds.vjp(lambda a, s: _rsample(a, s, eps), m, m)
    assert [float(be.to_numpy(g)) for g in pb(ct)] == [3.0, 6.0]
    if be.kind not in ("torch", "jax"):  # frameworks trace views back to the primal
        _, pb = ds.vjp(lambda a, s: _rsample(a[...], s, eps), m, m)
        assert [float(be.to_numpy(g)) for g in pb(ct)] == [0.0, 6.0]


def test_vjp_needs_primals():
    with pytest.raises(ValueError, match="primal"):
        ds.vjp(lambda: 0)


def test_bad_vjp_is_reported(be):
    @ds.primitive(name="tests.bad")
    def bad(xp, x):
        return x * 2

    @bad.defvjp
    def _(xp, inputs, out, g):
        return g  # not a tuple

    _, pullback = ds.vjp(bad, be.asarray([1.0]))
    with pytest.raises(TypeError, match="one cotangent"):
        pullback(be.asarray([1.0]))


def test_registry_lists_library_primitives():
    names = set(ds.registered_primitives())
    assert {"location_scale.rsample", "normal.log_prob", "relax.gumbel_softmax"} <= names


_TRUSTED = sorted(n for n, p in ds.registered_primitives().items() if p.trust_autodiff)


@pytest.mark.parametrize("name", _TRUSTED)
def test_trusted_primitives_vjp_equals_framework_autodiff(be, name):
    """torch and JAX differentiate ``trust_autodiff`` primitives themselves; their
    hand-written VJP (what NumPy/CuPy users get) must agree, run in the framework's ops."""
    prim = ds.registered_primitives()[name]
    if be.kind not in prim.trust_autodiff:
        pytest.skip(f"{name} keeps its custom VJP on {be.kind}")
    from diffsample._lib.namespace import backend_of

    assert prim.examples, f"{name} needs an example"
    for i, make in enumerate(prim.examples):
        rng = np.random.default_rng(i)
        args, static = make(rng)
        arrays = [be.asarray(np.asarray(a, dtype=np.float64), "float64") for a in args]
        b = backend_of(*arrays)
        out = prim._forward(b, arrays, arrays[0].dtype, static)
        g = be.asarray(rng.normal(size=tuple(out.shape)), "float64")
        hand = prim._backward(b, arrays, out, g, static)
        diff = [j for j in range(len(arrays)) if j not in prim.nondiff]
        if be.kind == "torch":
            import torch

            leaves = [a.clone().requires_grad_(True) if j in diff else a for j, a in enumerate(arrays)]
            auto = torch.autograd.grad(prim.fwd(be.xp, *leaves, **static), [leaves[j] for j in diff], g)
        else:
            import jax

            def f(*d):
                full = list(arrays)
                for j, v in zip(diff, d):
                    full[j] = v
                return prim.fwd(be.xp, *full, **static)

            _, pull = jax.vjp(f, *[arrays[j] for j in diff])
            auto = pull(g)
        assert len(auto) == len(diff)
        for j, a in zip(diff, auto):
            np.testing.assert_allclose(be.to_numpy(hand[j]), be.to_numpy(a), rtol=1e-12, atol=1e-12)


@ds.primitive(name="tests.gap_to_one", nondiff=(1,))
def gap_to_one(xp, x, u):
    return x + (1.0 - u) * 2.0**20


@gap_to_one.defvjp
def _(xp, inputs, out, g):
    return g, None


def test_noise_inputs_keep_their_precision_for_half_parameters(be):
    """A float16 parameter must not round a float32 noise input on its way to the
    forward (1 - 2**-20 would become 1.0 in float16): noise reaches it in float32."""
    if not hasattr(be.xp, "float16"):
        pytest.skip("no float16 in this namespace")
    x = be.asarray(np.zeros(2), "float16")
    u = be.asarray(np.full(2, 1.0 - 2.0**-20), "float32")
    y = gap_to_one(x, u)
    assert y.dtype == x.dtype
    np.testing.assert_allclose(be.to_numpy(y).astype(np.float64), 1.0)


def test_trust_autodiff_names_frameworks():
    assert scaled_square.trust_autodiff == frozenset()
    p = ds.Primitive(lambda xp, x: x, name="tests.trust_torch", trust_autodiff=("torch",))
    assert p.trust_autodiff == frozenset({"torch"})
    with pytest.raises(ValueError, match="trust_autodiff"):
        ds.Primitive(lambda xp, x: x, name="tests.trust_bad", trust_autodiff=("numpy",))


@ds.primitive(name="tests.trusted_affine", trust_autodiff=True)
def trusted_affine(xp, a, b, c):
    return a + b * c


@trusted_affine.defvjp
def _(xp, inputs, out, g):
    return g, g * inputs[2], g * inputs[1]


def test_trusted_call_converts_scalars_and_mixed_dtypes(be):
    """The plain forward's call path (torch and JAX differentiate it themselves; the
    tape backends record it) turns Python scalars into arrays and casts every input to
    the result dtype before the forward runs: a product of two float32 inputs is not
    rounded to float32 when the result is float64."""
    a64 = be.asarray(np.array([0.5, 0.25]), "float64")
    v = np.array([1.0 + 2.0**-20, 3.0])
    b32, c32 = be.asarray(v, "float32"), be.asarray(v, "float32")
    out = trusted_affine(a64, b32, c32)
    assert out.dtype == a64.dtype
    np.testing.assert_array_equal(be.to_numpy(out), np.array([0.5, 0.25]) + v * v)  # 2**-40 kept
    out32 = trusted_affine(0.5, b32, c32)
    assert out32.dtype == b32.dtype
    np.testing.assert_array_equal(be.to_numpy(out32), np.float32(0.5) + v.astype(np.float32) ** 2)
