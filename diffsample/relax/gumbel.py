"""Gumbel-Softmax (Concrete) relaxation of a categorical draw, with straight-through."""

from __future__ import annotations

import math
import operator
from typing import Any

from .._lib.namespace import backend_of, float_dtype, is_concrete, kind_of
from .._lib.ops import one_hot_argmax, scaled_logits, softmax, softmax_vjp, stop_gradient
from .._lib.validate import check_positive
from ..autodiff import primitive
from ..random.streams import draw

__all__ = ["gumbel_softmax"]


def _forward(xp: Any, logits: Any, gumbels: Any, tau: Any, *, axis: int, hard: bool) -> Any:
    a = logits + gumbels
    return one_hot_argmax(a / tau, axis) if hard else softmax(a, axis, scale=tau)


def _vjp(xp: Any, inputs: tuple, out: Any, g: Any, needs: tuple, *, axis: int, hard: bool) -> tuple:
    logits, gumbels, tau = inputs
    a = logits + gumbels if (hard or needs[2]) else None
    y = softmax(a, axis, scale=tau) if hard else out  # straight-through: the soft sample's gradient
    gz = softmax_vjp(y, g, axis)
    d_logits = gz / tau if needs[0] else None
    d_tau = None
    if needs[2]:
        # dz/dtau = -z/tau with z = a/tau.  Where tau is constant along the axis, z may
        # be taken with its row maximum off (sum(gz) == 0 along the axis), which keeps
        # it small.  Classes with probability 0 (logit -inf) contribute 0.
        z, _ = scaled_logits(a, tau, axis)
        d_tau = -(gz * xp.where(y > 0, z, xp.zeros_like(z))) / tau
    return d_logits, None, d_tau


def _example(rng: Any) -> tuple:
    return (rng.normal(size=(4, 5)), rng.gumbel(size=(4, 5)), rng.uniform(0.5, 2.0, size=(4, 1))), {"axis": 1, "hard": False}


def _example_per_class(rng: Any) -> tuple:
    # A temperature that varies along the category axis takes the other branch of _scaled.
    return (rng.normal(size=(3, 4)), rng.gumbel(size=(3, 4)), rng.uniform(0.5, 2.0, size=(4,))), {"axis": 1, "hard": False}


# The general case: temperature an array (differentiable), hard or soft.
_gumbel_softmax = primitive(_forward, name="relax.gumbel_softmax", nondiff=(1,))
# Soft samples at a constant (Python number) temperature, the common case: torch's own
# autodiff of the forward is exact and NaN-free here (no gradient goes to the
# temperature, so -inf logits give 0, not 0 * inf) and cheaper than a custom function.
# Not on JAX: its autodiff of the overflow-safe softmax in _lib/ops is slower than
# the custom VJP (1.4-1.7x at 4096x256 and above).  Used only with hard=False.
_gumbel_softmax_fixed_tau = primitive(
    _forward, name="relax.gumbel_softmax_fixed_tau", nondiff=(1, 2), trust_autodiff=("torch",)
)
for _prim in (_gumbel_softmax, _gumbel_softmax_fixed_tau):
    _prim.defvjp(_vjp)
    _prim.example(_example)
    _prim.example(_example_per_class)


def _check_logits(b: Any, logits: Any, axis: int) -> None:
    if logits.shape[axis] == 0:
        raise ValueError(f"logits has no categories along axis {axis} (shape {tuple(logits.shape)})")
    if not is_concrete(logits):
        return
    xp = b.xp
    # One reduction and one read in the common case: a finite sum means no NaN and no
    # infinity at all.  Otherwise (an allowed -inf, or a sum that overflows) the exact
    # checks below decide.
    if math.isfinite(float(xp.sum(stop_gradient(logits)))):
        return
    if bool(xp.any(xp.isnan(logits))):
        raise ValueError("logits must not contain NaN")
    if bool(xp.any(logits == math.inf)):
        raise ValueError("logits must not contain +inf")
    if bool(xp.any(xp.all(logits == -math.inf, axis=axis))):
        raise ValueError("logits has a row whose entries are all -inf: no category can be drawn")


def gumbel_softmax(
    logits: Any, key: Any, tau: Any = 1.0, hard: bool = False, axis: int = -1, *, validate_args: bool = True
) -> Any:
    """Draw a relaxed one-hot sample ``softmax((logits + g) / tau)``, ``g ~ Gumbel(0, 1)``.

    The Gumbel-Softmax (Concrete) reparameterization of a categorical draw: as
    ``tau -> 0`` the sample approaches ``one_hot(argmax(logits + g))``, which is an
    exact draw from ``Categorical(softmax(logits))``.  Gradients flow to ``logits``
    and, if it is an array, to ``tau``.

    Parameters
    ----------
    logits : array
        Unnormalized log-probabilities; categories along ``axis``.  ``-inf`` is allowed
        (that category has probability 0, is never drawn and gets gradient 0); NaN,
        ``+inf`` and rows that are all ``-inf`` raise ``ValueError``.
    key : key array, int or generator
        Source of the Gumbel noise.
    tau : float or array
        Temperature, > 0 (broadcast against ``logits``).  Tiny values (1e-8) stay
        finite and give one-hot rows.
    hard : bool
        If True the forward value is the exact one-hot ``one_hot(argmax)``, and the
        gradient is that of the soft sample (straight-through).
    axis : int
        The category axis.
    validate_args : bool
        Check the inputs (skipped automatically under tracing).

    Returns
    -------
    array
        Same shape, namespace, device and floating dtype as ``logits``.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> logits = np.log(np.array([[0.2, 0.3, 0.5]]))
    >>> y = ds.gumbel_softmax(logits, ds.random.key(0), tau=0.5)
    >>> y.shape, bool(np.isclose(y.sum(), 1.0))
    ((1, 3), True)
    >>> ds.gumbel_softmax(logits, ds.random.key(0), tau=0.5, hard=True).sum()
    np.float64(1.0)
    """
    if kind_of(logits) is None:
        raise TypeError(f"logits must be an array, got {type(logits).__name__}")
    if not isinstance(hard, bool):
        raise TypeError(f"hard must be a bool, got {hard!r}")
    b = backend_of(logits, tau)
    ndim = logits.ndim
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an int, got {axis!r}") from None
    if ndim == 0 or not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for logits of shape {tuple(logits.shape)}")
    axis %= ndim
    if validate_args:
        check_positive(b, "tau", tau)
        _check_logits(b, logits, axis)
    dtype = float_dtype(b, logits, tau)
    gumbels = draw("gumbel", key, tuple(logits.shape), b, dtype)
    prim = _gumbel_softmax if hard or kind_of(tau) is not None else _gumbel_softmax_fixed_tau
    return prim.apply(b, dtype, logits, gumbels, tau, axis=axis, hard=hard)
