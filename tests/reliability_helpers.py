"""Module-level functions for tests/test_reliability.py: importable by name in other processes."""
import math
import sys

import numpy as np

import sourcediff as sd


def model(x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.5 + math.sin(x * s + x)
    return s


def pool_model(x, n):
    """model, for the spawn pool test alone (no other test loads its module in the test process)."""
    s = 0.0
    for i in range(n):
        s = s * 0.25 + math.cos(x * s - x)
    return s


def grad_and_compiles(x, n, fn="model"):
    """grad(fn) at (x, n), and how many functions this process compiled for it."""
    g = sd.grad(globals()[fn])
    value = g(x, n)
    return value, count(g.entry(("float", "int")), "cache_misses")


def count(entry, what):
    """Specialisations of the Numba functions of ``entry``'s generated module compiled in this
    process (``what="cache_misses"``) or loaded from the disk cache (``"cache_hits"``)."""
    return count_in(sys.modules[entry.function.py_func.__module__], what)


def count_in(module, what):
    # the namespace also holds runtime helpers defined elsewhere (``breakpoint``): not counted
    return sum(sum(getattr(v.stats, what).values()) for v in vars(module).values()
               if getattr(getattr(v, "py_func", None), "__module__", None) == module.__name__
               and hasattr(getattr(v, "stats", None), what))


def halve_until_small(x):
    """Halve x until it is at most 1: a while loop that stops at once for NaN (NaN > 1.0 is False)."""
    while x > 1.0:
        x = x * 0.5
    return x * x


def settle(x):
    """Iterate x <- x - sin(x) / 2 until sin(x) is tiny or 200 steps: stops at once for NaN and inf.

    (np.sin, not math.sin: math.sin(inf) raises in Python, np.sin returns NaN as compiled code does.)
    """
    k = 0
    while k < 200 and abs(np.sin(x)) > 1e-10:
        x = x - 0.5 * np.sin(x)
        k += 1
    return x * x
