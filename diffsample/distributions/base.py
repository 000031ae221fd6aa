"""The common face of every distribution."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from .._lib.namespace import Backend, asarray, backend_of, compute_dtype, float_dtype
from .._lib.ops import quiet_numpy, stop_gradient
from .._lib.validate import broadcast_shape, check_finite, check_positive, loc_scale_ok, resolve_params, shape_of
from ..autodiff import primitive
from ..random.streams import DRAWERS, _UNSET, draw, fast_drawer

__all__ = ["Distribution", "LocationScale"]

_NAN = math.nan
_INF = math.inf


class Distribution:
    """Base class: parameters of one backend, a batch shape, and the usual methods.

    Subclasses set ``_params`` (names of the array parameters) and implement
    ``rsample``, ``log_prob`` and the rest through primitives, so that every method
    has a hand-written VJP on every backend.

    ``sample`` is ``rsample`` with the gradient stopped; ``sample_shape`` is prepended
    to ``batch_shape`` in draws.
    """

    _params: tuple[str, ...] = ()
    has_rsample = True
    event_shape: tuple[int, ...] = ()

    def __init__(self, validate_args: bool = True, **params: Any) -> None:
        for k, v in params.items():
            setattr(self, k, v)
        self._backend: Backend
        self.batch_shape: tuple[int, ...]
        self._backend, self.batch_shape, self.dtype = resolve_params(tuple(params), tuple(params.values()))
        if validate_args:
            self._validate()

    def _validate(self) -> None:  # pragma: no cover - every subclass overrides
        pass

    def _extended_shape(self, sample_shape: Any) -> tuple[int, ...]:
        if type(sample_shape) is tuple:  # the common case, without the generic checks below
            for s in sample_shape:
                if type(s) is not int or s < 0:
                    break
            else:
                return sample_shape + self.batch_shape + self.event_shape
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        try:
            sample_shape = tuple(int(s) for s in sample_shape)
        except TypeError:
            raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}") from None
        if any(s < 0 for s in sample_shape):
            raise ValueError(f"sample_shape must not be negative, got {sample_shape}")
        return sample_shape + self.batch_shape + self.event_shape

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        raise NotImplementedError

    def sample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Draw without gradient: ``rsample`` with the gradient stopped."""
        return stop_gradient(self.rsample(key, sample_shape))

    def __repr__(self) -> str:
        inner = ", ".join(f"{p}: shape {tuple(getattr(getattr(self, p), 'shape', ()))}" for p in self._params)
        return f"{type(self).__name__}({inner}, backend={self._backend.kind})"


# ------------------------------------------ helpers shared by the distributions
def _full(xp: Any, like: Any, value: float) -> Any:
    """An array of ``value`` with the shape, dtype and device of ``like``."""
    return xp.zeros_like(like) + value


def _narrow_bound(b: Backend, dtype: Any) -> float | None:
    """Largest finite value of ``dtype`` when it is narrower than its compute dtype.

    float16/bfloat16 results are computed in float32 and cast back; draws beyond the
    narrow type's range saturate at +-this bound instead of turning into +-inf.
    ``None`` for float32 and float64 (no clipping is done then).
    """
    key = (b.kind, dtype)
    try:
        return _BOUNDS[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable dtype object: not cached
        key = None
    bound = None if compute_dtype(b, dtype) == dtype else float(b.xp.finfo(dtype).max)
    if key is not None:
        _BOUNDS[key] = bound
    return bound


_BOUNDS: dict[tuple, float | None] = {}  # (backend kind, dtype) -> _narrow_bound


def _clip_bound(xp: Any, x: Any, bound: float | None, lower: bool = True) -> Any:
    if bound is None:
        return x
    return xp.clip(x, min=-bound, max=bound) if lower else xp.clip(x, max=bound)


def _icdf_edges(xp: Any, p: Any, fn: Callable[[Any], Any], at0: float, at1: float) -> Any:
    """Apply the standard inverse CDF ``fn`` (valid on the open interval) to any ``p``.

    ``fn(p)`` for ``0 < p < 1``, ``at0``/``at1`` at the ends, NaN outside ``[0, 1]``
    and for NaN; ``fn`` itself only ever sees values in ``(0, 1)``, so no warning is
    raised on any backend.
    """
    inside = (p > 0) & (p < 1)
    ps = xp.where(inside, p, _full(xp, p, 0.5))
    out = fn(ps)
    out = xp.where(inside, out, _full(xp, out, _NAN))
    out = xp.where(p == 0, _full(xp, out, at0), out)
    return xp.where(p == 1, _full(xp, out, at1), out)


def _score(dist: Distribution, x: Any, partials: Callable[..., tuple], names: Sequence[str]) -> dict[str, Any]:
    """``{name: d log_prob(x) / d name}`` from the hand-written partials, per sample.

    ``partials(xp, x, *params)`` returns ``(d/dx, d/dparam_1, ...)`` (``None`` for a
    zero); each gradient is broadcast to ``broadcast(x.shape, batch_shape)`` and has
    the dtype ``log_prob(x)`` has.
    """
    params = [getattr(dist, n) for n in dist._params]
    b = backend_of(x, *params)
    xp = b.xp
    dt = float_dtype(b, x, *params)
    cdt = compute_dtype(b, dt)
    args = [asarray(b, v, cdt) for v in (x, *params)]
    shape = broadcast_shape(shape_of(x), dist.batch_shape)
    if shape is None:
        raise ValueError(f"x of shape {shape_of(x)} does not broadcast with batch shape {dist.batch_shape}")
    grads = partials(xp, *args)[1:]
    out = {}
    for name, d in zip(names, grads):
        if d is None:
            d = xp.zeros_like(args[0])
        if tuple(d.shape) != shape:
            d = xp.broadcast_to(d, shape)
        out[name] = d if d.dtype == dt else xp.astype(d, dt)
    return out


def _times(g: Any, parts: tuple) -> tuple:
    return tuple(None if d is None else g * d for d in parts)


def _nan_of_batch(dist: Distribution) -> Any:
    """NaN array of the distribution's batch shape, dtype and device (no gradient)."""
    b = dist._backend
    kw = {"device": b.device} if b.device is not None else {}
    return b.xp.full(dist.batch_shape, _NAN, dtype=dist.dtype, **kw)


# ------------------------------------------------------- location-scale families
# Draws of every family: X = loc + scale * eps for the family's standard noise eps (no
# gradient), clipped to [-bound, bound] for float16/bfloat16 parameters.  torch and JAX
# differentiate the forward themselves (it is exact); the VJP serves the other backends.
@primitive(name="location_scale.rsample", nondiff=(2,), trust_autodiff=True)
def _ls_rsample(xp: Any, loc: Any, scale: Any, eps: Any, bound: float | None = None) -> Any:
    x = loc + scale * eps
    return x if bound is None else _clip_bound(xp, x, bound)


@_ls_rsample.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, needs: tuple, bound: float | None = None) -> tuple:
    return g, (g * inputs[2] if needs[1] else None), None


# Moments of X = loc + scale * Z for a standard Z, one primitive each for every family;
# the family's constants come in as static arguments:
#   mean = loc + m scale,  variance = v scale**2,  stddev = s scale,  entropy = h + log(scale).
@primitive(name="location_scale.mean")
def _ls_mean(xp: Any, loc: Any, scale: Any, m: float = 0.0) -> Any:
    return loc + m * scale


@_ls_mean.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, m: float = 0.0) -> tuple:
    return g, (m * g if m else None)


@primitive(name="location_scale.variance")
def _ls_variance(xp: Any, loc: Any, scale: Any, v: float = 1.0) -> Any:
    return v * scale * scale + xp.zeros_like(loc)


@_ls_variance.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, v: float = 1.0) -> tuple:
    return None, (2.0 * v) * g * inputs[1]


@primitive(name="location_scale.stddev")
def _ls_stddev(xp: Any, loc: Any, scale: Any, s: float = 1.0) -> Any:
    return s * scale + xp.zeros_like(loc)


@_ls_stddev.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, s: float = 1.0) -> tuple:
    return None, s * g


@primitive(name="location_scale.entropy")
def _ls_entropy(xp: Any, loc: Any, scale: Any, h: float = 0.0) -> Any:
    return h + xp.log(scale) + xp.zeros_like(loc)


@_ls_entropy.defvjp
def _(xp: Any, inputs: tuple, out: Any, g: Any, h: float = 0.0) -> tuple:
    return None, g / inputs[1]


def _ls_example(static: dict) -> Callable[[Any], tuple]:
    def make(rng: Any) -> tuple:
        return (rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)), static

    return make


@_ls_rsample.example
def _(rng: Any) -> tuple:
    (loc, scale), _ = _ls_example({})(rng)
    return (loc, scale, rng.standard_cauchy(size=(3, 5))), {}


_ls_mean.example(_ls_example({"m": 0.5772156649015329}))
_ls_mean.example(_ls_example({}))
_ls_variance.example(_ls_example({"v": math.pi**2 / 3.0}))
_ls_stddev.example(_ls_example({"s": math.pi / math.sqrt(3.0)}))
_ls_entropy.example(_ls_example({"h": 2.0}))


class LocationScale(Distribution):
    """Base of the location-scale families: ``X = loc + scale * Z``, ``Z`` standard.

    Holds everything :class:`~diffsample.distributions.Normal`,
    :class:`~diffsample.distributions.Gumbel`,
    :class:`~diffsample.distributions.Laplace`,
    :class:`~diffsample.distributions.Cauchy` and
    :class:`~diffsample.distributions.Logistic` share: the parameters and their
    check, the support, ``rsample`` and one-line methods that forward to the
    family's primitives.

    Parameters
    ----------
    loc : array or float
        Location, finite.
    scale : array or float
        Scale, > 0.
    validate_args : bool
        Check that ``loc`` is finite and ``scale > 0`` (default True).  The check
        reads values; it is skipped under ``jax.jit`` and ``torch.func``
        transforms, where an invalid scale gives NaN instead.

    Raises
    ------
    ValueError
        With ``validate_args``: ``scale <= 0`` or NaN or infinite parameters
        (naming the parameter and the bad value).  Always: shapes that do not
        broadcast.

    Notes
    -----
    A family sets these class attributes (primitives are module-level
    :func:`~diffsample.primitive` objects, each a forward with a hand-written VJP):

    ``_rsample_prim``
        ``(loc, scale, eps, bound=None) -> loc + scale * eps``, ``eps`` not
        differentiated, the result clipped to ``[-bound, bound]`` when ``bound`` is
        given.  Every family shares the default, ``location_scale.rsample``.
    ``_log_prob_prim``, ``_cdf_prim``, ``_log_cdf_prim``
        ``(x, loc, scale)``.
    ``_icdf_prim``
        ``(p, loc, scale, bound=None)``.
    ``_mean_shift``, ``_variance_factor``, ``_entropy_const``
        The standard variable's mean ``m``, variance ``v`` and entropy ``h``:
        ``mean = loc + m scale``, ``variance = v scale**2``, ``stddev = sqrt(v)
        scale`` and ``entropy = h + log(scale)``, each broadcast to ``batch_shape``
        (one shared primitive each).  ``nan`` moments (a family without them) give
        NaN arrays with no gradient.
    ``_log_prob_partials``
        ``staticmethod`` ``(xp, x, loc, scale) -> (d/dx, d/dloc, d/dscale)`` of
        ``log_prob``, for :meth:`score`.
    ``_noise``, ``_to_standard``
        The base noise ``rsample`` draws (``"normal"`` or ``"uniform"``) and a
        ``staticmethod`` ``(xp, noise) -> standard noise`` (the standard inverse CDF
        for uniform noise; ``None`` where the noise is standard already).

    With float16/bfloat16 parameters the noise is computed in float32 and draws
    beyond the narrow dtype's range saturate at its largest finite value.

    Examples
    --------
    Gradients of the draws on NumPy, without any framework, for every family:

    >>> import numpy as np
    >>> import diffsample as ds
    >>> for cls in (ds.Normal, ds.Gumbel, ds.Laplace, ds.Cauchy, ds.Logistic):
    ...     x, pullback = ds.vjp(lambda m, s: cls(m, s).rsample(ds.random.key(0), (1000,)),
    ...                          np.zeros(2), np.ones(2))
    ...     print(cls.__name__, pullback(np.ones_like(x))[0])
    Normal [1000. 1000.]
    Gumbel [1000. 1000.]
    Laplace [1000. 1000.]
    Cauchy [1000. 1000.]
    Logistic [1000. 1000.]
    """

    _params = ("loc", "scale")
    _noise = "uniform"
    _to_standard: Callable[[Any, Any], Any] | None = None
    _log_prob_partials: Callable[..., tuple] | None = None
    _rsample_prim: Any = _ls_rsample  # (loc, scale, eps, bound=None) -> loc + scale * eps, clipped
    _log_prob_prim: Any = None
    _cdf_prim: Any = None
    _log_cdf_prim: Any = None
    _icdf_prim: Any = None
    _mean_shift = 0.0
    _variance_factor = 1.0
    _entropy_const = 0.0

    def __init__(self, loc: Any, scale: Any, validate_args: bool = True) -> None:
        # Distribution.__init__ without the keyword dictionary (this runs on every call).
        self.loc = loc
        self.scale = scale
        self._backend, self.batch_shape, self.dtype = resolve_params(self._params, (loc, scale))
        if validate_args:
            self._validate()

    def _validate(self) -> None:
        if not self.batch_shape and loc_scale_ok(self.loc, self.scale):  # two valid values, read once each
            return
        b = self._backend
        check_finite(b, "loc", self.loc)
        check_positive(b, "scale", self.scale)

    @property
    def support(self) -> tuple[float, float]:
        """``(-inf, inf)``: the real line."""
        return -_INF, _INF

    def rsample(self, key: Any, sample_shape: Any = ()) -> Any:
        """Reparameterized draws ``loc + scale * eps``, ``eps`` standard noise from ``key``.

        Parameters
        ----------
        key : key array, int or generator
            Source of noise (:func:`diffsample.random.key`, an int seed, or the
            backend's own generator).
        sample_shape : int or tuple of int
            Leading shape of the draws.

        Returns
        -------
        array
            Draws of shape ``sample_shape + batch_shape`` and the parameters' dtype;
            gradients flow to ``loc`` and ``scale``.  With float16/bfloat16
            parameters the noise is computed in float32 and draws beyond the
            dtype's range saturate at its largest finite value.
        """
        b = self._backend
        dtype = self.dtype
        shape = self._extended_shape(sample_shape)
        # draw()'s first step, written out here (a call fewer on the hottest path):
        # the drawer kept for this kind of key, which draws in the dtype itself.
        try:
            drawer = DRAWERS.get((b.kind, dtype, type(key)), _UNSET)
        except TypeError:  # an unhashable dtype object
            drawer = None
        if drawer is _UNSET:
            drawer = fast_drawer(key, b, dtype)
        if drawer is not None:
            eps = drawer(b, key, self._noise, shape, dtype)
        else:
            eps = draw(self._noise, key, shape, b, dtype)
        noise_exact = drawer is not None
        to_standard = self._to_standard
        if to_standard is not None:
            # The standard noise is formed in float32/float64, before the parameters'
            # dtype is applied (so a uniform close to 1 never rounds to 1 first).
            with quiet_numpy():
                eps = to_standard(b.xp, eps)
            noise_exact = False
        loc, scale, prim = self.loc, self.scale, self._rsample_prim
        # float32/float64: the noise is in the parameters' dtype and nothing is clipped.
        bound = None if noise_exact or eps.dtype == dtype else _narrow_bound(b, dtype)
        if bound is None:
            if b.kind in prim.direct_kinds:
                # The framework differentiates this forward itself (torch): with arrays of
                # the dtype it is called as it is, as apply would (torch dtypes are
                # singletons; the noise is checked too: a subclass's _to_standard may widen it).
                try:
                    exact = loc.dtype is dtype and scale.dtype is dtype and (noise_exact or eps.dtype is dtype)
                except AttributeError:  # a Python scalar parameter
                    exact = False
                if exact:
                    return prim.fwd(b.xp, loc, scale, eps)
            return prim.apply(b, dtype, loc, scale, eps)
        # Noise beyond the narrow dtype's range (only a heavy tail such as the
        # Cauchy's gets there) saturates too, like the draws.
        eps = b.xp.clip(eps, min=-bound, max=bound)
        return prim.apply(b, dtype, loc, scale, eps, bound=bound)

    def log_prob(self, x: Any) -> Any:
        """Log density at ``x``.

        Parameters
        ----------
        x : array or float
            Where to evaluate the density; broadcast against ``batch_shape``.

        Returns
        -------
        array
            ``log p(x)``, differentiable in ``x``, ``loc`` and ``scale``.
        """
        return self._log_prob_prim(x, self.loc, self.scale)

    def score(self, x: Any) -> dict[str, Any]:
        """Per-sample gradients of ``log_prob(x)`` with respect to the parameters.

        Parameters
        ----------
        x : array or float
            Samples (typically draws of this distribution); broadcast against
            ``batch_shape``.

        Returns
        -------
        dict
            ``{"loc": d log_prob / d loc, "scale": d log_prob / d scale}``, each of
            shape ``broadcast(x.shape, batch_shape)`` (no reduction over samples).
        """
        return _score(self, x, self._log_prob_partials, self._params)

    def cdf(self, x: Any) -> Any:
        """Cumulative distribution function at ``x``.

        Parameters
        ----------
        x : array or float
            Upper ends of the intervals ``(-inf, x]``; broadcast against
            ``batch_shape``.

        Returns
        -------
        array
            ``P(X <= x)``, differentiable in ``x``, ``loc`` and ``scale``.
        """
        return self._cdf_prim(x, self.loc, self.scale)

    def log_cdf(self, x: Any) -> Any:
        """Log of the CDF at ``x``, computed in log space (accurate in the left tail).

        Parameters
        ----------
        x : array or float
            Upper ends; any real value, however far in the left tail; broadcast
            against ``batch_shape``.

        Returns
        -------
        array
            ``log P(X <= x)``, differentiable in ``x``, ``loc`` and ``scale``.
        """
        return self._log_cdf_prim(x, self.loc, self.scale)

    def icdf(self, p: Any) -> Any:
        """Inverse CDF (quantile function) at probabilities ``p``.

        Parameters
        ----------
        p : array or float
            Probabilities in ``[0, 1]``; broadcast against ``batch_shape``.

        Returns
        -------
        array
            ``loc + scale * Q(p)`` with ``Q`` the standard quantile, differentiable in
            ``p``, ``loc`` and ``scale``.  With float16/bfloat16 inputs, values beyond
            the dtype's range saturate at its largest finite value.
        """
        loc, scale = self.loc, self.scale
        b = backend_of(p, loc, scale)
        bound = _narrow_bound(b, float_dtype(b, p, loc, scale))
        if bound is None:
            return self._icdf_prim(p, loc, scale)
        return self._icdf_prim(p, loc, scale, bound=bound)

    def entropy(self) -> Any:
        """Differential entropy.

        Returns
        -------
        array
            Entropy of shape ``batch_shape``, differentiable in ``scale``.
        """
        return _ls_entropy(self.loc, self.scale, h=self._entropy_const)

    @property
    def mean(self) -> Any:
        """Mean, of shape ``batch_shape``."""
        if math.isnan(self._mean_shift):
            return _nan_of_batch(self)
        return _ls_mean(self.loc, self.scale, m=self._mean_shift)

    @property
    def variance(self) -> Any:
        """Variance, of shape ``batch_shape``."""
        if math.isnan(self._variance_factor):
            return _nan_of_batch(self)
        return _ls_variance(self.loc, self.scale, v=self._variance_factor)

    @property
    def stddev(self) -> Any:
        """Standard deviation, of shape ``batch_shape``."""
        if math.isnan(self._variance_factor):
            return _nan_of_batch(self)
        return _ls_stddev(self.loc, self.scale, s=math.sqrt(self._variance_factor))
