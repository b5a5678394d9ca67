"""GradBench's ``kmeans`` eval: the k-means cost, and the Newton direction J / diag(H).

The cost's Hessian with respect to the centroids is diagonal, so its diagonal is the
Hessian-vector product with a vector of ones: one JVP of the gradient (forward over
reverse) gives the gradient and that diagonal together.
"""
import math

import numpy as np

import sourcediff as sd


def cost(points, centroids):
    total = 0.0
    for i in range(points.shape[0]):
        closest = math.inf
        for j in range(centroids.shape[0]):
            distance = 0.0
            for a in range(points.shape[1]):
                difference = points[i, a] - centroids[j, a]
                distance += difference * difference
            closest = min(closest, distance)
        total += closest
    return total


cost_gradient = sd.grad(cost, argnums=1)


def direction(points, centroids):
    gradient, hessian_diagonal = sd.jvp(cost_gradient, (points, centroids),
                                        (np.zeros_like(points), np.ones_like(centroids)))
    return gradient / hessian_diagonal


def prepare(input):
    return (np.asarray(input["points"], dtype=np.float64),
            np.asarray(input["centroids"], dtype=np.float64))


FUNCTIONS = {"cost": sd.jit(cost), "dir": direction}
