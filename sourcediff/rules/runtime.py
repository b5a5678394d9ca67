"""Helpers that generated code calls.

Each is a plain function, so the Python backend runs it as it is and the
Numba backend compiles it (see ``backends/numba_runtime.py``).  Each has a
derivative rule in ``rules/scalar.py`` or ``rules/arrays.py``, which keeps
generated code inside the language sourcediff differentiates.
"""
import numpy as np


def stop_gradient(x):
    """Identity whose derivative is zero."""
    return x


def indicator(condition):
    """1.0 where ``condition`` holds, else 0.0 (Numba has no ``float(bool)``)."""
    if condition:
        return 1.0
    return 0.0


def safe_log(x):
    """log(x) for x > 0, else 0: d(x ** y)/dy = x ** y * safe_log(x) is 0 at x = 0, as in JAX."""
    if x > 0.0:
        return np.log(x)
    return 0.0


def pos_inv(x):
    """1 / x for x > 0, else 0: the derivative of safe_log."""
    if x > 0.0:
        return 1.0 / x
    return 0.0


def reserve(tape, needed):
    """``tape`` with room for ``needed`` entries: itself, or a larger copy."""
    size = tape.shape[0]
    if needed <= size:
        return tape
    grown = np.empty(max(needed, 2 * size), tape.dtype)
    for i in range(size):      # a loop: Numba compiles a slice copy's error path in seconds
        grown[i] = tape[i]
    return grown


def trip_count(start, stop, step):
    """How many times ``range(start, stop, step)`` runs."""
    if step > 0:
        return max(0, (stop - start + step - 1) // step)
    return max(0, (start - stop - step - 1) // (-step))
