"""The one result type every gradient estimator returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._lib.namespace import backend_of

__all__ = ["EstimatorResult"]


@dataclass
class EstimatorResult:
    """Objective value, gradient estimates and per-sample contributions of one estimator call.

    Every estimator in :mod:`diffsample.estimators` returns this.  All arrays belong to
    the namespace (and device) of the parameters that went in.

    Attributes
    ----------
    value : array
        Monte Carlo estimate of the objective ``E[f(x)]``: the mean of ``f`` over the
        sample axis (shape ``f(x).shape[1:]``).
    grads : dict of str to array
        Gradient estimate for each parameter, by name, in the parameter's shape: the
        mean of ``per_sample[name]`` over its leading axis.
    per_sample : dict of str to array
        Per-sample contributions, shape ``(n,) + param.shape``.  Their mean is the
        gradient estimate and their spread gives the estimator's variance.
    state : array or None
        New state of a stateful baseline (the moving average of ``score_function``);
        ``None`` otherwise.  Feed it to the next call.

    Notes
    -----
    :meth:`variance` is the sample variance (``correction=1``) of the per-sample
    contributions, i.e. the variance of the *single-sample* estimator; :meth:`stderr`
    is ``sqrt(variance / n)``, the standard error of ``grads``.  With the leave-one-out
    baselines the contributions share the batch sums and are weakly dependent, so there
    the standard error is the usual large-``n`` approximation.

    Under ``jax.jit`` the result is a pytree (registered the first time an estimator
    runs on JAX), so a jitted function may return it whole.

    Examples
    --------
    >>> import numpy as np
    >>> import diffsample as ds
    >>> from diffsample.estimators import score_function
    >>> r = score_function(lambda loc, scale: ds.Normal(loc, scale),
    ...                    {"loc": np.array(1.0), "scale": np.array(1.0)},
    ...                    lambda x: x**2, ds.random.key(0), 10_000, baseline="leave_one_out")
    >>> sorted(r.grads), r.per_sample["loc"].shape
    (['loc', 'scale'], (10000,))
    >>> bool(abs(r.grads["loc"] - 2.0) < 5 * r.stderr("loc"))   # exact: d/dmu (mu^2 + sigma^2) = 2
    True
    """

    value: Any
    grads: dict[str, Any]
    per_sample: dict[str, Any]
    state: Any = None

    @property
    def n(self) -> int:
        """Number of samples (the leading axis of ``per_sample``)."""
        for v in self.per_sample.values():
            return int(v.shape[0])
        return 0

    def _one(self, name: str, what: str) -> Any:
        if name not in self.per_sample:
            raise KeyError(f"no parameter named {name!r}; the result has {sorted(self.per_sample)}")
        c = self.per_sample[name]
        if c.shape[0] < 2:
            raise ValueError(f"the variance needs at least 2 samples, this result has n = {c.shape[0]}")
        xp = backend_of(c).xp
        var = xp.var(c, axis=0, correction=1)
        if what == "variance":
            return var
        return xp.sqrt(var / c.shape[0])

    def variance(self, name: str | None = None) -> Any:
        """Variance of the single-sample estimator, per parameter.

        Parameters
        ----------
        name : str, optional
            One parameter; default: a dict over all parameters.

        Returns
        -------
        array or dict of str to array
            In each parameter's shape.
        """
        if name is not None:
            return self._one(name, "variance")
        return {k: self._one(k, "variance") for k in self.per_sample}

    def stderr(self, name: str | None = None) -> Any:
        """Standard error of ``grads``: ``sqrt(variance / n)``, per parameter.

        Parameters
        ----------
        name : str, optional
            One parameter; default: a dict over all parameters.
        """
        if name is not None:
            return self._one(name, "stderr")
        return {k: self._one(k, "stderr") for k in self.per_sample}

    def __repr__(self) -> str:
        def shp(a: Any) -> str:
            return str(tuple(getattr(a, "shape", ())))

        g = ", ".join(f"{k}: {shp(v)}" for k, v in self.grads.items())
        kind = backend_of(self.value).kind if self.value is not None else "?"
        n = self.n
        st = "" if self.state is None else f", state {shp(self.state)}"
        return f"EstimatorResult(value {shp(self.value)}, grads {{{g}}}, n={n}{st}, backend={kind})"


_JAX_REGISTERED = False


def register_pytree() -> None:
    """Register :class:`EstimatorResult` as a JAX pytree (once; JAX must be importable)."""
    global _JAX_REGISTERED
    if _JAX_REGISTERED:
        return
    import jax

    def flatten(r: EstimatorResult) -> tuple:
        return (r.value, r.grads, r.per_sample, r.state), None

    def unflatten(_: Any, children: tuple) -> EstimatorResult:
        return EstimatorResult(*children)

    try:
        jax.tree_util.register_pytree_node(EstimatorResult, flatten, unflatten)
    except ValueError:  # already registered (e.g. a module reload)
        pass
    _JAX_REGISTERED = True


def make_result(kind: str, value: Any, per_sample: dict[str, Any], state: Any = None) -> EstimatorResult:
    """Build the result: ``grads`` are the means of ``per_sample`` over the sample axis."""
    if kind == "jax":
        register_pytree()
    grads = {k: _array(kind, backend_of(v).xp.mean(v, axis=0)) for k, v in per_sample.items()}
    return EstimatorResult(value=_array(kind, value), grads=grads, per_sample=per_sample, state=_array(kind, state))


def _array(kind: str, a: Any) -> Any:
    """NumPy reductions return NumPy scalars; keep results 0-d arrays (namespace in = out)."""
    if kind == "numpy" and a is not None:
        import numpy as np

        if isinstance(a, np.generic):
            return np.asarray(a)
    return a

