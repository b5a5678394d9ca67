"""Implicit differentiation of a fixed point (JAX's seed example), with a while loop.

The forward pass iterates x = f(a, x) to convergence; the backward pass
solves the adjoint fixed point instead of differentiating the iterations.
It uses nested differentiation: ``sd.vjp`` called inside the ``bwd`` rule,
a lambda closing over the rule's values, and ``functools.partial`` of a
function passed as a non-differentiable argument.  ``grad(grad(...))``
differentiates the ``bwd`` rule itself, whose ``fixed_point`` call uses the
rule again.

Prints the seed's values:
    1.4142135   0.35355338   -0.088388346
"""
from functools import partial

import sourcediff as sd


@partial(sd.custom_vjp, nondiff_argnums=(0,))
def fixed_point(f, a, x_guess):
    x_prev, x = x_guess, f(a, x_guess)
    while abs(x_prev - x) > 1e-6:
        x_prev, x = x, f(a, x)
    return x


def fixed_point_fwd(f, a, x_init):
    x_star = fixed_point(f, a, x_init)
    return x_star, (a, x_star)


def fixed_point_rev(f, res, x_star_bar):
    a, x_star = res
    _, vjp_a = sd.vjp(lambda a: f(a, x_star), a)
    a_bar, = vjp_a(fixed_point(partial(rev_iter, f), (a, x_star, x_star_bar), x_star_bar))
    return a_bar, 0.0


def rev_iter(f, packed, u):
    a, x_star, x_star_bar = packed
    _, vjp_x = sd.vjp(lambda x: f(a, x), x_star)
    return x_star_bar + vjp_x(u)[0]


fixed_point.defvjp(fixed_point_fwd, fixed_point_rev)


def newton_sqrt(a):
    update = lambda a, x: 0.5 * (x + a / x)
    return fixed_point(update, a, a)


if __name__ == "__main__":
    print(newton_sqrt(2.0))
    print(sd.grad(newton_sqrt)(2.0))
    print(sd.grad(sd.grad(newton_sqrt))(2.0))
