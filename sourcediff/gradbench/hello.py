"""GradBench's ``hello`` eval: ``square`` and its derivative ``double``."""
import sourcediff as sd


def square(x):
    return x * x


def prepare(input):
    return (float(input),)


FUNCTIONS = {"square": sd.jit(square), "double": sd.grad(square)}
