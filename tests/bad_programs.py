"""Programs sourcediff must reject with a clear error (see test_errors.py)."""
import math

import numpy as np


def uses_comprehension(x):
    return sum([x * i for i in range(3)])


def calls_unknown(x):
    return math.gamma(x) * x


def calls_numpy_unknown(x):
    return np.sinc(x)


def int_argument(x, n):
    return x * n


def two_outputs(x):
    return x, x * 2


def returns_int(x):
    return int(x)


def uses_try(x):
    try:
        y = x * 2
    except ValueError:
        y = 0.0
    return y


def uses_undefined(x):
    return x * not_defined_anywhere


def for_over_list(x):
    s = 0.0
    for v in (1.0, 2.0):
        s += v * x
    return s


def uses_global_array(x):
    return x * COEFFS[0]


COEFFS = np.array([1.0, 2.0])


def no_return(x):
    z = x * 3


def uses_slice(x, a):
    return x * a[1:3]


def string_method(x):
    return x.conjugate()


def writes_through_ravel(a, x):
    b = a * 1.0
    r = np.ravel(b)
    r[0] = x * x
    return np.sum(b * b)
