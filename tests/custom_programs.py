"""Custom-rule functions for tests/test_custom.py."""
import math
from functools import partial

import sourcediff as sd


@sd.custom_jvp
def polar(r, theta):
    return r * math.cos(theta), r * math.sin(theta)


@polar.defjvp
def polar_jvp(primals, tangents):
    r, theta = primals
    r_dot, theta_dot = tangents
    c, s = math.cos(theta), math.sin(theta)
    return (r * c, r * s), (c * r_dot - r * s * theta_dot, s * r_dot + r * c * theta_dot)


def uses_polar(r, theta):
    x, y = polar(r, theta)
    return x * y + x


@sd.custom_jvp
def shifted(x):
    return math.sin(x)


@shifted.defjvp
def shifted_jvp(primals, tangents):
    x, = primals
    t, = tangents
    return math.sin(x) + 1.0, math.cos(x) * t      # the primal under differentiation comes from here


@sd.custom_jvp
def softplus(x):
    return math.log1p(math.exp(x))


@softplus.defjvp
def softplus_jvp(primals, tangents):
    x, = primals
    t, = tangents
    return softplus(x), t / (1.0 + math.exp(-x))


@sd.custom_vjp
def scaled(x, k):
    return k * x


def scaled_fwd(x, k):
    return k * x, (k, 2, None)        # residuals: a float, an int and None


def scaled_bwd(res, g):
    k, two, nothing = res
    return (k * g * two / 2, None)


scaled.defvjp(scaled_fwd, scaled_bwd)


@sd.custom_vjp
def clip_gradient(x):
    return x


def clip_gradient_fwd(x):
    return x, None                    # no residuals at all


def clip_gradient_bwd(residuals, g):
    return (min(max(g, -0.75), 0.75),)


clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)


@sd.custom_jvp
def outer(x):
    return softplus(x) * 2.0          # a custom function calling another one


@outer.defjvp
def outer_jvp(primals, tangents):
    x, = primals
    t, = tangents
    y = softplus(x)
    y_dot = t / (1.0 + math.exp(-x))
    return 2.0 * y, 2.0 * y_dot


def loop_and_branch(x, n):
    s = 0.0
    for i in range(n):
        if s > 1.0:
            s = s * 0.5 + softplus(x * i)
        else:
            s = s + scaled(x, 0.3 * i)
    return s


def keywords(x, y=2.0):
    return scaled(k=y, x=x)


@sd.custom_jvp
def two_rules(x, y):
    return x * y


two_rules.defjvps(lambda t, ans, x, y: y * t, None)


@sd.custom_jvp
def no_rule(x):
    return x


@sd.custom_vjp
def no_vjp(x):
    return x


@sd.custom_jvp
def not_a_pair(x):
    return x


@not_a_pair.defjvp
def not_a_pair_jvp(primals, tangents):
    x, = primals
    return x


@sd.custom_vjp
def bad_bwd(x, y):
    return x * y


def bad_bwd_fwd(x, y):
    return x * y, (x, y)


def bad_bwd_bwd(res, g):
    x, y = res
    return (y * g,)


bad_bwd.defvjp(bad_bwd_fwd, bad_bwd_bwd)


@sd.custom_vjp
def stop_here(x):
    return x


def stop_here_fwd(x):
    return x, x


def stop_here_bwd(x, g):
    breakpoint()
    return (3.0 * g,)


stop_here.defvjp(stop_here_fwd, stop_here_bwd)


@partial(sd.custom_jvp, nondiff_argnums=(0,))
def with_nondiff(n, x):
    return x ** n


def twice(y):
    return 2.0 * y
