"""Sensitivities of an RK4 integration of a scalar ODE, by grad and by jvp.

dy/dt = -k * y + a * sin(t), y(0) = y0; we differentiate y(T) with respect to
the parameters k and a and the initial value y0.
"""
import math

import sourcediff as sd


def rhs(t, y, k, a):
    return -k * y + a * math.sin(t)


def integrate(y0, k, a, steps):
    h = 10.0 / steps
    y = y0
    t = 0.0
    for i in range(steps):
        k1 = rhs(t, y, k, a)
        k2 = rhs(t + 0.5 * h, y + 0.5 * h * k1, k, a)
        k3 = rhs(t + 0.5 * h, y + 0.5 * h * k2, k, a)
        k4 = rhs(t + h, y + h * k3, k, a)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t = t + h
    return y


if __name__ == "__main__":
    args = (1.0, 0.7, 2.0, 1000)
    value, grads = sd.value_and_grad(integrate, argnums=(0, 1, 2))(*args)
    print(f"y(T) = {value:.10f}")
    print("d y(T) / d (y0, k, a) =", tuple(round(g, 10) for g in grads))
    _, along_k = sd.jvp(integrate, args, (0.0, 1.0, 0.0, 0))
    print(f"jvp along k          = {along_k:.10f}")
