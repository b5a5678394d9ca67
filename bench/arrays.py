#!/usr/bin/env python
"""Benchmark: gradients of array code, against the function's own time.

Usage::

    python bench/arrays.py           # about a minute after compiling
    python bench/arrays.py --quick   # fewer repetitions

Problems (each differentiated by ``sd.grad``, run with ``sd.jit``; Numba backend):

1. ``gmm``: the GradBench Gaussian-mixture objective (d=10, K=25, N=1000), loops.
2. ``heat``: a 1-D heat stencil, 1000 cells, 500 steps; the grid is a new
   array each step (``new = u.copy(); new[i] = ...; u = new``).
3. ``logistic``: a logistic-regression loss over 10**6 samples, one loop.
4. ``expression``: a NumPy expression over 10**6 elements.

Times are medians of interleaved runs of the compiled dispatchers (no
argument binding), after a warm-up call that compiles.  For the stencil the
tape is reported too: the arrays its reverse sweep keeps, in floats.
This is a report, not a test: it asserts nothing.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sourcediff as sd                                     # noqa: E402
from sourcediff.gradbench import gmm as gradbench_gmm       # noqa: E402
from sourcediff.gradbench import inputs                     # noqa: E402


def heat(u0, c, steps):
    u = u0.copy()
    for t in range(steps):
        new = u.copy()
        for i in range(1, u.shape[0] - 1):
            new[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = new
    return np.sum(u * u)


def logistic(w, b, x, y):
    loss = 0.0
    for i in range(x.shape[0]):
        z = w[0] * x[i, 0] + w[1] * x[i, 1] + b
        loss += np.log1p(np.exp(-z)) + (1.0 - y[i]) * z
    return loss / x.shape[0]


def expression(a, b):
    return np.sum(np.tanh(a) * b + np.exp(-a * a) / (1.0 + b * b))


def problems():
    rng = np.random.default_rng(0)
    gmm_args = gradbench_gmm.prepare(inputs.gmm(10, 25, 1000))
    x = rng.normal(size=(10 ** 6, 2))
    y = (rng.uniform(size=10 ** 6) < 0.5).astype(np.float64)
    return [
        ("gmm (d=10, K=25, N=1000)", gradbench_gmm.gmm_objective, gmm_args, (0, 1, 2, 3)),
        ("heat (1000 cells, 500 steps)", heat, (np.sin(np.linspace(0, 3, 1000)), 0.2, 500), (0,)),
        ("logistic (10^6 samples)", logistic, (np.array([0.5, -0.3]), 0.1, x, y), (0, 1)),
        ("expression (10^6 elements)", expression, (rng.normal(size=10 ** 6), rng.normal(size=10 ** 6)),
         (0, 1)),
    ]


def median_times(functions, args, rounds):
    times = [[] for _ in functions]
    for _ in range(rounds):
        for k, fn in enumerate(functions):
            start = time.perf_counter()
            fn(*args)
            times[k].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def timing_rounds(doc):
    """Rounds of timing from the command line: fewer with ``--quick``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    return 5 if parser.parse_args().quick else 15


def main():
    rounds = timing_rounds(__doc__)
    print("| problem | primal | gradient | gradient / primal |")
    print("|---|---|---|---|")
    for title, fn, args, argnums in problems():
        primal = sd.jit(fn)
        grad = sd.grad(fn, argnums=argnums)
        primal(*args), grad(*args)                  # compile
        # the compiled functions underneath the public calls
        compiled_primal = primal.entry(primal.kinds(args)).function
        t_primal, t_grad = median_times([compiled_primal, grad], args, rounds)
        print(f"| {title} | {t_primal * 1e3:.2f} ms | {t_grad * 1e3:.2f} ms | {t_grad / t_primal:.2f} |")
    cells, steps = 1000, 500
    print(f"\nheat tape: the stencil is linear in the grid, so the reverse sweep keeps no grid, "
          f"only each step's adjoint grid ({steps} x {cells} = {steps * cells} floats, as Enzyme's "
          f"shadows), and pushes no elements: each step writes into the grid it made; "
          f"the target was at most cells x steps = {cells * steps}.")


if __name__ == "__main__":
    main()
