"""Non-differentiable arguments: numbers and functions (JAX's seed examples)."""
from functools import partial

import sourcediff as sd


@partial(sd.custom_vjp, nondiff_argnums=(0, 1))
def clip_gradient(lo, hi, x):
    return x


def clip_gradient_fwd(lo, hi, x):
    return x, None


def clip_gradient_bwd(lo, hi, _, g):
    return (min(max(g, lo), hi),)


clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)


@partial(sd.custom_jvp, nondiff_argnums=(0,))
def app(f, x):
    return f(x)


@app.defjvp
def app_jvp(f, primals, tangents):
    x, = primals
    x_dot, = tangents
    return f(x), 2. * x_dot


def square(y):
    return y ** 2


def use_app(x):
    return app(square, x)


@partial(sd.custom_vjp, nondiff_argnums=(0,))
def app_vjp(f, x):
    return f(x)


def app_fwd(f, x):
    return f(x), x


def app_bwd(f, x, g):
    return (5 * g,)


app_vjp.defvjp(app_fwd, app_bwd)


def use_app_vjp(x):
    return app_vjp(square, x)


if __name__ == "__main__":
    print(sd.grad(lambda x: clip_gradient(-0.5, 0.5, 3.0 * x))(1.0))
    print(use_app(3.0))
    print(sd.grad(use_app)(3.0))
    print(use_app_vjp(3.0))
    print(sd.grad(use_app_vjp)(3.0))
