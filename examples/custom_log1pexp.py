"""A numerically stable log(1 + exp(x)): custom_jvp, defjvps and custom_vjp (JAX's seed examples)."""
import math

import sourcediff as sd


def naive(x):
    return math.log(1.0 + math.exp(x))


@sd.custom_jvp
def log1pexp(x):
    return math.log(1.0 + math.exp(x))


@log1pexp.defjvp
def log1pexp_jvp(primals, tangents):
    x, = primals
    x_dot, = tangents
    ans = log1pexp(x)
    ans_dot = (1 - 1 / (1 + math.exp(x))) * x_dot
    return ans, ans_dot


@sd.custom_jvp
def log1pexp_jvps(x):
    return math.log(1.0 + math.exp(x))


log1pexp_jvps.defjvps(lambda t, ans, x: (1 - 1 / (1 + math.exp(x))) * t)


@sd.custom_vjp
def log1pexp_vjp(x):
    return math.log(1.0 + math.exp(x))


def log1pexp_fwd(x):
    return log1pexp_vjp(x), x


def log1pexp_bwd(x, g):
    return ((1 - 1 / (1 + math.exp(x))) * g,)


log1pexp_vjp.defvjp(log1pexp_fwd, log1pexp_bwd)

if __name__ == "__main__":
    print("naive grad at 100:", sd.grad(naive)(100.0))
    for f in (log1pexp, log1pexp_jvps, log1pexp_vjp):
        print(f"{f.__name__}: grad(100.) = {sd.grad(f)(100.0):.8g}, jit(3.) = {sd.jit(f)(3.0):.8g}, "
              f"grad(3.) = {sd.grad(f)(3.0):.8g}, grads over 0, 1, 2 = "
              f"{[round(sd.grad(f)(float(x)), 7) for x in range(3)]}")
