"""Stopping in the backward pass with a debugger (JAX's seed example).

Run with the Python backend, where the generated code and the rules run as
plain Python, so ``breakpoint()`` in ``bwd`` stops there:

    python examples/custom_debug_backward.py            # stops in debug_bwd (type c to continue)
    PYTHONBREAKPOINT=0 python examples/custom_debug_backward.py   # runs through
"""
import math

import sourcediff as sd


@sd.custom_vjp
def debug(x):
    return x  # acts like identity


def debug_fwd(x):
    return x, x


def debug_bwd(x, g):
    breakpoint()
    return (g,)


debug.defvjp(debug_fwd, debug_bwd)


def foo(x):
    y = x ** 2
    y = debug(y)  # insert pdb in corresponding backward pass step
    return math.sin(y)


if __name__ == "__main__":
    print(sd.grad(foo, backend="python")(3.0))
