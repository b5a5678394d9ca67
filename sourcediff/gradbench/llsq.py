"""GradBench's ``llsq`` eval: a linear least-squares objective (cmpad's ``llsq_obj``).

y(x) = 1/2 sum_i (sign(t_i) - sum_j x_j t_i^j)^2 over n points t_i evenly spaced in [-1, 1].
"""
import numpy as np

import sourcediff as sd


def llsq(x, n):
    total = 0.0
    for i in range(n):
        t = -1.0 + i * 2.0 / (n - 1)
        residual = np.sign(t)
        power = 1.0
        for j in range(x.shape[0]):
            residual -= x[j] * power
            power *= t
        total += residual * residual
    return total / 2.0


def prepare(input):
    return np.asarray(input["x"], dtype=np.float64), int(input["n"])


FUNCTIONS = {"primal": sd.jit(llsq), "gradient": sd.grad(llsq)}
