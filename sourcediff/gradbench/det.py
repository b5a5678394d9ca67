"""GradBench's ``det`` eval: the determinant by expansion along the first row (cmpad's
``det_by_minor``), recursive, with rows and columns removed through linked index lists."""
import numpy as np

import sourcediff as sd


def det_of_minor(a, n, m, rows, cols):
    """The determinant of the m x m minor of the n x n row-major ``a`` whose rows and columns
    are the linked lists that start at ``rows[n]`` and ``cols[n]`` (``rows[i]``: the row after i)."""
    row = rows[n]
    col = cols[n]
    if m == 1:
        return a[row * n + col]
    total = 0.0
    sign = 1
    rows[n] = rows[row]           # the sub-minors lose this row
    previous = n
    for j in range(m):
        element = a[row * n + col]
        cols[previous] = cols[col]            # and this column
        minor = det_of_minor(a, n, m - 1, rows, cols)
        cols[previous] = col
        if sign > 0:
            total = total + element * minor
        else:
            total = total - element * minor
        previous = col
        col = cols[col]
        sign = -sign
    rows[n] = row
    return total


def det(a, ell):
    rows = np.zeros(ell + 1, np.int64)
    cols = np.zeros(ell + 1, np.int64)
    for i in range(ell):
        rows[i] = i + 1
        cols[i] = i + 1
    return det_of_minor(a, ell, ell, rows, cols)


def prepare(input):
    return np.asarray(input["A"], dtype=np.float64), int(input["ell"])


FUNCTIONS = {"primal": sd.jit(det), "gradient": sd.grad(det)}
