"""One function per array rule (``sourcediff.rules.arrays``), each reduced to a number.

``CASES`` names each function with the shapes of its float arguments; the
weights ``W`` make every element of a result matter differently.
"""
import numpy as np



def weights2():
    return np.cos(np.arange(12.0)).reshape(3, 4)


def weights1():
    return np.sin(np.arange(1.0, 5.0))


def sum_all(a):
    return np.sum(a * a) + a.sum()


def sum_axis0(a):
    return np.sum(np.sum(a, axis=0) * weights1())


def sum_axis1(a):
    return np.sum(a.sum(axis=1) ** 2)


def mean_all(a):
    return np.mean(a * a)


def mean_axis(a):
    return np.sum(np.mean(a, axis=0) * weights1())


def prod_all(a):
    return np.prod(a)


def max_min(a):
    return np.max(a * weights2()) - 2.0 * np.min(a * weights2())


def cumsum(v):
    return np.sum(np.cumsum(v) * weights1())


def dot_vv(u, v):
    return np.dot(u, v) * np.dot(u, u)


def dot_mv(m, v):
    return np.sum(np.dot(m, v) * np.arange(1.0, 4.0))


def matmul_vm(v, m):
    return np.sum((np.arange(1.0, 4.0) * v[0]) @ m * weights1())


def matmul_mm(m, n):
    return np.sum((m @ n) * np.eye(3))


def outer(u, v):
    return np.sum(np.outer(u, v) * weights2())


def norm(v):
    return np.linalg.norm(v) * v[1]


def trace(m):
    return np.trace(m @ m.T)


def where(a, b):
    return np.sum(np.where(a > 0.5, a * a, b) * weights2())


def clip(a):
    return np.sum(np.clip(a, 0.3, 1.1) * weights2())


def transpose_reshape(a):
    return np.sum(a.T * weights2().T) + np.sum(a.reshape(4, 3) * weights2().reshape(4, 3) ** 2)


def ravel_copy(a):
    b = a.copy()
    b[0, 0] = 3.0 * b[1, 1]
    return np.sum(np.ravel(b) * weights2().ravel()) + np.sum(a)


def concatenate(u, v):
    return np.sum(np.concatenate((u, v, u)) ** 2 * np.arange(10.0))


def stack(u, v):
    return np.sum(np.stack((u, v)) * weights2()[:2])


def solve(m, v):
    return np.sum(np.linalg.solve(m + 4.0 * np.eye(3), v[:3]) * np.arange(1.0, 4.0))


def solve_matrix(m, n):
    return np.sum(np.linalg.solve(m + 4.0 * np.eye(3), n) * weights2()[:, :3])


def det(m):
    return np.linalg.det(m + 2.0 * np.eye(3))


def inv(m):
    return np.sum(np.linalg.inv(m + 3.0 * np.eye(3)) * weights2()[:, :3])


def full_like(a, x):
    return np.sum(np.full_like(a, x) * a) + np.sum(np.full((2, 3), x) ** 2)


def linspace(x, y):
    return np.sum(np.linspace(x, y, 5) ** 2)


def literal(x, y):
    m = np.array([[x, y], [y * y, 1.0]])
    return np.linalg.det(m) + np.sum(np.array([x, 2.0, y]) * np.arange(3.0))


def slices(a):
    top = a[0, 1:3]
    column = a[:, 2]
    return np.sum(top * top) + np.sum(column[::2] * a[1:, -1][0]) + np.sum(a[-1] ** 3)


def slice_write(a):
    b = np.zeros((3, 4))
    b[1:] = a[:2] * a[1:]
    b[0, ::2] = a[2, 1:3]
    return np.sum(b * weights2())


def in_place(a):
    b = a * 2.0
    row = b[1]
    row += a[0]          # through the view: b changes too
    b *= b
    return np.sum(b * weights2())


def broadcasting(a, v):
    return np.sum(np.exp(a * v) - v / (1.0 + a * a) + np.maximum(a, v) * 2.0)


def float32_arith(a):
    return np.sum(np.sin(a) * a)


M = np.array([[0.9, 0.2, -0.3, 0.4], [0.1, 1.2, 0.5, -0.2], [-0.4, 0.3, 0.8, 0.6]])
V = np.array([0.7, -0.4, 1.1, 0.35])
SQ = M[:, :3].copy()

# name -> (function, float arguments)
CASES = {
    "sum": (sum_all, (M,)), "sum_axis0": (sum_axis0, (M,)), "sum_axis1": (sum_axis1, (M,)),
    "mean": (mean_all, (M,)), "mean_axis": (mean_axis, (M,)), "prod": (prod_all, (M + 2.0,)),
    "max_min": (max_min, (M,)), "cumsum": (cumsum, (V,)), "dot_vv": (dot_vv, (V, V[::-1].copy())),
    "dot_mv": (dot_mv, (M, V)), "matmul_vm": (matmul_vm, (V[:3].copy(), M)),
    "matmul_mm": (matmul_mm, (M, M.T.copy())), "outer": (outer, (V[:3].copy(), V)), "norm": (norm, (V,)),
    "trace": (trace, (M,)), "where": (where, (M + 0.25, M * 0.5)),
    "clip": (clip, (M + 0.25,)), "transpose_reshape": (transpose_reshape, (M,)),
    "ravel_copy": (ravel_copy, (M,)), "concatenate": (concatenate, (V, V[:2].copy() * 2)),
    "stack": (stack, (V, V * 0.5)), "solve": (solve, (SQ, V)), "solve_matrix": (solve_matrix, (SQ, SQ.T.copy())),
    "det": (det, (SQ,)), "inv": (inv, (SQ,)), "full_like": (full_like, (M, 0.7)), "linspace": (linspace, (0.3, 1.9)),
    "literal": (literal, (0.8, -1.3)), "slices": (slices, (M,)), "slice_write": (slice_write, (M,)),
    "in_place": (in_place, (M,)), "broadcasting": (broadcasting, (M, V)),
    "float32": (float32_arith, (M.astype(np.float32),)),
}


def broadcasting_map(a, v):
    """An array-valued function, for Jacobians."""
    return np.tanh(a * v) + a * a
