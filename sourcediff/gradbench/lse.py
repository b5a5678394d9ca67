"""GradBench's ``lse`` eval: log-sum-exp of a vector, with the max taken out first."""
import math

import numpy as np

import sourcediff as sd


def logsumexp(x):
    largest = x[0]
    for i in range(1, x.shape[0]):
        largest = max(largest, x[i])
    total = 0.0
    for i in range(x.shape[0]):
        total += math.exp(x[i] - largest)
    return math.log(total) + largest


def prepare(input):
    return (np.asarray(input["x"], dtype=np.float64),)


FUNCTIONS = {"primal": sd.jit(logsumexp), "gradient": sd.grad(logsumexp)}
