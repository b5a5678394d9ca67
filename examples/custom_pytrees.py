"""Custom rules on pytrees: a namedtuple in, a dict of a number and a tuple out (seed 002)."""
import math
from collections import namedtuple

import sourcediff as sd

Point = namedtuple("Point", ["x", "y"])


@sd.custom_jvp
def f(pt):
    x, y = pt.x, pt.y
    return {'a': x ** 2,
            'b': (math.sin(x), math.cos(y))}


@f.defjvp
def f_jvp(primals, tangents):
    pt, = primals
    pt_dot, = tangents
    ans = f(pt)
    ans_dot = {'a': 2 * pt.x * pt_dot.x,
               'b': (math.cos(pt.x) * pt_dot.x, -math.sin(pt.y) * pt_dot.y)}
    return ans, ans_dot


def fun(pt):
    dct = f(pt)
    return dct['a'] + dct['b'][0]


@sd.custom_vjp
def f_vjp(pt):
    x, y = pt.x, pt.y
    return {'a': x ** 2,
            'b': (math.sin(x), math.cos(y))}


def f_fwd(pt):
    return f_vjp(pt), pt


def f_bwd(pt, g):
    a_bar, (b0_bar, b1_bar) = g['a'], g['b']
    x_bar = 2 * pt.x * a_bar + math.cos(pt.x) * b0_bar
    y_bar = -math.sin(pt.y) * b1_bar
    return (Point(x_bar, y_bar),)


f_vjp.defvjp(f_fwd, f_bwd)


def fun_vjp(pt):
    dct = f_vjp(pt)
    return dct['a'] + dct['b'][0]


if __name__ == "__main__":
    pt = Point(1., 2.)
    print(f(pt))
    print(sd.grad(fun)(pt))
    print(f_vjp(pt))
    print(sd.grad(fun_vjp)(pt))
