"""The Bernoulli toy of the RELAX paper (Grathwohl et al. 2018), on NumPy with diffsample.

Minimise ``E[(b - 0.499)^2]`` over ``theta`` with ``b ~ Bernoulli(sigmoid(theta))``.
The best choice is ``p = sigmoid(theta) -> 0``, but the exact gradient,
``sigmoid'(theta) * (1 - 2 * 0.499) = 0.002 * p (1 - p)``, is tiny next to the noise of
most estimators, which makes this a clean test of gradient variance.

Side by side, each with two evaluations of the cost per step and Adam (lr 0.01):

* REINFORCE (score function, no baseline, 2 samples),
* RLOO (score function with the leave-one-out baseline, 2 samples),
* ARM and DisARM (1 antithetic pair each),
* Gumbel-Softmax (relaxed two-class sample, tau = 0.5, 2 samples),
* straight-through Gumbel (hard forward, soft gradient, tau = 0.5, 2 samples).

Every 10 steps the variance of each step's gradient estimate is measured at the
current theta from 1000 independent replicas, computed in one call by giving the
estimator a batch of 1000 copies of theta.  Plots the exact loss and the log-variance
against the step and saves ``examples/figures/relax_bernoulli_toy.png``.

Run: ``python examples/relax_bernoulli_toy.py`` (``--steps`` to change the length).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import diffsample as ds  # noqa: E402
from diffsample.distributions.bernoulli import Bernoulli  # noqa: E402
from diffsample.estimators import arm, disarm, gumbel_softmax_estimator, score_function  # noqa: E402

TARGET = 0.499
TAU = 0.5
HERE = os.path.dirname(os.path.abspath(__file__))


def f_binary(b):
    """The cost per sample; b has shape (n,) + batch."""
    return (b - TARGET) ** 2


def f_onehot(y):
    """The same cost on a (relaxed) two-class one-hot sample: b = y[..., 0]."""
    return (y[..., 0] - TARGET) ** 2


def grad_f_onehot(y):
    g = np.zeros_like(y)
    g[..., 0] = 2.0 * (y[..., 0] - TARGET)
    return g


def bernoulli(logits):
    return Bernoulli(logits=logits)


def two_class(theta):
    """Logits [theta, 0] per entry: class 0 has probability sigmoid(theta)."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.stack([theta, np.zeros_like(theta)], axis=-1)


# Each estimator: (theta array of any shape, key) -> gradient estimate of that shape.
def reinforce(theta, key):
    return score_function(bernoulli, {"logits": theta}, f_binary, key, 2).grads["logits"]


def rloo(theta, key):
    return score_function(bernoulli, {"logits": theta}, f_binary, key, 2, "leave_one_out").grads["logits"]


def arm_est(theta, key):
    return arm(theta, f_binary, key, 1).grads["logits"]


def disarm_est(theta, key):
    return disarm(theta, f_binary, key, 1).grads["logits"]


def gumbel(theta, key, hard=False):
    r = gumbel_softmax_estimator(two_class(theta), f_onehot, key, 2, tau=TAU, hard=hard, grad_f=grad_f_onehot)
    return r.grads["logits"][..., 0]


def straight_through(theta, key):
    return gumbel(theta, key, hard=True)


ESTIMATORS = {
    "REINFORCE": reinforce,
    "RLOO": rloo,
    "ARM": arm_est,
    "DisARM": disarm_est,
    "Gumbel-Softmax": gumbel,
    "straight-through": straight_through,
}


def exact_loss(theta):
    p = 1.0 / (1.0 + np.exp(-theta))
    return p * (1 - TARGET) ** 2 + (1 - p) * TARGET**2


def exact_grad(theta):
    p = 1.0 / (1.0 + np.exp(-theta))
    return p * (1 - p) * (1 - 2 * TARGET)


def run(name, est, steps, replicas=1000, every=10, seed=0):
    theta = np.array(0.0)
    m = v = 0.0
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    keys = ds.random.split(ds.random.key(seed), steps)
    losses, log_var, var_steps = [], [], []
    for t in range(steps):
        if t % every == 0:
            # Variance of one step's estimate: 1000 independent replicas in one call.
            g_rep = est(np.full(replicas, float(theta)), ds.random.key(10_000 + t))
            # (floored at 1e-20: DisARM's one-coordinate estimate is exact, variance 0, at theta = 0)
            log_var.append(np.log10(max(np.var(g_rep, ddof=1), 1e-20)))
            var_steps.append(t)
        g = float(est(theta, keys[t]))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1 ** (t + 1))) / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)
        losses.append(exact_loss(theta))
    return {"loss": np.array(losses), "log_var": np.array(log_var), "var_steps": np.array(var_steps), "theta": float(theta)}


def main(argv=None):
    ap = argparse.ArgumentParser(description="RELAX Bernoulli toy with diffsample's estimators (NumPy)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = {}
    print(f"minimise E[(b - {TARGET})^2], b ~ Bernoulli(sigmoid(theta)), theta_0 = 0, Adam lr 0.01, {args.steps} steps")
    print(f"exact gradient at theta = 0: {exact_grad(0.0):.2e}")
    print(f"{'estimator':<18} {'final theta':>12} {'final p':>8} {'exact loss':>11} {'mean log10 Var':>15} {'time':>7}")
    for name, est in ESTIMATORS.items():
        t1 = time.perf_counter()
        r = run(name, est, args.steps)
        results[name] = r
        p = 1 / (1 + np.exp(-r["theta"]))
        print(
            f"{name:<18} {r['theta']:12.3f} {p:8.3f} {r['loss'][-1]:11.5f} {r['log_var'].mean():15.2f} "
            f"{time.perf_counter() - t1:6.1f}s"
        )
    print(f"(the optimum is p -> 0, loss -> {TARGET**2:.6f}; p = 1 gives {(1 - TARGET) ** 2:.6f})")
    if not args.no_plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
        for name, r in results.items():
            a1.plot(np.arange(1, len(r["loss"]) + 1), r["loss"], label=name, lw=1.3)
            a2.plot(r["var_steps"], r["log_var"], label=name, lw=1.0)
        a1.axhline(TARGET**2, color="k", ls=":", lw=0.8)
        a1.set_xlabel("step")
        a1.set_ylabel("exact loss E[(b - 0.499)$^2$]")
        a1.set_title("loss")
        a2.set_xlabel("step")
        a2.set_ylabel("log$_{10}$ variance of the step's gradient estimate")
        a2.set_title("gradient variance (1000 replicas per point)")
        a2.set_ylim(bottom=-10)  # DisARM's variance is exactly 0 at theta = 0 (off the axis)
        a2.annotate("DisARM: exactly 0 at step 0", (30, -9.6), fontsize=8, color="tab:red")
        a1.legend(fontsize=8)
        for a in (a1, a2):
            a.grid(alpha=0.3)
        fig.suptitle("RELAX Bernoulli toy (Grathwohl et al. 2018) with diffsample.estimators on NumPy")
        fig.tight_layout()
        os.makedirs(os.path.join(HERE, "figures"), exist_ok=True)
        path = os.path.join(HERE, "figures", "relax_bernoulli_toy.png")
        fig.savefig(path, dpi=110)
        print(f"saved {os.path.relpath(path)}")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
