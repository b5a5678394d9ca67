"""Gradient descent as GradBench's ``particle`` and ``saddle`` evals prescribe (its gd.hpp),
and gradients for it by either mode: the nested differentiation those evals test.

``objective(x, data)`` is minimised (``sign=1.0``) or maximised (``sign=-1.0``) over the
vector ``x``; ``data`` is passed through, like ``args`` in ``scipy.optimize.minimize``.
``gradient(objective, x, data)`` is ``reverse_gradient`` or ``forward_gradient``.
"""
import math

import numpy as np

import sourcediff as sd


def reverse_gradient(objective, x, data):
    return sd.grad(objective)(x, data)


def forward_gradient(objective, x, data):
    """One JVP per coordinate of ``x``."""
    gradient = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        tangent = np.zeros(x.shape[0])
        tangent[i] = 1.0
        gradient[i] = sd.jvp(objective, (x, data), (tangent, 0.0 * data))[1]
    return gradient


def descend(objective, gradient, start, data, sign):
    """Steps of ``eta`` along the gradient, doubling ``eta`` after 10 good steps and halving it
    after a bad one, until the gradient or the step is shorter than 1e-5."""
    x = np.copy(start)
    fx = objective(x, data)
    gx = gradient(objective, x, data)
    good_steps = 0
    eta = 1e-5
    while True:
        norm = 0.0
        for j in range(x.shape[0]):
            norm += gx[j] * gx[j]
        if math.sqrt(norm) <= 1e-5:
            return x
        if good_steps == 10:
            eta *= 2.0
            good_steps = 0
        else:
            candidate = np.empty(x.shape[0])
            step = 0.0
            for j in range(x.shape[0]):
                candidate[j] = x[j] - sign * eta * gx[j]
                step += (candidate[j] - x[j]) * (candidate[j] - x[j])
            if math.sqrt(step) <= 1e-5:
                return x
            f_candidate = objective(candidate, data)
            if sign * f_candidate < sign * fx:
                x = candidate
                fx = f_candidate
                gx = gradient(objective, x, data)
                good_steps += 1
            else:
                eta /= 2.0
                good_steps = 0
