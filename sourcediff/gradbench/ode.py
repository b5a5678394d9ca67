"""GradBench's ``ode`` eval: s classical Runge-Kutta steps of cmpad's ``an_ode``.

y_0' = x_0 and y_i' = x_i y_{i-1}, y(0) = 0, integrated to t = 2; the gradient is that
of the last component of y(2) with respect to x.
"""
import numpy as np

import sourcediff as sd


def ode_rhs(x, y):
    dy = np.empty(x.shape[0])
    dy[0] = x[0]
    for i in range(1, x.shape[0]):
        dy[i] = x[i] * y[i - 1]
    return dy


def runge_kutta(x, s):
    n = x.shape[0]
    h = 2.0 / s
    y = np.zeros(n)
    stage = np.empty(n)
    for step in range(s):
        k1 = ode_rhs(x, y)
        for i in range(n):
            stage[i] = y[i] + h * k1[i] / 2.0
        k2 = ode_rhs(x, stage)
        for i in range(n):
            stage[i] = y[i] + h * k2[i] / 2.0
        k3 = ode_rhs(x, stage)
        for i in range(n):
            stage[i] = y[i] + h * k3[i]
        k4 = ode_rhs(x, stage)
        for i in range(n):
            y[i] += h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0
    return y


def last_component(x, s):
    y = runge_kutta(x, s)
    return y[x.shape[0] - 1]


def prepare(input):
    return np.asarray(input["x"], dtype=np.float64), int(input["s"])


FUNCTIONS = {"primal": sd.jit(runge_kutta), "gradient": sd.grad(last_component)}
