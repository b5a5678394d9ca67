"""GradBench's ``saddle`` eval: min over x of max over y of f(x, y) = |x|^2 - |y|^2 (the eval's
(x1^2 + y1^2) - (x2^2 + y2^2), x = (x1, y1) and y = (x2, y2)), both by gradient descent from
the same start, the inner one inside the outer one's objective.

The function names say the mode of the outer and the inner gradient (``f`` forward, ``r``
reverse); the output is the saddle point, x then y.
"""
import numpy as np

import sourcediff as sd

from .descent import descend, forward_gradient, reverse_gradient


def f(x, y):
    return (x[0] * x[0] + x[1] * x[1]) - (y[0] * y[0] + y[1] * y[1])


def f_of_y(y, x):
    return f(x, y)


def max_over_y_forward(x, start):
    return f(x, descend(f_of_y, forward_gradient, start, x, -1.0))


def max_over_y_reverse(x, start):
    return f(x, descend(f_of_y, reverse_gradient, start, x, -1.0))


def saddle(start, outer_gradient, max_over_y):
    x = descend(max_over_y, outer_gradient, start, start, 1.0)
    y = descend(f_of_y, outer_gradient, start, x, -1.0)
    return np.concatenate((x, y))


def ff(start):
    return saddle(start, forward_gradient, max_over_y_forward)


def fr(start):
    return saddle(start, forward_gradient, max_over_y_reverse)


def rf(start):
    return saddle(start, reverse_gradient, max_over_y_forward)


def rr(start):
    return saddle(start, reverse_gradient, max_over_y_reverse)


def prepare(input):
    return (np.asarray(input["start"], dtype=np.float64),)


FUNCTIONS = {name: sd.jit(variant) for name, variant in
             (("ff", ff), ("fr", fr), ("rf", rf), ("rr", rr))}
