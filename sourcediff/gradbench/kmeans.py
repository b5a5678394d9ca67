"""GradBench's ``kmeans`` eval: the k-means cost, and the Newton direction J / diag(H).

The cost's Hessian with respect to the centroids is diagonal, so its diagonal is the
Hessian-vector product with a vector of ones: one JVP of the gradient (forward over
reverse) gives the gradient and that diagonal together.  The cost finds each point's
nearest centroid first and then adds its squared distance: the search carries no
derivative (only which centroid wins depends on it), so the derivatives cost one pass
over the points and their nearest centroids.
"""
import math

import numpy as np

import sourcediff as sd


def cost(points, centroids):
    total = 0.0
    for i in range(points.shape[0]):
        nearest = 0
        closest = math.inf
        for j in range(centroids.shape[0]):
            distance = 0.0
            for a in range(points.shape[1]):
                difference = points[i, a] - centroids[j, a]
                distance += difference * difference
            if distance < closest:
                closest = distance
                nearest = j
        for a in range(points.shape[1]):
            error = points[i, a] - centroids[nearest, a]
            total += error * error
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
