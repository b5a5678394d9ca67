"""The runtime helpers as numba.cuda device functions, for generated modules on the CUDA backend.

Besides the helpers of ``rules/runtime.py`` (all but ``reserve``: device code
has fixed-size tapes), it holds device versions of the NumPy scalar functions
that derivative rules use and the CUDA target does not compile
(``cuda_lower.NUMPY_ON_CUDA`` maps the calls here).
"""
import math

from numba import cuda

from ..rules import runtime as _py

device = cuda.jit(device=True)

stop_gradient = device(_py.stop_gradient)
indicator = device(_py.indicator)
safe_log = device(_py.safe_log)
pos_inv = device(_py.pos_inv)
trip_count = device(_py.trip_count)


@device
def cbrt(x):
    return math.copysign(abs(x) ** (1.0 / 3.0), x)


@device
def logaddexp(x, y):
    if x == y:          # also where both are infinite, and x - y would be nan
        return x + 0.6931471805599453
    return max(x, y) + math.log1p(math.exp(-abs(x - y)))


@device
def sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x            # 0.0 or nan, as np.sign


@device
def breakpoint():
    """Device code cannot stop in a debugger; the Python backend stops at breakpoint()."""
