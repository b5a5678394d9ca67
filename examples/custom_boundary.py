"""x / (1 + sqrt(x)) at x = 0: a differentiation convention at a boundary (JAX's seed example)."""
import math

import sourcediff as sd


def f_plain(x):
    return x / (1 + math.sqrt(x))


@sd.custom_jvp
def f(x):
    return x / (1 + math.sqrt(x))


@f.defjvp
def f_jvp(primals, tangents):
    x, = primals
    x_dot, = tangents
    ans = f(x)
    ans_dot = ((math.sqrt(x) + 2) / (2 * (math.sqrt(x) + 1) ** 2)) * x_dot
    return ans, ans_dot


@sd.custom_jvp
def f_jvps(x):
    return x / (1 + math.sqrt(x))


f_jvps.defjvps(lambda t, ans, x: ((math.sqrt(x) + 2) / (2 * (math.sqrt(x) + 1) ** 2)) * t)

if __name__ == "__main__":
    print(sd.grad(f_plain)(0.0))
    print(sd.grad(f)(0.0))
    print(sd.grad(f_jvps)(0.0))
