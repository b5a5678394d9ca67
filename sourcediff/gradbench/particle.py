"""GradBench's ``particle`` eval: choose the control w so that a charged particle, pushed by
the field of charges at (10, 10 - w) and (10, 0), hits the origin.

The trajectory is integrated by Euler steps whose acceleration is minus the gradient of
the potential (the inner derivative); w minimises the square of where it crosses the
x-axis, by gradient descent (the outer derivative, through the whole integration).
The function names say the mode of the outer and the inner derivative (``f`` forward,
``r`` reverse).
"""
import math

import numpy as np

import sourcediff as sd

from .descent import descend, forward_gradient, reverse_gradient


def potential(px, py, w):
    return (1.0 / math.sqrt((px - 10.0) ** 2 + (py - (10.0 - w)) ** 2)
            + 1.0 / math.sqrt((px - 10.0) ** 2 + py ** 2))


potential_gradient = sd.grad(potential, argnums=(0, 1))


def field_reverse(px, py, w):
    return potential_gradient(px, py, w)


def field_forward(px, py, w):
    return (sd.jvp(potential, (px, py, w), (1.0, 0.0, 0.0))[1],
            sd.jvp(potential, (px, py, w), (0.0, 1.0, 0.0))[1])


def miss(w, delta_t, field):
    """The square of x where the particle crosses the x-axis, for control ``w[0]``."""
    px, py = 0.0, 8.0
    vx, vy = 0.75, 0.0
    while True:
        gx, gy = field(px, py, w[0])
        px += delta_t * vx
        py += delta_t * vy
        if py <= 0.0:
            crossing = px - py / vy * vx
            return crossing * crossing
        vx -= delta_t * gx
        vy -= delta_t * gy


def miss_forward(w, delta_t):
    return miss(w, delta_t, field_forward)


def miss_reverse(w, delta_t):
    return miss(w, delta_t, field_reverse)


def ff(w):
    return descend(miss_forward, forward_gradient, w, 0.1, 1.0)[0]


def fr(w):
    return descend(miss_reverse, forward_gradient, w, 0.1, 1.0)[0]


def rf(w):
    return descend(miss_forward, reverse_gradient, w, 0.1, 1.0)[0]


def rr(w):
    return descend(miss_reverse, reverse_gradient, w, 0.1, 1.0)[0]


def prepare(input):
    return (np.array([float(input["w"])]),)


FUNCTIONS = {name: sd.jit(variant) for name, variant in
             (("ff", ff), ("fr", fr), ("rf", rf), ("rr", rr))}
