"""The runtime helpers compiled by Numba, for generated modules on the Numba backend."""
from numba import njit

from ..rules import runtime as _py

stop_gradient = njit(cache=True)(_py.stop_gradient)
indicator = njit(cache=True)(_py.indicator)
safe_log = njit(cache=True)(_py.safe_log)
pos_inv = njit(cache=True)(_py.pos_inv)
reserve = njit(cache=True)(_py.reserve)
trip_count = njit(cache=True)(_py.trip_count)
