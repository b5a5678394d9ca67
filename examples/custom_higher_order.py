"""Custom rules at every order, and the TL;DR example of JAX's tutorial."""
import math

import sourcediff as sd


@sd.custom_jvp
def f(x, y):
    return math.sin(x) * y


@f.defjvp
def f_jvp(primals, tangents):
    x, y = primals
    x_dot, y_dot = tangents
    primal_out = f(x, y)
    tangent_out = math.cos(x) * x_dot * y + math.sin(x) * y_dot
    return primal_out, tangent_out


@sd.custom_jvp
def g(x):
    return math.exp(x)


@g.defjvp
def g_jvp(primals, tangents):
    x, = primals
    t, = tangents
    ans = g(x)
    return ans, 3 * ans * t  # a rule that calls g again: used again at every order


if __name__ == "__main__":
    print(f(2., 3.))
    y, y_dot = sd.jvp(f, (2., 3.), (1., 0.))
    print(y)
    print(y_dot)
    print(sd.grad(f)(2., 3.))
    print(sd.grad(g)(0.0), sd.grad(sd.grad(g))(0.0), sd.grad(sd.grad(sd.grad(g)))(0.0))
