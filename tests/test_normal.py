"""Normal: the conformance suite (runs on every backend of the session)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

import diffsample as ds
from diffsample.distributions import base as base_mod
from diffsample.distributions import normal as normal_mod
from diffsample.testing import check_primitive

# Every statistical test below uses a fixed key and the threshold p > 1e-3: under the
# null hypothesis a p-value is uniform on (0, 1), so a correct sampler fails a given
# test for at most 1e-3 of keys (the false-failure rate).
ALPHA = 1e-3

NORMAL_PRIMS = [
    normal_mod._log_prob,
    normal_mod._cdf,
    normal_mod._log_cdf,
    normal_mod._icdf,
    # the location-scale draws and moments, shared by every location-scale family
    base_mod._ls_rsample,
    base_mod._ls_entropy,
    base_mod._ls_mean,
    base_mod._ls_variance,
    base_mod._ls_stddev,
]

TOL = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-13)}


def test_rsample_shape_dtype_namespace(be, dtype):
    loc = be.asarray([0.0, 1.0, -2.0], dtype)
    x = ds.Normal(loc, 2.0).rsample(ds.random.key(0), (4,))
    assert tuple(x.shape) == (4, 3)
    assert x.dtype == be.dtype(dtype)
    assert type(x) is type(loc)
    assert np.all(np.isfinite(be.to_numpy(x)))


def test_batch_broadcasting(be):
    d = ds.Normal(be.asarray(np.zeros((3, 1))), be.asarray(np.ones(4)))
    assert d.batch_shape == (3, 4)
    assert tuple(d.rsample(1, (2,)).shape) == (2, 3, 4)
    assert tuple(d.entropy().shape) == (3, 4)
    assert tuple(d.mean.shape) == (3, 4) and tuple(d.variance.shape) == (3, 4)


def test_same_key_same_numbers(be):
    d = ds.Normal(be.asarray(np.zeros(5)), 1.0)
    a, b = d.rsample(ds.random.key(7), (3,)), d.rsample(ds.random.key(7), (3,))
    c = d.rsample(ds.random.key(8), (3,))
    assert np.array_equal(be.to_numpy(a), be.to_numpy(b))
    assert not np.array_equal(be.to_numpy(a), be.to_numpy(c))


@pytest.mark.parametrize("stream", ["native", "portable"])
def test_ks(be, dtype, stream):
    loc, scale = 1.5, 0.5
    with ds.random.stream(stream):
        x = ds.Normal(be.asarray(loc, dtype), be.asarray(scale, dtype)).sample(ds.random.key(3), (4000,))
    p = scipy.stats.kstest(be.to_numpy(x).astype(np.float64), "norm", args=(loc, scale)).pvalue
    assert p > ALPHA


def test_methods_against_scipy(be, dtype):
    # References: scipy.stats.norm in float64 (its cdf/logcdf use Cephes ndtr/log_ndtr).
    loc = np.array([0.0, 1.0, -3.0, 2.0])
    scale = np.array([1.0, 0.5, 2.0, 3.0])
    x = np.array([0.3, -4.0, -30.0, 9.0])
    p = np.array([0.5, 1e-6, 0.999, 0.25])
    ref = scipy.stats.norm(loc, scale)
    d = ds.Normal(be.asarray(loc, dtype), be.asarray(scale, dtype))
    xs, ps = be.asarray(x, dtype), be.asarray(p, dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(be.to_numpy(d.log_prob(xs)), ref.logpdf(x), **tol)
    np.testing.assert_allclose(be.to_numpy(d.cdf(xs)), ref.cdf(x), rtol=tol["rtol"] * 10, atol=tol["atol"])
    np.testing.assert_allclose(be.to_numpy(d.log_cdf(xs)), ref.logcdf(x), rtol=tol["rtol"] * 10, atol=tol["atol"])
    np.testing.assert_allclose(be.to_numpy(d.icdf(ps)), ref.ppf(p), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    np.testing.assert_allclose(be.to_numpy(d.entropy()), ref.entropy(), **tol)
    np.testing.assert_allclose(be.to_numpy(d.mean), loc, **tol)
    np.testing.assert_allclose(be.to_numpy(d.variance), scale**2, **tol)
    np.testing.assert_allclose(be.to_numpy(d.stddev), scale, **tol)


@pytest.mark.parametrize("prim", NORMAL_PRIMS, ids=lambda p: p.name)
def test_vjp_against_finite_differences(be, prim):
    check_primitive(prim, lambda a: be.asarray(a, "float64"), rtol=1e-6)


def test_rsample_vjp_values(be, dtype):
    """d/dloc sum(x) = n and d/dscale sum(x) = sum(eps), by every backend's route."""
    key = ds.random.key(11)
    loc, scale = be.asarray([0.5, -1.0], dtype), be.asarray([2.0, 0.5], dtype)
    x, pullback = ds.vjp(lambda m, s: ds.Normal(m, s).rsample(key, (50,)), loc, scale)
    g_loc, g_scale = pullback(be.xp.ones_like(x))
    eps = (be.to_numpy(x) - be.to_numpy(loc)) / be.to_numpy(scale)
    np.testing.assert_allclose(be.to_numpy(g_loc), [50.0, 50.0])
    np.testing.assert_allclose(be.to_numpy(g_scale), eps.sum(0), rtol=1e-4 if dtype == "float32" else 1e-12)


def test_validation(be):
    ok = be.asarray([1.0, 2.0], "float64")
    for bad, what in [(0.0, "0.0"), (-1.0, "-1.0"), (float("nan"), "nan"), (float("inf"), "inf")]:
        with pytest.raises(ValueError, match=rf"scale.*{what}"):
            ds.Normal(ok, be.asarray([1.0, bad], "float64"))
        with pytest.raises(ValueError, match="scale"):
            ds.Normal(ok, bad)
    with pytest.raises(ValueError, match=r"loc.*nan"):
        ds.Normal(be.asarray([float("nan"), 0.0], "float64"), 1.0)
    with pytest.raises(ValueError, match=r"loc \(3,\).*scale \(2,\)"):
        ds.Normal(be.asarray(np.zeros(3)), ok)
    with pytest.raises(ValueError, match="sample_shape"):
        ds.Normal(ok, ok).rsample(0, (-1,))
    with pytest.raises(TypeError, match="key"):
        ds.Normal(ok, ok).rsample(None)
    with pytest.raises(ValueError, match="shape"):
        ds.Normal(ok, ok).rsample(be.asarray(np.zeros(3), "float64"))
    # Nothing was lost: the same object still works after the errors.
    assert np.all(np.isfinite(be.to_numpy(ds.Normal(ok, ok).rsample(0, (2,)))))


def test_validation_of_0d_parameters(be, dtype):
    # 0-d parameters take the checks' fast lane (one value read per parameter).
    zero, one = be.asarray(0.0, dtype), be.asarray(1.0, dtype)
    for bad, what in [(0.0, "0.0"), (-2.0, "-2.0"), (float("nan"), "nan"), (float("inf"), "inf")]:
        with pytest.raises(ValueError, match=rf"scale must be positive and finite, got {what}"):
            ds.Normal(zero, be.asarray(bad, dtype))
    for bad, what in [(float("nan"), "nan"), (float("-inf"), "-inf")]:
        with pytest.raises(ValueError, match=rf"loc must be finite, got {what}"):
            ds.Normal(be.asarray(bad, dtype), one)
    x = ds.Normal(zero, one).rsample(0, ())
    assert tuple(x.shape) == () and np.isfinite(be.to_numpy(x))


def test_torch_0d_checks_skipped_where_values_cannot_be_read(be):
    """0-d torch parameters are read with item(); under torch.func transforms and for
    meta tensors nothing is read (as for arrays), and no error is raised."""
    if be.kind != "torch":
        pytest.skip("torch only")
    import torch

    g = torch.func.grad(lambda s: ds.Normal(torch.tensor(0.0), s).rsample(0, (3,)).sum())(torch.tensor(-1.0))
    assert g.shape == ()  # not checked under grad: the documented NaN-instead-of-error
    x = torch.func.vmap(lambda s: ds.Normal(torch.tensor(0.0), s).rsample(0, (3,)), randomness="same")(torch.ones(4))
    assert x.shape == (4, 3)
    d = ds.Normal(torch.zeros((), device="meta"), torch.ones((), device="meta"))
    assert d.batch_shape == () and d.mean.device.type == "meta"
    with pytest.raises(ValueError, match="scale must be positive"):  # outside transforms: checked
        ds.Normal(torch.tensor(0.0, requires_grad=True), torch.tensor(-1.0, requires_grad=True))


def test_torch_export_with_0d_parameters(be):
    """torch.export traces with fake tensors whose item() is symbolic: the 0-d checks
    must not read it (they are skipped, as under torch.compile)."""
    if be.kind != "torch":
        pytest.skip("torch only")
    import torch

    class Draw(torch.nn.Module):
        def forward(self, loc, scale):
            return ds.Normal(loc, scale).rsample(torch.Generator().manual_seed(0), (3,))

    args = (torch.tensor(0.5), torch.tensor(2.0))
    program = torch.export.export(Draw(), args)
    torch.testing.assert_close(program.module()(*args), Draw()(*args))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(be, low):
    loc = be.asarray([0.0, 100.0, -3.0], low)
    scale = be.asarray([1.0, 30.0, 1e-3], low)
    d = ds.Normal(loc, scale)
    x = d.rsample(ds.random.key(0), (1000,))
    assert x.dtype == be.dtype(low)
    xs = be.to_numpy(be.xp.astype(x, be.xp.float32))
    assert np.all(np.isfinite(xs))
    np.testing.assert_allclose(xs.mean(0), [0.0, 100.0, -3.0], atol=3.0)
    assert np.all(np.isfinite(be.to_numpy(be.xp.astype(d.log_prob(x), be.xp.float32))))


# --------------------------------------------------------------- framework checks
def _framework_grads(be, fn_ds, fn_plain, *args):
    """Gradients of sum(fn(*args) * w) by our primitive and by plain framework autodiff."""
    if be.kind == "torch":
        import torch

        outs = []
        for fn in (fn_ds, fn_plain):
            ts = [a.detach().clone().requires_grad_(True) for a in args]
            y = fn(*ts)
            w = torch.linspace(0.5, 1.5, y.numel(), dtype=y.dtype, device=y.device).reshape(y.shape)
            outs.append(torch.autograd.grad((y * w).sum(), ts, allow_unused=True, materialize_grads=True))
        return outs
    if be.kind == "jax":
        import jax
        import jax.numpy as jnp

        outs = []
        for fn in (fn_ds, fn_plain):

            def loss(*a, fn=fn):
                y = fn(*a)
                return jnp.sum(y * jnp.linspace(0.5, 1.5, y.size, dtype=y.dtype).reshape(y.shape))

            outs.append(jax.grad(loss, argnums=tuple(range(len(args))))(*args))
        return outs
    pytest.skip("no framework autodiff on this backend")


def test_grads_match_framework_autodiff(be):
    x = be.asarray([0.3, -2.0, 1.0], "float64")
    loc = be.asarray([0.1, 0.2, -0.5], "float64")
    scale = be.asarray([1.0, 0.7, 2.0], "float64")
    p = be.asarray([0.2, 0.6, 0.9], "float64")
    xp = be.xp
    if be.kind == "torch":
        import torch

        special_ndtr, special_ndtri = torch.special.ndtr, torch.special.ndtri
    elif be.kind == "jax":
        import jax.scipy.special as jss

        special_ndtr, special_ndtri = jss.ndtr, jss.ndtri
    else:
        pytest.skip("no framework autodiff on this backend")
    cases = [
        (lambda l, s: ds.Normal(l, s).log_prob(x), lambda l, s: -0.5 * ((x - l) / s) ** 2 - xp.log(s) - 0.5 * math.log(2 * math.pi)),
        (lambda l, s: ds.Normal(l, s).cdf(x), lambda l, s: special_ndtr((x - l) / s)),
        (lambda l, s: ds.Normal(l, s).log_cdf(x), lambda l, s: xp.log(special_ndtr((x - l) / s))),
        (lambda l, s: ds.Normal(l, s).icdf(p), lambda l, s: l + s * special_ndtri(p)),
        (lambda l, s: ds.Normal(l, s).entropy(), lambda l, s: 0.5 + 0.5 * math.log(2 * math.pi) + xp.log(s) + 0 * l),
    ]
    for fn_ds, fn_plain in cases:
        ours, theirs = _framework_grads(be, fn_ds, fn_plain, loc, scale)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(be.to_numpy(a), be.to_numpy(b), rtol=1e-10, atol=1e-12)


def test_registered_gradient_check(be):
    """torch.autograd.gradcheck / gradgradcheck and jax check_grads through our VJPs."""
    key = ds.random.key(5)
    loc = be.asarray([0.1, 0.2, -0.5], "float64")
    scale = be.asarray([1.0, 0.7, 2.0], "float64")

    def f(l, s):
        d = ds.Normal(l, s)
        return d.log_prob(d.rsample(key, (4,)) * 0.5) + d.cdf(l * 0.3) + d.entropy()

    if be.kind == "torch":
        import torch

        args = (loc.clone().requires_grad_(True), scale.clone().requires_grad_(True))
        assert torch.autograd.gradcheck(f, args)
        assert torch.autograd.gradgradcheck(lambda l, s: ds.Normal(l, s).rsample(key, (3,)) ** 2, args)
        assert torch.autograd.gradgradcheck(lambda l, s: ds.Normal(l, s).log_prob(l * 0.3 + 1.0), args)
    elif be.kind == "jax":
        from jax.test_util import check_grads

        # check_grads evaluates its finite differences on NumPy arrays, so the noise
        # must be the same on both backends: the portable stream.
        with ds.random.stream("portable"):
            check_grads(f, (loc, scale), order=1, modes=["rev"])
            check_grads(lambda l, s: ds.Normal(l, s).rsample(key, (3,)) ** 2, (loc, scale), order=2, modes=["rev"])
    else:
        pytest.skip("framework gradient checks are for torch and jax")


def test_jax_transforms(be):
    if be.kind != "jax":
        pytest.skip("jax only")
    import jax
    import jax.numpy as jnp

    def loss(key, m, s):
        return jnp.mean(ds.Normal(m, s).rsample(key, (2000,)) ** 2)

    g = jax.jit(jax.grad(loss, argnums=(1, 2)))(jnp.asarray(ds.random.key(0)), jnp.array([1.0]), jnp.array([2.0]))
    # E[x^2] = m^2 + s^2: gradients 2m = 2 and 2s = 4, up to Monte-Carlo error.
    np.testing.assert_allclose(np.asarray(g[0]), [2.0], atol=0.3)
    np.testing.assert_allclose(np.asarray(g[1]), [4.0], atol=0.4)
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    x = jax.jit(jax.vmap(lambda k, m: ds.Normal(m, 1.0).rsample(k, (5,))))(keys, jnp.arange(3.0))
    assert x.shape == (3, 5)
    assert not np.allclose(np.asarray(x[0]), np.asarray(x[1]) - 1.0)  # different keys, different noise


def test_torch_func(be):
    if be.kind != "torch":
        pytest.skip("torch only")
    import torch

    m = torch.tensor([0.5, -1.0], dtype=torch.float64)
    g = torch.func.grad(lambda m: ds.Normal(m, 1.0).rsample(ds.random.key(0), (7,)).sum())(m)
    np.testing.assert_allclose(g.numpy(), [7.0, 7.0])
    x = torch.func.vmap(lambda m: ds.Normal(m, 1.0).rsample(0, (3,)), randomness="same")(torch.zeros(4, 2))
    assert x.shape == (4, 3, 2)


def test_score_is_the_per_sample_vjp_of_log_prob(be, dtype):
    loc, scale = be.asarray([0.5, -1.0], dtype), be.asarray([2.0, 0.5], dtype)
    x = be.asarray(np.array([[0.1, 0.2], [3.0, -2.0], [-1.0, 0.0]]), dtype)
    s = ds.Normal(loc, scale).score(x)
    z = (be.to_numpy(x) - be.to_numpy(loc)) / be.to_numpy(scale)
    tol = TOL[dtype]
    np.testing.assert_allclose(be.to_numpy(s["loc"]), z / be.to_numpy(scale), **tol)
    np.testing.assert_allclose(be.to_numpy(s["scale"]), (z * z - 1) / be.to_numpy(scale), **tol)
    _, pullback = ds.vjp(lambda m, sc: ds.Normal(m, sc).log_prob(x), loc, scale)
    g_loc, g_scale = pullback(be.xp.ones_like(x))
    np.testing.assert_allclose(be.to_numpy(g_loc), be.to_numpy(s["loc"]).sum(0), rtol=1e-5 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(be.to_numpy(g_scale), be.to_numpy(s["scale"]).sum(0), rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("family", ["Normal", "Gumbel", "Laplace", "Cauchy", "Logistic"])
@pytest.mark.parametrize("python_loc", [False, True], ids=["arrays", "python-loc"])
@pytest.mark.parametrize("source", ["generator", "numpy key", "own key", "numpy key, portable"])
def test_rsample_fast_path_equals_the_general_path(be, dtype, family, python_loc, source, monkeypatch):
    """With the backend's own generator or a key array, LocationScale.rsample takes the
    drawer kept in DRAWERS instead of draw() (and on torch calls the forward itself
    when loc and scale are tensors of the dtype); its draws and gradients must equal
    the general path's, also with a Python float loc and under the portable stream
    (asked on every call: the drawer is kept from a native call first)."""
    if be.kind not in ("numpy", "torch"):
        pytest.skip("native generators of NumPy and torch")
    from diffsample.distributions import base
    from diffsample.random import streams

    cls = getattr(ds, family)
    loc, scale = be.asarray([0.5, -1.0], dtype), be.asarray([2.0, 0.25], dtype)

    def key(seed):
        if source == "generator":
            if be.kind == "numpy":
                return np.random.default_rng(seed)
            import torch

            return torch.Generator().manual_seed(seed)
        return ds.random.key(seed, like=loc if source == "own key" else None)

    def draws():
        if python_loc:
            return ds.vjp(lambda s: cls(0.5, s).rsample(key(3), (4,)), scale)
        return ds.vjp(lambda m, s: cls(m, s).rsample(key(3), (4,)), loc, scale)

    mode = "portable" if source.endswith("portable") else "native"
    streams.DRAWERS.clear()
    draws()
    assert any(f is not None for f in streams.DRAWERS.values())  # the fast path is taken
    with ds.random.stream(mode):
        fast_x, fast_pb = draws()
    for module in (base, streams):  # the general path only (rsample's lookup and draw's)
        monkeypatch.setattr(module, "fast_drawer", lambda *a: None)
    streams.DRAWERS.clear()
    with ds.random.stream(mode):
        x, pb = draws()
    streams.DRAWERS.clear()
    assert x.dtype == fast_x.dtype
    np.testing.assert_array_equal(be.to_numpy(fast_x), be.to_numpy(x))
    g = be.xp.ones_like(x)
    for a, b in zip(fast_pb(g), pb(g)):
        np.testing.assert_array_equal(be.to_numpy(a), be.to_numpy(b))


def test_subclasses_keep_their_checks_and_noise(be):
    """The fast lanes read everything from the instance: a subclass's own _validate
    runs for 0-d parameters too, and its noise kind is used (an unknown one raises)
    also with the backend's own generator."""
    if be.kind not in ("numpy", "torch"):
        pytest.skip("native generators of NumPy and torch")

    class Bounded(ds.Normal):
        def _validate(self):
            super()._validate()
            if float(self.scale) > 10:
                raise ValueError("scale too big for Bounded")

    with pytest.raises(ValueError, match="too big"):
        Bounded(be.asarray(0.0, "float64"), be.asarray(100.0, "float64"))
    with pytest.raises(ValueError, match="scale must be positive"):
        Bounded(be.asarray(0.0, "float64"), be.asarray(-1.0, "float64"))

    if be.kind == "numpy":
        gen = np.random.default_rng
    else:
        import torch

        def gen(seed):
            return torch.Generator().manual_seed(seed)

    zero, one = be.asarray(0.0, "float64"), be.asarray(1.0, "float64")
    ds.Normal(zero, one).rsample(gen(0), (3,))  # the generator's drawer is now kept

    class LogUniform(ds.Normal):
        _noise = "uniform"
        _to_standard = staticmethod(lambda xp, u: xp.log(u))

    x = be.to_numpy(LogUniform(zero, one).rsample(gen(0), (1000,)))
    assert np.all(x < 0) and abs(x.mean() + 1) < 0.15  # log of a uniform: mean -1

    class BadNoise(ds.Normal):
        _noise = "laplace"

    with pytest.raises(ValueError, match="unknown noise kind 'laplace'"):
        BadNoise(zero, one).rsample(gen(0), (3,))
    ds.Normal(zero, one).rsample(ds.random.key(0), (3,))  # a key array's drawer is kept too
    for mode in ("native", "portable"):
        with ds.random.stream(mode), pytest.raises(ValueError, match="unknown noise kind 'laplace'"):
            BadNoise(zero, one).rsample(ds.random.key(0), (3,))

    class WideNoise(ds.Normal):  # a standard noise wider than the parameters
        _noise = "uniform"
        _to_standard = staticmethod(lambda xp, u: xp.astype(u, xp.float64) - 0.5)

    zero32, one32 = be.asarray([0.0, 0.5], "float32"), be.asarray([1.0, 2.0], "float32")
    for key in (gen(1), ds.random.key(1)):
        x = WideNoise(zero32, one32).rsample(key, (4,))
        assert x.dtype == zero32.dtype  # the noise is cast to the parameters' dtype first
