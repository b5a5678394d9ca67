#!/usr/bin/env python
"""Benchmark: second-order derivatives against the gradient's own time.

Usage::

    python bench/higher_order.py           # a minute or two, compiles included
    python bench/higher_order.py --quick   # fewer repetitions

For each problem (Numba backend): the primal (``sd.jit``), the gradient
(``sd.grad``), a Hessian-vector product by forward over reverse
(``sd.jvp(sd.grad(f), ...)``), and, for the small ones, the full ``sd.hessian``,
which makes one forward-over-reverse sweep per input element.  The target of
issue 5: an HVP within 4 gradients, a Hessian within n HVPs.

Problems:

1. ``rosenbrock``: the chained Rosenbrock function, a loop over n = 10**5 elements.
2. ``gmm``: the GradBench Gaussian-mixture objective (d=10, K=25, N=1000), in loops;
   HVP along the means.
3. ``inner steps``: an outer objective taking 20 inner gradient steps
   (``sd.grad`` inside the loop), differentiated: the GradBench ``saddle`` pattern.
4. ``rosenbrock, n=100``: Hessian vs 100 HVPs.

Times are medians of interleaved runs after a warm-up call that compiles.
This is a report, not a test: it asserts nothing.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sourcediff as sd                                     # noqa: E402
from sourcediff.gradbench import gmm as gradbench_gmm       # noqa: E402
from sourcediff.gradbench import inputs                     # noqa: E402
from arrays import median_times, timing_rounds              # noqa: E402  (bench/ is on the path)


def rosenbrock(x):
    total = 0.0
    for i in range(x.shape[0] - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def inner_objective(y, x):
    return (y - x) ** 2 + 0.1 * y ** 4


def inner_steps(x):
    total = 0.0
    for k in range(x.shape[0]):
        y = 0.0
        for i in range(20):
            y = y - 0.1 * sd.grad(inner_objective)(y, x[k])
        total += y * y + x[k]
    return total


def problems():
    rng = np.random.default_rng(0)
    gmm_args = gradbench_gmm.prepare(inputs.gmm(10, 25, 1000))
    return [
        ("rosenbrock (n=10^5)", rosenbrock, (rng.normal(size=10 ** 5),)),
        ("gmm (d=10, K=25, N=1000)", gradbench_gmm.gmm_objective, gmm_args),
        ("inner steps (1000 x 20 inner gradients)", inner_steps, (rng.normal(size=1000),)),
    ]


def main():
    rounds = timing_rounds(__doc__)
    print("| problem | primal | gradient | HVP | gradient / primal | HVP / gradient |")
    print("|---|---|---|---|---|---|")
    for title, fn, args in problems():
        primal, grad = sd.jit(fn), sd.grad(fn)
        tangents = tuple(np.ones_like(a) if i == 1 or len(args) == 1 else np.zeros_like(a)
                         for i, a in enumerate(args))
        grad_of = sd.grad(fn, argnums=0)
        t_primal, t_grad, t_hvp = median_times([
            lambda: primal(*args), lambda: grad(*args),
            lambda: sd.jvp(grad_of, args, tangents)], (), rounds)
        print(f"| {title} | {t_primal * 1e3:.2f} ms | {t_grad * 1e3:.2f} ms | {t_hvp * 1e3:.2f} ms | "
              f"{t_grad / t_primal:.2f} | {t_hvp / t_grad:.2f} |")
    x = np.random.default_rng(1).normal(size=100)
    hessian, grad = sd.hessian(rosenbrock), sd.grad(rosenbrock)
    t_hessian, t_grad = median_times([hessian, grad], (x,), rounds)
    print(f"\nrosenbrock, n=100: hessian {t_hessian * 1e3:.2f} ms = {t_hessian / t_grad:.0f} gradients "
          f"(n forward-over-reverse sweeps; n^2 = {x.shape[0] ** 2})")


if __name__ == "__main__":
    main()
