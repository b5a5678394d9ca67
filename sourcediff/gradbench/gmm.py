"""GradBench's ``gmm`` eval: the log posterior of a Gaussian mixture with a Wishart prior.

Component c has weight softmax(alpha)_c, mean mu[c] and precision matrix Q_c^T Q_c,
where Q_c is lower triangular with diagonal exp(q[c]) and, below it, l[c] filled
column by column.  ``jacobian`` is the gradient with respect to alpha, mu, q and l.
"""
import math

import numpy as np

import sourcediff as sd

from .lse import logsumexp


def log_gamma_distrib(a, p):
    """log of the multivariate gamma function Gamma_p(a)."""
    total = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        total += math.lgamma(a + 0.5 * (1 - j))
    return total


def gmm_objective(alpha, mu, q, l, x, gamma, m, log_gamma_term):
    """``log_gamma_term`` is ``log_gamma_distrib((d + m + 1) / 2, d)``: it depends on no
    parameter, and ``math.lgamma`` has no derivative rule, so the caller computes it."""
    n = x.shape[0]
    d = x.shape[1]
    k = alpha.shape[0]
    diagonals = np.empty((k, d))
    sum_q = np.empty(k)
    for c in range(k):
        sum_q[c] = 0.0
        for j in range(d):
            diagonals[c, j] = math.exp(q[c, j])
            sum_q[c] += q[c, j]

    lower = np.zeros((k, d, d))         # Q_c's entries below the diagonal, from l
    for c in range(k):
        below = 0
        for col in range(d):
            for row in range(col + 1, d):
                lower[c, row, col] = l[c, below]
                below += 1

    main_term = np.empty(k)
    centered = np.empty(d)
    total = 0.0
    for i in range(n):
        for c in range(k):
            for j in range(d):
                centered[j] = x[i, j] - mu[c, j]
            # |Q_c (x_i - mu_c)|^2, row by row of Q_c
            squared = 0.0
            for row in range(d):
                value = diagonals[c, row] * centered[row]
                for col in range(row):
                    value += lower[c, row, col] * centered[col]
                squared += value * value
            main_term[c] = alpha[c] + sum_q[c] - 0.5 * squared
        total += logsumexp(main_term)
    likelihood = total - n * logsumexp(alpha) - 0.5 * n * d * math.log(2.0 * math.pi)

    dof = d + m + 1
    prior = k * (dof * d * (math.log(gamma) - 0.5 * math.log(2.0)) - log_gamma_term)
    for c in range(k):
        frobenius = 0.0
        for j in range(d):
            frobenius += diagonals[c, j] * diagonals[c, j]
        for j in range(l.shape[1]):
            frobenius += l[c, j] * l[c, j]
        prior -= 0.5 * gamma * gamma * frobenius - m * sum_q[c]
    return likelihood + prior


gmm_gradient = sd.grad(gmm_objective, argnums=(0, 1, 2, 3))


def jacobian(*args):
    alpha, mu, q, l = gmm_gradient(*args)
    return {"alpha": alpha, "mu": mu, "q": q, "l": l}


def prepare(input):
    d, k, n, m = int(input["d"]), int(input["k"]), int(input["n"]), int(input["m"])

    def matrix(name, rows, columns):
        return np.asarray(input[name], dtype=np.float64).reshape(rows, columns)
    return (np.asarray(input["alpha"], dtype=np.float64), matrix("mu", k, d), matrix("q", k, d),
            matrix("l", k, d * (d - 1) // 2), matrix("x", n, d), float(input["gamma"]), m,
            log_gamma_distrib(0.5 * (d + m + 1), d))


FUNCTIONS = {"objective": sd.jit(gmm_objective), "jacobian": jacobian}
