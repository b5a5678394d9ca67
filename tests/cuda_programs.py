"""User functions for the CUDA backend's tests, and the device functions made of them.

tests/test_cuda.py compiles every device function of ``device_functions()``
to PTX; tests/cuda_simulator.py calls them in kernels on the CUDA simulator.
"""
import functools
import math

import numpy as np

import custom_programs as custom
import programs
import sourcediff as sd


def pair_energy(x, y):
    """Straight-line code with NumPy functions the CUDA target lacks (cbrt, logaddexp, sign)."""
    r = math.hypot(x, y) + 0.5
    return np.cbrt(r) * np.sin(x) + np.logaddexp(x, y) + abs(y) ** 1.5 + max(x, y) * np.sign(x - y)


def decay(a, b):
    return a * math.exp(-b * b)


def damped(x, y):
    """A loop of constant length with a branch in it and a helper call: a float and an int tape."""
    s = x
    for i in range(6):
        if s > 1.0:
            s = s * 0.5 + decay(y, s)
        else:
            s = s * x + math.sin(y)
    return s


def series(x, n):
    """A loop whose length is an argument: reverse mode needs max_trips."""
    s = 0.0
    for i in range(n):
        s = s * x + math.cos(s)
    return s


def settle(x):
    """A while loop: reverse mode needs max_trips."""
    s = x
    while s < 4.0:
        s = s * 1.5 + 0.1 * math.sin(s * x)
    return s


def weighted(x, w):
    """A read-only array argument; nothing is overwritten, so no tape and no bound."""
    t = 0.0
    for i in range(w.shape[0]):
        t += w[i] * math.sin(x * i)
    return t


def with_rules(x, y):
    """custom_jvp and custom_vjp functions: residuals of several kinds, none, a rule calling a rule."""
    return custom.softplus(x * y) + custom.clip_gradient(math.sin(x)) * y + custom.scaled(x, y) + custom.outer(y)


MAX_TRIPS = 8
CORPUS_MAX_TRIPS = 1024          # the longest loop of tests/programs.py at its points: 1000 iterations


def corpus_cases():
    """The scalar programs of tests/programs.py whose argument kinds their source tells, not recursive."""
    from sourcediff import kinds
    from sourcediff.api import guess_kinds
    return [case for case in programs.CASES if "recursi" not in case.fn.__name__
            and all(guess_kinds(case.fn) == tuple(kinds.of_value(v) for v in point) for point in case.points)]


F, I, A = "float64", "int64", "float64[:]"


@functools.lru_cache(maxsize=None)
def device_functions():
    """name -> (device function, its argument types for numba.cuda.compile_ptx)."""
    cuda = "cuda"
    return {
        "pair_energy_jit": (sd.jit(pair_energy, backend=cuda), (F, F)),
        "pair_energy_grad": (sd.grad(pair_energy, (0, 1), backend=cuda), (F, F)),
        "pair_energy_value_and_grad": (sd.value_and_grad(pair_energy, (0, 1), backend=cuda), (F, F)),
        "pair_energy_jvp": (sd.jvp(pair_energy, backend=cuda), (F, F, F, F)),
        "damped_grad": (sd.grad(damped, (0, 1), backend=cuda), (F, F)),
        "damped_jvp": (sd.jvp(damped, backend=cuda), (F, F, F, F)),
        "series_grad": (sd.grad(series, backend=cuda, max_trips=MAX_TRIPS), (F, I)),
        "series_jvp": (sd.jvp(series, backend=cuda), (F, I, F)),
        "settle_grad": (sd.grad(settle, backend=cuda, max_trips=MAX_TRIPS), (F,)),
        "weighted_grad": (sd.grad(weighted, backend=cuda), (F, A)),
        "with_rules_grad": (sd.grad(with_rules, (0, 1), backend=cuda), (F, F)),
        "decay_second_derivative": (sd.grad(sd.grad(decay), backend=cuda), (F, F)),
    }
