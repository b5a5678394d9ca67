"""A corpus of array programs, written as a user would, for sourcediff to differentiate.

Every program is a module-level function over NumPy arrays (and floats, ints,
bools) returning one float.  ``CASES`` lists, for each, the argument tuples
to test at and the positions differentiated (float scalars and float
arrays); the points are chosen away from kinks so that central finite
differences are a valid reference.  ``JACOBIAN_CASES`` are programs
returning arrays or tuples (for ``jacfwd``/``jacrev``).

Sizes are small on purpose: finite differences perturb every element, and
each program is compiled by Numba once per test session.
"""
import math
from dataclasses import dataclass

import numpy as np

import sourcediff as sd


# ====================================================================== logistic regression

def logreg_loop(w, b, X, y):
    """Mean negative log-likelihood, one sample and one feature at a time, plus L2."""
    n = X.shape[0]
    d = X.shape[1]
    loss = 0.0
    for i in range(n):
        z = b
        for j in range(d):
            z += X[i, j] * w[j]
        p = 1.0 / (1.0 + math.exp(-z))
        loss -= y[i] * math.log(p) + (1.0 - y[i]) * math.log(1.0 - p)
    return loss / n + 0.01 * np.sum(w * w)


def logreg_rows(w, b, X, y):
    """The same loss iterating over the rows of X (``for row in X``), stable form."""
    loss = 0.0
    k = 0
    for row in X:
        z = np.dot(row, w) + b
        loss += np.log1p(np.exp(-z)) + (1.0 - y[k]) * z
        k += 1
    return loss / X.shape[0] + 0.01 * np.sum(w * w)


@sd.custom_vjp
def softplus(z):
    return math.log1p(math.exp(-abs(z))) + max(z, 0.0)


def _softplus_fwd(z):
    return math.log1p(math.exp(-abs(z))) + max(z, 0.0), 1.0 / (1.0 + math.exp(-z))


def _softplus_bwd(sigmoid, g):
    return (g * sigmoid,)


softplus.defvjp(_softplus_fwd, _softplus_bwd)


def logreg_custom_vjp(w, b, X, y):
    """The loss with a stable softplus whose VJP is a custom rule (residual: the sigmoid)."""
    loss = 0.0
    for i in range(X.shape[0]):
        z = np.dot(X[i], w) + b
        loss += softplus(z) - y[i] * z
    return loss / X.shape[0]


def logreg_numpy(w, b, X, y):
    """The same loss vectorised: ``X @ w``, elementwise log, np.mean, ``w.dot(w)``."""
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)) + 0.01 * w.dot(w)


# ====================================================================== heat equation

def heat_copy(u0, c, steps):
    """Explicit 1-D heat equation; each step builds a new grid from a copy, then rebinds."""
    u = u0.copy()
    n = u.shape[0]
    for _ in range(steps):
        new = u.copy()
        for i in range(1, n - 1):
            new[i] = u[i] + c * (u[i + 1] - 2.0 * u[i] + u[i - 1])
        u = new
    return np.sum(np.sin(u) * u)


def heat_swap(u0, c, steps):
    """Two buffers swapped each step (``u, v = v, u``): v is overwritten in place."""
    u = u0.copy()
    v = u0.copy()
    n = u.shape[0]
    for _ in range(steps):
        for i in range(1, n - 1):
            v[i] = u[i] + c * (u[i + 1] - 2.0 * u[i] + u[i - 1])
        u, v = v, u
    return np.sum(np.sin(u) * u)


def heat_slices(u0, c, steps):
    """The stencil as one slice expression, written into the grid in place."""
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return np.sum(np.sin(u) * u)


def pairwise_means(u0, steps):
    """Each step a grid one cell shorter: the backward sweep reads each step's length, from
    the adjoints when the grids themselves are not kept."""
    u = u0.copy()
    for _ in range(steps):
        new = np.empty(u.shape[0] - 1)
        for i in range(u.shape[0] - 1):
            new[i] = 0.5 * (u[i] + u[i + 1]) + 0.1 * u[i]
        u = new
    return np.sum(np.sin(u) * u)


def heat_reaction(u0, c, steps):
    """Heat with a cubic reaction term: the backward sweep needs every overwritten value."""
    u = u0.copy()
    n = u.shape[0]
    for _ in range(steps):
        new = np.zeros(n)
        new[0] = u[0]
        new[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            new[i] = u[i] + c * (u[i + 1] - 2.0 * u[i] + u[i - 1]) - 0.1 * u[i] ** 3
        u = new
    return np.sum(u * u) + u[n // 2]


def _diffuse(u, c):
    """One heat step as a helper returning a new array."""
    new = u.copy()
    new[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return new


def heat_helper(u0, c, steps):
    """The grid rebound to a helper's result each step (``u = _diffuse(u, c)``)."""
    u = u0
    for _ in range(steps):
        u = _diffuse(u, c)
    return np.sum(np.sin(u) * u)


def _weighted(a, b):
    return np.sum(a * b) + a[0] * b[1]


def helper_shares_adjoints(m, v):
    """A helper's VJP adds into its caller's adjoint arrays: one array given for both of its
    parameters, and rows of a matrix, whose adjoints are views of the matrix's."""
    total = _weighted(v, v)
    for i in range(m.shape[0]):
        total += _weighted(m[i], v) * m[i, 2]
    return total


def gradient_norm(m, v):
    """Reverse mode over that reverse code: other transforms read code whose helpers' VJPs
    return their cotangents instead of adding into arrays they are given."""
    g_m, g_v = sd.grad(helper_shares_adjoints, (0, 1))(m, v)
    return np.sum(g_m * g_m) + np.sum(g_v * g_v)


def midpoint_steps(y0, a, steps):
    """Slopes that are new arrays each step (as in ODE integrators): their adjoints are
    allocated in the backward sweep, not kept one per step."""
    y = y0.copy()
    for _ in range(steps):
        k1 = np.sin(y) * a
        k2 = np.sin(y + 0.05 * k1) * a
        y = y + 0.1 * k2
    return np.sum(y * y)


def changing_lengths(y0, a, steps):
    """A new array each step, two steps long and then three: the backward sweep refills
    the adjoint of the step after where the length is the same, and makes a new one where
    it changes."""
    total = 0.0
    for k in range(steps):
        w = np.sin(y0[:2 + (k // 2) % 2]) * a
        total += np.sum(w * w) * (k + 1)
    return total


def _slope(y, a):
    """A new array from a helper, two of its elements written twice."""
    dy = np.empty(y.shape[0])
    for i in range(y.shape[0]):
        dy[i] = math.sin(y[i]) * a
    dy[0] = dy[0] * y[1]
    dy[1] += a * dy[0]
    return dy


def helper_slopes(y0, a, steps):
    """Midpoint steps whose slopes a helper returns (as GradBench's ode): its VJP takes over
    the adjoint arrays its caller allocates each step instead of adding them into zeros."""
    y = y0.copy()
    for _ in range(steps):
        k1 = _slope(y, a)
        k2 = _slope(y + 0.05 * k1, a)
        y = y + 0.1 * k2
    return np.sum(y * y)


def _relax(u, c):
    """One heat step as a helper writing into its argument."""
    n = u.shape[0]
    for i in range(1, n - 1):
        u[i] = u[i] + c * (u[i + 1] - 2.0 * u[i] + u[i - 1]) * u[i]
    return 0.0


def heat_helper_in_place(u0, c, steps):
    """The grid updated in place by a helper (its result, a dummy, assigned to a name:
    a bare call statement is rejected)."""
    u = u0.copy()
    for _ in range(steps):
        _ = _relax(u, c)
    return np.sum(np.sin(u) * u)


# ====================================================================== matrix-vector

def matvec_loop(A, x):
    """y = A x by loops, accumulated with ``y[i] += ...``."""
    m = A.shape[0]
    n = A.shape[1]
    y = np.zeros(m)
    for i in range(m):
        for j in range(n):
            y[i] += A[i, j] * x[j]
    return np.sum(np.tanh(y)) + y[0] * y[m - 1]


def power_iteration(A, x0, steps):
    """Normalised power iteration: an array rebound every step, np.linalg.norm, Rayleigh quotient."""
    x = x0
    for _ in range(steps):
        y = A @ x
        x = y / np.linalg.norm(y)
    return x @ (A @ x)


# ====================================================================== Gaussian mixture (ADBench / GradBench)

def logsumexp(v):
    m = np.max(v)
    return m + math.log(np.sum(np.exp(v - m)))


def _wishart_prior(icf, d, wishart_gamma, wishart_m):
    """The simplified log-Wishart prior of ADBench, without its constant."""
    out = 0.0
    K = icf.shape[0]
    p = icf.shape[1]
    for k in range(K):
        fro = 0.0
        sum_q = 0.0
        for j in range(d):
            fro += math.exp(2.0 * icf[k, j])
            sum_q += icf[k, j]
        for j in range(d, p):
            fro += icf[k, j] * icf[k, j]
        out += 0.5 * wishart_gamma * wishart_gamma * fro - wishart_m * sum_q
    return out


def gmm_loops(alphas, means, icf, x, wishart_gamma, wishart_m):
    """The GMM objective as ADBench's C++ writes it: Q (x - mu) with Q = diag(exp(q)) + L,
    L strictly lower triangular, filled column by column from icf[k, d:] (triangular loop)."""
    n = x.shape[0]
    d = x.shape[1]
    K = alphas.shape[0]
    main = np.zeros(K)
    xc = np.zeros(d)
    qx = np.zeros(d)
    slse = 0.0
    for i in range(n):
        for k in range(K):
            sum_q = 0.0
            for j in range(d):
                sum_q += icf[k, j]
                xc[j] = x[i, j] - means[k, j]
                qx[j] = math.exp(icf[k, j]) * xc[j]
            idx = d
            for j in range(d):
                for r in range(j + 1, d):
                    qx[r] += icf[k, idx] * xc[j]
                    idx += 1
            sq = 0.0
            for j in range(d):
                sq += qx[j] * qx[j]
            main[k] = alphas[k] + sum_q - 0.5 * sq
        slse += logsumexp(main)
    const = -n * d * 0.5 * math.log(2.0 * math.pi)
    return const + slse - n * logsumexp(alphas) + _wishart_prior(icf, d, wishart_gamma, wishart_m)


def gmm_loops_square(alphas, means, icf, x, wishart_gamma, wishart_m):
    """``gmm_loops`` with the triangular loop written as a square one that skips r <= j,
    and fresh arrays per component."""
    n = x.shape[0]
    d = x.shape[1]
    K = alphas.shape[0]
    main = np.zeros(K)
    slse = 0.0
    for i in range(n):
        for k in range(K):
            sum_q = 0.0
            xc = np.zeros(d)
            qx = np.zeros(d)
            for j in range(d):
                sum_q += icf[k, j]
                xc[j] = x[i, j] - means[k, j]
                qx[j] = math.exp(icf[k, j]) * xc[j]
            idx = d
            for j in range(d):
                for r in range(d):
                    if r <= j:
                        continue
                    qx[r] += icf[k, idx] * xc[j]
                    idx += 1
            main[k] = alphas[k] + sum_q - 0.5 * np.sum(qx * qx)
        slse += logsumexp(main)
    const = -n * d * 0.5 * math.log(2.0 * math.pi)
    return const + slse - n * logsumexp(alphas) + _wishart_prior(icf, d, wishart_gamma, wishart_m)


def gmm_numpy(alphas, means, icf, x, wishart_gamma, wishart_m):
    """The GMM objective in ADBench's NumPy style: per-component Q matrices built once,
    a vectorised log-likelihood per sample (broadcasting, axis sums, @)."""
    n = x.shape[0]
    d = x.shape[1]
    K = alphas.shape[0]
    qdiags = np.exp(icf[:, :d])
    sum_qs = np.sum(icf[:, :d], axis=1)
    Qs = np.zeros((K, d, d))
    for k in range(K):
        idx = d
        for j in range(d):
            Qs[k, j, j] = qdiags[k, j]
            for r in range(d):
                if r > j:
                    Qs[k, r, j] = icf[k, idx]
                    idx += 1
    slse = 0.0
    for i in range(n):
        xc = x[i] - means
        qx = np.zeros((K, d))
        for k in range(K):
            qx[k] = Qs[k] @ xc[k]
        slse += logsumexp(alphas + sum_qs - 0.5 * np.sum(qx * qx, axis=1))
    const = -n * d * 0.5 * math.log(2.0 * math.pi)
    prior = 0.5 * wishart_gamma * wishart_gamma * (np.sum(qdiags * qdiags) + np.sum(icf[:, d:] ** 2)) \
        - wishart_m * np.sum(sum_qs)
    return const + slse - n * logsumexp(alphas) + prior


# ====================================================================== while-loop solvers

def newton_history(a, x0):
    """Newton for sqrt(a) in a while loop; every iterate stored in an array, then summed."""
    hist = np.zeros(60)
    x = x0
    k = 0
    hist[0] = x
    while abs(x * x - a) > 1e-14 * a and k < 50:
        x = 0.5 * (x + a / x)
        k += 1
        hist[k] = x
    s = 0.0
    for i in range(k + 1):
        s += hist[i] / (i + 1.0)
    return s


def fixed_point_history(b, c):
    """Vector fixed-point iteration x = cos(c x) / 2 + b in a while loop; rows of a 2-D
    history written per step (``hist[k] = x``), read back with a slice."""
    n = b.shape[0]
    hist = np.zeros((25, n))
    x = np.zeros(n)
    k = 0
    while k < 24:
        x = 0.5 * np.cos(c * x) + b
        k += 1
        hist[k] = x
    return np.sum(hist[k] * hist[k]) + np.mean(hist[:, 0])


def implicit_euler(a, y0, steps):
    """Implicit Euler for y' = -a y^3: a Newton while loop (left by break) per step,
    the trajectory written into an array."""
    h = 0.1
    traj = np.zeros(steps + 1)
    traj[0] = y0
    y = y0
    for k in range(steps):
        z = y
        it = 0
        while it < 50:
            dz = (z - y + h * a * z ** 3) / (1.0 + 3.0 * h * a * z * z)
            z = z - dz
            it += 1
            if abs(dz) < 1e-14:
                break
        y = z
        traj[k + 1] = y
    return np.sum(traj * traj)


def conjugate_gradient(A, b, iters):
    """Conjugate gradients in a while loop: x, r and p rebound every step."""
    x = np.zeros(b.shape[0])
    r = b - A @ x
    p = r.copy()
    rs = np.dot(r, r)
    it = 0
    while it < iters:
        Ap = A @ p
        alpha = rs / np.dot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = np.dot(r, r)
        p = r + (rs_new / rs) * p
        rs = rs_new
        it += 1
    return np.sum(x * x) + x[0]


def gauss_seidel(A, b):
    """Gauss-Seidel sweeps: x overwritten element by element, reading its new values."""
    n = b.shape[0]
    x = np.zeros(n)
    for _ in range(12):
        for i in range(n):
            s = b[i]
            for j in range(n):
                if j != i:
                    s -= A[i, j] * x[j]
            x[i] = s / A[i, i]
    return np.sum(x * x)


def _pivot(U, perm, k, used):
    """Partial pivoting through a permutation a helper updates: moves the row of the largest
    |U[perm[i], k]|, i >= k, to position k, marks it used and returns the pivot."""
    best = k
    for i in range(k + 1, perm.shape[0]):
        if abs(U[perm[i], k]) > abs(U[perm[best], k]):
            best = i
    t = perm[k]
    perm[k] = perm[best]
    perm[best] = t
    used[perm[k]] = True
    return U[perm[k], k]


def pivoted_logdet(A, v):
    """log |det A| by elimination with partial pivoting; the helper writes into an int and a
    bool array (carrying no derivatives) and the elimination reads both after it."""
    n = A.shape[0]
    U = A.copy()
    perm = np.arange(n)
    used = np.zeros(n, np.bool_)
    total = 0.0
    for k in range(n):
        p = _pivot(U, perm, k, used)
        total += math.log(abs(p)) * v[perm[k]]
        for i in range(k + 1, n):
            if not used[perm[i]]:
                f = U[perm[i], k] / p
                for j in range(k, n):
                    U[perm[i], j] -= f * U[perm[k], j]
    return total + perm[0] * v[0]


def cholesky_logdet(A, b):
    """Cholesky factorisation by triangular loops, then log det A + b^T A^-1 b."""
    n = A.shape[0]
    L = np.zeros((n, n))
    for j in range(n):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    z = np.zeros(n)
    for i in range(n):
        t = b[i]
        for k in range(i):
            t -= L[i, k] * z[k]
        z[i] = t / L[i, i]
    logdet = 0.0
    for i in range(n):
        logdet += 2.0 * math.log(L[i, i])
    return logdet + np.dot(z, z)


# ====================================================================== ODEs

def _oscillator(y, k):
    return np.array([y[1], -k * y[0] - 0.1 * y[1] * y[0] ** 2])


def rk4_system(y0, k):
    """Classic RK4 on a 2-D state: stages from a helper returning an array."""
    h = 0.05
    y = y0.copy()
    for _ in range(20):
        k1 = _oscillator(y, k)
        k2 = _oscillator(y + 0.5 * h * k1, k)
        k3 = _oscillator(y + 0.5 * h * k2, k)
        k4 = _oscillator(y + h * k3, k)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y[0] ** 2 + y[1]


# ====================================================================== slices and views

def views_read(A, x):
    """Reads through views: rows, a column, a 2-D block."""
    s = 0.0
    for i in range(A.shape[0]):
        row = A[i]
        s += np.dot(row, x) * row[0]
    col = A[:, 1]
    s += np.sum(col * col)
    block = A[1:, :2]
    s += np.sum(np.sin(block))
    return s + np.sum(A[-1] * x) + A[0, -1]


def views_write(A, c):
    """Writes through views: ``row = B[i]; row[j] = ...`` and a column view."""
    B = A.copy()
    for i in range(B.shape[0]):
        row = B[i]
        for j in range(B.shape[1]):
            row[j] = row[j] * c + math.sin(row[j])
    col = B[:, 0]
    col[1] = col[1] * col[0]
    return np.sum(B * B)


def column_views_loop(A):
    """A column view bound in a loop (``col = A[:, j]``)."""
    s = 0.0
    for j in range(A.shape[1]):
        col = A[:, j]
        s += np.sum(col * col) * (j + 1.0)
    return s


def slice_writes(a, c):
    """In-place array updates: ``+=``, ``*=``, negative indices, slice assignment and ``+=``."""
    b = a.copy()
    b += c * a
    b *= a
    b[-1] = b[0] * c
    b[1:3] = b[1:3] * 2.0 + a[:2]
    b[1:3] += np.sin(b[0:2])
    return np.sum(b * b)


def prefix_sums(a):
    """Suffix views ``a[i:]`` in a loop."""
    s = 0.0
    for i in range(a.shape[0]):
        s += np.sum(a[i:]) * a[i]
    return s + a[-1] * a[-2]


def recurrence_into_array(x, c):
    """y[i] from y[i - 1]: an array written element by element and read back."""
    n = x.shape[0]
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = y[i - 1] * c + math.sin(x[i])
    return y[n - 1] ** 2 + np.sum(y)


def delay_line(a, c):
    """A shift register: the whole array moved up one place per step by a slice copy."""
    b = a.copy()
    for t in range(3):
        b[1:] = b[:-1]
        b[0] = c * (t + 1.0)
    return np.sum(b * b) + b[-1] * c


def stencil_2d(A, c):
    """A 2-D five-point stencil on the interior block, in place."""
    U = A.copy()
    for _ in range(2):
        U[1:-1, 1:-1] = U[1:-1, 1:-1] + c * (U[2:, 1:-1] + U[:-2, 1:-1] + U[1:-1, 2:]
                                              + U[1:-1, :-2] - 4.0 * U[1:-1, 1:-1])
    return np.sum(U * U)


def rebind_expression(a, c):
    """An array rebound to an expression of itself each step (no copy, no element writes)."""
    u = a
    for _ in range(4):
        u = np.tanh(u * c) + a
    return np.sum(u)


def accumulate_into(a, c):
    """``acc += ...`` on a whole array and on an element, in a loop."""
    acc = np.zeros_like(a)
    for t in range(3):
        acc += np.sin(a * (t + 1)) * c
        acc[0] += acc[1] * c
    return np.sum(acc * acc)


def rows_of_2d_writes(A, v):
    """Whole-row and whole-column writes into a 2-D array."""
    B = np.zeros((3, 3))
    for i in range(3):
        B[i] = A[i] * v
        B[:, i] += v * A[i, i]
    B[0, :] = B[1, :] * B[2, :]
    return np.sum(B ** 2)


# ====================================================================== LSTM

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_numpy(W, U, b, xs, h0, c0):
    """An LSTM cell over a sequence: gates from ``W @ x + U @ h + b`` sliced in four."""
    H = h0.shape[0]
    h = h0.copy()
    c = c0.copy()
    for t in range(xs.shape[0]):
        z = W @ xs[t] + U @ h + b
        i = sigmoid(z[:H])
        f = sigmoid(z[H:2 * H])
        o = sigmoid(z[2 * H:3 * H])
        g = np.tanh(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.sum(h * h) + 0.1 * np.sum(c)


def lstm_loops(W, U, b, xs, h0, c0):
    """The same LSTM with explicit loops for the matrix-vector products and the gates."""
    H = h0.shape[0]
    D = xs.shape[1]
    h = h0.copy()
    c = c0.copy()
    z = np.zeros(4 * H)
    for t in range(xs.shape[0]):
        for r in range(4 * H):
            acc = b[r]
            for k in range(D):
                acc += W[r, k] * xs[t, k]
            for k in range(H):
                acc += U[r, k] * h[k]
            z[r] = acc
        hn = np.zeros(H)
        for k in range(H):
            ig = 1.0 / (1.0 + math.exp(-z[k]))
            fg = 1.0 / (1.0 + math.exp(-z[H + k]))
            og = 1.0 / (1.0 + math.exp(-z[2 * H + k]))
            gg = math.tanh(z[3 * H + k])
            c[k] = fg * c[k] + ig * gg
            hn[k] = og * math.tanh(c[k])
        h = hn
    return np.sum(h * h) + 0.1 * np.sum(c)


def lstm_loops_hoisted(W, U, b, xs, h0, c0):
    """``lstm_loops`` with the gate count ``G = 4 * H`` computed before the time loop."""
    H = h0.shape[0]
    G = 4 * H
    D = xs.shape[1]
    h = h0.copy()
    c = c0.copy()
    z = np.zeros(G)
    for t in range(xs.shape[0]):
        for r in range(G):
            acc = b[r]
            for k in range(D):
                acc += W[r, k] * xs[t, k]
            for k in range(H):
                acc += U[r, k] * h[k]
            z[r] = acc
        hn = np.zeros(H)
        for k in range(H):
            ig = 1.0 / (1.0 + math.exp(-z[k]))
            fg = 1.0 / (1.0 + math.exp(-z[H + k]))
            og = 1.0 / (1.0 + math.exp(-z[2 * H + k]))
            gg = math.tanh(z[3 * H + k])
            c[k] = fg * c[k] + ig * gg
            hn[k] = og * math.tanh(c[k])
        h = hn
    return np.sum(h * h) + 0.1 * np.sum(c)


# ====================================================================== NumPy functions

def creation(a, c):
    """np.zeros/ones/empty/full and their _like forms, arange, linspace, eye, np.array."""
    z = np.zeros(3) + c
    o = np.ones((2, 3)) * a[0]
    e = np.empty(3)
    for i in range(3):
        e[i] = a[i] * c
    f = np.full(3, c)
    zl = np.zeros_like(a) + a
    ol = np.ones_like(a) * c
    fl = np.full_like(a, c)
    r = np.arange(3) * c
    r2 = np.arange(1.0, 4.0) * a[:3]
    ls = np.linspace(0.0, c, 3)
    eye = np.eye(3)
    arr = np.array([c, a[1], c * a[2]])
    m = np.array([[c, a[0]], [a[1], 1.0]])
    return (np.sum(z * z) + np.sum(o) + np.sum(e) + np.sum(f * a[:3]) + np.sum(zl * ol)
            + np.sum(fl * a) + np.sum(r * a[:3]) + np.sum(r2) + np.sum(ls * ls)
            + np.trace(eye * c) + np.sum(arr * arr) + np.linalg.det(m))


def reductions(A, v):
    """Whole-array reductions: sum, mean, prod, max, min, cumsum, as functions and methods."""
    return (np.sum(A * A) + np.mean(A) * v[0] + np.prod(v) + np.max(A) - np.min(v)
            + np.sum(np.cumsum(v) ** 2) + A.sum() * A.mean() + v.prod() + A.max() - v.min())


def reductions_axis(A, v):
    """np.sum / np.mean / a.sum / a.mean along an axis."""
    return (np.sum(np.sum(A, axis=0) * v) + np.sum(np.mean(A, axis=1) ** 2)
            + np.sum(A.sum(axis=0) * A.mean(0)))


def products(A, B, v, w):
    """dot, @, outer, norm, trace, a.dot, .T, in their 1-D/2-D combinations."""
    return (np.dot(v, w) + np.sum(A @ v) + np.sum(np.dot(A, B)) + np.sum(np.outer(v, w) ** 2)
            + np.linalg.norm(v) + np.trace(A @ B) + np.sum(v @ B) + v.dot(w) + np.sum(A.dot(v))
            + np.sum(w @ A.T))


def selection(v, w, c):
    """np.where, np.clip, abs, maximum, minimum (away from their kinks)."""
    return (np.sum(np.where(v > 0.0, v * w, w * c)) + np.sum(np.clip(v, -0.5, c))
            + np.sum(np.abs(v) * w) + np.sum(np.maximum(v, w)) + np.sum(np.minimum(v, c)))


def shapes(A, v):
    """reshape (both spellings), ravel, flatten, .T, transpose, concatenate, stack."""
    R = A.reshape(6)
    R2 = A.reshape((3, 2))
    f = np.ravel(A)
    fl = A.flatten()
    t = A.T
    cat = np.concatenate((v, R, f))
    st = np.stack((v, v * 2.0))
    return (np.sum(R * f) + np.sum(R2 * t.reshape(3, 2)) + np.sum(cat ** 2) + np.sum(st ** 3)
            + np.sum(fl * R) + np.sum(A.transpose() * t))


def linalg(M, b):
    """np.linalg.solve (vector and matrix right-hand sides), det, inv."""
    x = np.linalg.solve(M, b)
    X = np.linalg.solve(M, np.eye(3) + M)
    return np.sum(x * x) + np.linalg.det(M) + np.sum(np.linalg.inv(M) ** 2) + np.sum(X)


def ufuncs(v, c):
    """Elementwise NumPy functions and operators on arrays, scalar operands broadcast."""
    return np.sum(np.sin(v) * np.cos(v) + np.exp(v) * np.tanh(v) + np.log(1.0 + v * v)
                  + np.sqrt(2.0 + v) + np.arctan(v) + v ** 3 + np.power(2.0 + v, c)
                  + np.arctan2(v, c) + np.hypot(v, c) + c / (1.0 + v * v) + np.log1p(v * v)
                  + np.expm1(v) + np.sinh(v) + np.cosh(v) + np.arcsin(v * 0.5) + (-v))


def broadcasting(A, v, c):
    """Broadcasting a row vector, a scalar and a row of A against a matrix."""
    B = A + v
    C = A * v[0] + c
    D = A - A[0]
    E = A / (1.0 + v * v)
    return np.sum(B * B) + np.sum(C ** 2) + np.sum(D * E) + np.sum(c - A)


def tensor_3d(T, c):
    """A 3-D array read element by element and by 2-D slices."""
    s = 0.0
    for i in range(T.shape[0]):
        for j in range(T.shape[1]):
            for k in range(T.shape[2]):
                s += T[i, j, k] * math.cos(c * T[i, j, k])
    return s + np.sum(T[0] * T[1])


# ====================================================================== inactive int / bool arrays

def softmax_cross_entropy(W, X, labels):
    """Mean softmax cross-entropy; int labels index each row of logits."""
    logits = X @ W
    s = 0.0
    for i in range(X.shape[0]):
        row = logits[i]
        m = np.max(row)
        s += m + np.log(np.sum(np.exp(row - m))) - row[labels[i]]
    return s / X.shape[0]


def outer_accumulate(X, w):
    """A Gram-like matrix accumulated in place with ``G += np.outer(...)``."""
    G = np.zeros((X.shape[1], X.shape[1]))
    for i in range(X.shape[0]):
        G += np.outer(X[i], X[i]) * w[i % w.shape[0]]
    return np.sum(G * G) + np.trace(G)


def masked_gather(w, X, idx, mask):
    """Int index and data arrays and a bool mask: inactive, they select and scale floats."""
    s = 0.0
    for i in range(idx.shape[0]):
        if mask[i]:
            s += w[idx[i]] ** 2 * X[i, 0]
        s += np.sum(X[i] * w[:2])
    return s + np.sum(np.where(mask, w, 0.0) * X[:, 1])


# ====================================================================== several outputs (Jacobians)

def elementwise_map(a):
    return a * a + np.sin(a)


def matrix_map(A, v):
    return A @ v * np.tanh(v[0])


def pair_of_arrays(a, c):
    return np.sum(a) * c, np.cumsum(a * a)


def running_state(x, c):
    """A state vector updated in a loop and returned."""
    s = np.zeros(x.shape[0])
    for t in range(3):
        s = np.tanh(s * c + x)
    return s


# ====================================================================== the table

@dataclass(eq=False)             # hashable by identity: results are cached per case
class Case:
    fn: object
    points: list                     # argument tuples
    argnums: tuple                   # the positions differentiated (floats and float arrays)

    @property
    def id(self):
        return self.fn.__name__


_rng = np.random.default_rng(20260101)


def _normal(*shape, scale=1.0):
    return _rng.normal(size=shape) * scale


# logistic regression data: 7 samples, 3 features
X_LR = _normal(7, 3)
Y_LR = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
W_LR = _normal(3, scale=0.5)

U0 = np.sin(np.linspace(0.0, 3.0, 9)) + 0.3 * np.linspace(0.0, 1.0, 9)

# GMM: K = 3 components in d = 3 dimensions (3 lower-triangular entries), n = 4 samples
GMM_K, GMM_D, GMM_N = 3, 3, 4
GMM_ARGS = (_normal(GMM_K, scale=0.5), _normal(GMM_K, GMM_D),
            _normal(GMM_K, GMM_D + GMM_D * (GMM_D - 1) // 2, scale=0.4),
            _normal(GMM_N, GMM_D), 1.2, 2)

# LSTM: hidden 3, input 2, 4 steps
LSTM_H, LSTM_D, LSTM_T = 3, 2, 4
LSTM_ARGS = (_normal(4 * LSTM_H, LSTM_D, scale=0.5), _normal(4 * LSTM_H, LSTM_H, scale=0.5),
             _normal(4 * LSTM_H, scale=0.2), _normal(LSTM_T, LSTM_D), _normal(LSTM_H, scale=0.3),
             _normal(LSTM_H, scale=0.3))

A23 = _normal(2, 3)
A33 = _normal(3, 3)
B32 = _normal(3, 2)
V3 = _normal(3)
W3 = _normal(3)
V4 = _normal(4)
M33 = _normal(3, 3) + 3.0 * np.eye(3)
_M = _normal(3, 3)
SPD = _M @ _M.T + 3.0 * np.eye(3)
POWER_A = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 0.5]])
INT_X = np.array([[2, -1], [1, 3], [-2, 1], [0, 2]], dtype=np.int64)
INT_IDX = np.array([3, 0, 1, 1], dtype=np.int64)
MASK = np.array([True, False, True, True])

CASES = [
    Case(logreg_loop, [(W_LR, 0.3, X_LR, Y_LR)], (0, 1)),
    Case(logreg_rows, [(W_LR, 0.3, X_LR, Y_LR)], (0, 1)),
    Case(logreg_custom_vjp, [(W_LR, 0.3, X_LR, Y_LR)], (0, 1)),
    Case(logreg_numpy, [(W_LR, 0.3, X_LR, Y_LR), (-W_LR, -0.2, X_LR, 1.0 - Y_LR)], (0, 1, 2)),
    Case(heat_copy, [(U0, 0.2, 6), (U0[::-1].copy(), 0.35, 3)], (0, 1)),
    Case(heat_swap, [(U0, 0.2, 6), (U0[::-1].copy(), 0.35, 3)], (0, 1)),
    Case(heat_slices, [(U0, 0.2, 6), (U0[::-1].copy(), 0.35, 3)], (0, 1)),
    Case(pairwise_means, [(U0, 4)], (0,)),
    Case(heat_reaction, [(U0, 0.2, 5)], (0, 1)),
    Case(heat_helper, [(U0, 0.2, 4)], (0, 1)),
    Case(heat_helper_in_place, [(U0, 0.2, 4)], (0, 1)),
    Case(matvec_loop, [(A23, V3), (A33, W3)], (0, 1)),
    Case(helper_shares_adjoints, [(A23, V3)], (0, 1)),
    Case(gradient_norm, [(A23, V3)], (0, 1)),
    Case(midpoint_steps, [(V3, 0.7, 4)], (0, 1)),
    Case(changing_lengths, [(V3, 0.7, 6)], (0, 1)),
    Case(helper_slopes, [(V3, 0.7, 4)], (0, 1)),
    Case(power_iteration, [(POWER_A, np.array([1.0, 0.5, -0.2]), 8)], (0, 1)),
    Case(gmm_loops, [GMM_ARGS], (0, 1, 2, 3, 4)),
    Case(gmm_loops_square, [GMM_ARGS], (0, 1, 2, 3, 4)),
    Case(gmm_numpy, [GMM_ARGS], (0, 1, 2, 3, 4)),
    Case(newton_history, [(2.0, 1.0), (0.3, 2.0)], (0, 1)),
    Case(fixed_point_history, [(np.array([0.1, 0.5, -0.3]), 0.7)], (0, 1)),
    Case(implicit_euler, [(0.8, 1.2, 5)], (0, 1)),
    Case(conjugate_gradient, [(SPD, V3, 2)], (0, 1)),
    Case(gauss_seidel, [(SPD, V3)], (0, 1)),
    Case(cholesky_logdet, [(SPD, V3)], (0, 1)),
    Case(pivoted_logdet, [(M33[::-1].copy(), np.array([1.0, 0.5, 2.0])), (A33, V3)], (0, 1)),
    Case(rk4_system, [(np.array([1.0, 0.2]), 1.3)], (0, 1)),
    Case(views_read, [(A33, V3)], (0, 1)),
    Case(views_write, [(A23, 0.7)], (0, 1)),
    Case(column_views_loop, [(A23,)], (0,)),
    Case(slice_writes, [(V4, 0.6)], (0, 1)),
    Case(prefix_sums, [(V4,)], (0,)),
    Case(recurrence_into_array, [(V4, 0.8)], (0, 1)),
    Case(delay_line, [(V4, 0.7)], (0, 1)),
    Case(stencil_2d, [(_normal(4, 5), 0.1)], (0, 1)),
    Case(rebind_expression, [(V4, 0.8)], (0, 1)),
    Case(accumulate_into, [(V4, 0.7)], (0, 1)),
    Case(rows_of_2d_writes, [(A33, V3)], (0, 1)),
    Case(lstm_numpy, [LSTM_ARGS], (0, 1, 2, 3, 4, 5)),
    Case(lstm_loops, [LSTM_ARGS], (0, 1, 2, 3, 4, 5)),
    Case(lstm_loops_hoisted, [LSTM_ARGS], (0, 1, 2, 3, 4, 5)),
    Case(creation, [(V4, 0.7)], (0, 1)),
    Case(reductions, [(A23, V3)], (0, 1)),
    Case(reductions_axis, [(A23, V3)], (0, 1)),
    Case(products, [(A23, B32, V3, W3)], (0, 1, 2, 3)),
    Case(selection, [(V3, W3, 0.6)], (0, 1, 2)),
    Case(shapes, [(A23, V3)], (0, 1)),
    Case(linalg, [(M33, V3)], (0, 1)),
    Case(ufuncs, [(0.5 * V3, 1.3)], (0, 1)),
    Case(broadcasting, [(A23, V3, 0.3)], (0, 1, 2)),
    Case(tensor_3d, [(_normal(2, 3, 2), 0.7)], (0, 1)),
    Case(masked_gather, [(V4, INT_X, INT_IDX, MASK)], (0,)),
    Case(softmax_cross_entropy, [(_normal(3, 4), _normal(5, 3), np.array([0, 3, 1, 2, 1]))], (0, 1)),
    Case(outer_accumulate, [(_normal(4, 3), np.array([0.5, -1.0, 2.0]))], (0, 1)),
]

JACOBIAN_CASES = [
    Case(elementwise_map, [(V4,)], (0,)),
    Case(matrix_map, [(A23, V3)], (0, 1)),
    Case(pair_of_arrays, [(V4, 0.6)], (0, 1)),
    Case(running_state, [(V3, 0.8)], (0, 1)),
]
