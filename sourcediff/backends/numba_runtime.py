"""The runtime helpers compiled by Numba, for generated modules on the Numba backend."""
from numba import njit

from ..rules import runtime as _py

stop_gradient = njit(error_model='numpy', cache=True)(_py.stop_gradient)
indicator = njit(error_model='numpy', cache=True)(_py.indicator)
safe_log = njit(error_model='numpy', cache=True)(_py.safe_log)
pos_inv = njit(error_model='numpy', cache=True)(_py.pos_inv)
reserve = njit(error_model='numpy', cache=True)(_py.reserve)
trip_count = njit(error_model='numpy', cache=True)(_py.trip_count)


@njit(cache=True)
def breakpoint():
    """Compiled code cannot stop in a debugger; the Python backend stops at breakpoint()."""
