"""Gradient of a scalar recurrence: the example of the README."""
import math

import sourcediff as sd


def f(x, n):
    s = 0.0
    for i in range(n):
        s = s * x + math.sin(x)
    return s


if __name__ == "__main__":
    x, n = 0.5, 50
    df = sd.grad(f)
    print("f(x)      =", sd.jit(f)(x, n))
    print("df/dx     =", df(x, n))
    h = 1e-6
    print("central FD=", (f(x + h, n) - f(x - h, n)) / (2 * h))
    print()
    print(df.source)
