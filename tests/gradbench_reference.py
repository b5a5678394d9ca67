"""Independent NumPy versions of the GradBench objectives, central differences, and the
tool driven by recorded protocol sessions, for test_gradbench*.py."""
import json
import types

import numba
import numpy as np
import scipy.special

from sourcediff.gradbench.tool import serve

# ----------------------------------------------------------------------------- sessions


def session(module, calls, min_runs=1):
    """The tool's responses to a session as GradBench's evals send it: start, define, then an
    evaluate (with ``min_runs``, except for hello) and an analysis for each (function, input)."""
    messages = [{"id": 0, "kind": "start", "eval": module}, {"id": 1, "kind": "define", "module": module}]
    for function, given in calls:
        if isinstance(given, dict):
            given = {**given, "min_runs": min_runs, "min_seconds": 0}
        messages.append({"id": len(messages), "kind": "evaluate", "module": module,
                         "function": function, "input": given, "description": "test"})
        messages.append({"id": len(messages), "kind": "analysis", "of": len(messages) - 1,
                         "valid": True})
    lines = []
    serve((json.dumps(m) for m in messages), lines.append)
    return [json.loads(line) for line in lines]


def outputs(module, calls):
    """The outputs of ``calls`` (function, input) in one session; each must succeed."""
    responses = session(module, calls)
    assert responses[1]["success"], responses[1]
    evaluated = responses[2::2]
    for response in evaluated:
        assert response["success"], response.get("error")
    return [response["output"] for response in evaluated]


# ----------------------------------------------------------------------------- checks

def central_gradient(f, x, h=1e-6):
    """Central differences of the scalar ``f`` at the float array ``x`` (any shape)."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty(x.size)
    for i in range(x.size):
        up, down = x.copy().ravel(), x.copy().ravel()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up.reshape(x.shape)) - f(down.reshape(x.shape))) / (2 * h)
    return grad.reshape(x.shape)


def central_jacobian(f, x, h=1e-6):
    """Central differences of the vector-valued ``f`` at the 1-D ``x``: shape (outputs, x.size)."""
    columns = []
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        columns.append((np.asarray(f(up)) - np.asarray(f(down))) / (2 * h))
    return np.column_stack(columns)


def close(actual, expected, rtol=1e-5, atol=1e-7):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol, atol=atol)


_njitted = {}


def njit_deep(fn, compiled=_njitted):
    """``numba.njit`` of ``fn`` and of the functions of its package that it calls, recursively
    (each compiled once per test session)."""
    if fn in compiled:
        return compiled[fn]
    names = dict(fn.__globals__)
    copy = types.FunctionType(fn.__code__, names, fn.__name__, fn.__defaults__, fn.__closure__)
    compiled[fn] = numba.njit(copy)
    for name in fn.__code__.co_names:
        value = names.get(name)
        if isinstance(value, types.FunctionType) and \
                value.__module__.split(".")[0] == fn.__module__.split(".")[0]:
            names[name] = njit_deep(value, compiled)
    return compiled[fn]


# ----------------------------------------------------------------------------- objectives

def lse(x):
    top = np.max(x)
    return np.log(np.sum(np.exp(x - top))) + top


def llsq(x, n):
    t = np.linspace(-1.0, 1.0, n)
    residual = np.sign(t) - np.vander(t, len(x), increasing=True) @ x
    return 0.5 * residual @ residual


def ode(x, s):
    def rhs(y):
        return np.concatenate(([x[0]], x[1:] * y[:-1]))
    h, y = 2.0 / s, np.zeros_like(x)
    for _ in range(s):
        k1 = rhs(y)
        k2 = rhs(y + h / 2 * k1)
        k3 = rhs(y + h / 2 * k2)
        k4 = rhs(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def det(a, ell):
    return np.linalg.det(np.reshape(a, (ell, ell)))


def kmeans_cost(points, centroids):
    return np.sum(np.min(np.sum((points[:, None, :] - centroids[None]) ** 2, axis=2), axis=1))


def gmm_precision_factor(q, l, d):
    """Lower triangular: exp(q) on the diagonal, l below it column by column."""
    factor = np.diag(np.exp(q))
    entries = iter(l)
    for col in range(d):
        for row in range(col + 1, d):
            factor[row, col] = next(entries)
    return factor


def gmm(alpha, mu, q, l, x, gamma, m):
    """The log posterior straight from the densities, as the eval's ``--validate-naive``."""
    n, d = x.shape
    phi = np.exp(alpha) / np.sum(np.exp(alpha))
    precisions = [gmm_precision_factor(q[k], l[k], d).T @ gmm_precision_factor(q[k], l[k], d)
                  for k in range(len(alpha))]
    log_likelihood = 0.0
    for i in range(n):
        density = 0.0
        for k, precision in enumerate(precisions):
            diff = x[i] - mu[k]
            density += phi[k] * np.exp(-0.5 * diff @ precision @ diff) / np.sqrt(
                (2 * np.pi) ** d / np.linalg.det(precision))
        log_likelihood += np.log(density)
    dof = d + m + 1
    log_prior = 0.0
    for precision in precisions:                        # Wishart with V = I / gamma^2
        log_prior += ((dof - d - 1) / 2 * np.log(np.linalg.det(precision))
                      - gamma ** 2 * np.trace(precision) / 2 - dof * d / 2 * np.log(2)
                      + dof * d * np.log(gamma) - scipy.special.multigammaln(dof / 2, d))
    return log_likelihood + log_prior


def lstm(main_params, extra_params, state, sequence):
    def sigmoid(v):
        return 1 / (1 + np.exp(-v))
    layers, b = len(main_params) // 2, sequence.shape[1]
    hidden, cell = state[0::2].copy(), state[1::2].copy()
    total = 0.0
    for t in range(len(sequence) - 1):
        value = sequence[t] * extra_params[0]
        for layer in range(layers):
            weight, bias = main_params[2 * layer].reshape(4, b), main_params[2 * layer + 1].reshape(4, b)
            forget = sigmoid(value * weight[0] + bias[0])
            ingate = sigmoid(hidden[layer] * weight[1] + bias[1])
            outgate = sigmoid(value * weight[2] + bias[2])
            change = np.tanh(hidden[layer] * weight[3] + bias[3])
            cell[layer] = cell[layer] * forget + ingate * change
            hidden[layer] = outgate * np.tanh(cell[layer])
            value = hidden[layer]
        prediction = value * extra_params[1] + extra_params[2]
        total += sequence[t + 1] @ (prediction - np.log(np.sum(np.exp(prediction)) + 2))
    return -total / ((len(sequence) - 1) * b)


def rodrigues(rotation, point):
    theta = np.linalg.norm(rotation)
    if theta == 0:
        return point + np.cross(rotation, point)
    axis = rotation / theta
    return (point * np.cos(theta) + np.cross(axis, point) * np.sin(theta)
            + axis * (axis @ point) * (1 - np.cos(theta)))


def ba_reprojection(cam, point, w, feat):
    moved = rodrigues(cam[0:3], point - cam[3:6])
    projected = moved[:2] / moved[2]
    radius = projected @ projected
    distorted = projected * (1 + cam[9] * radius + cam[10] * radius ** 2)
    return w * (distorted * cam[6] + cam[7:9] - feat)


def ht_vertices(theta, model):
    """The posed hand's vertices, with 4 x 4 matrices and ``@``."""
    bones = len(model["parents"])
    pose = np.zeros((bones + 3, 3))
    pose[0], pose[1], pose[2] = theta[0:3], 1.0, theta[3:6]
    for finger in range(5):            # rows 5-7, 9-11, ...: 2, 1 and 1 angles from theta
        first, start = 5 + 4 * finger, 6 + 4 * finger
        pose[first, :2] = theta[start:start + 2]
        pose[first + 1, 0] = theta[start + 2]
        pose[first + 2, 0] = theta[start + 3]

    def euler(x, z, y):
        cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
        rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        return rz @ ry @ rx
    absolutes = []
    skinned = np.zeros((len(model["base_positions"]), 3))
    for b, parent in enumerate(model["parents"]):
        rigid = np.eye(4)
        rigid[:3, :3] = euler(*pose[b + 3])
        relative = np.asarray(model["base_relatives"][b]) @ rigid
        absolutes.append(relative if parent == -1 else absolutes[parent] @ relative)
        transform = absolutes[b] @ np.asarray(model["inverse_base_absolutes"][b])
        skinned += np.asarray(model["weights"])[:, b:b + 1] * (
            np.asarray(model["base_positions"]) @ transform.T)[:, :3]
    if model["is_mirrored"]:
        skinned[:, 0] *= -1
    angle = np.linalg.norm(pose[0])
    if angle < 1e-4:
        rotation = np.eye(3)
    else:
        k = pose[0] / angle
        cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rotation = np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross
    return skinned @ (rotation * pose[1]).T + pose[2]


def ht(theta, us, data):
    vertices = ht_vertices(theta, data["model"])
    points = np.asarray(data["points"])
    correspondences = np.asarray(data["correspondences"])
    if len(us) == 0:
        return (points - vertices[correspondences]).ravel()
    us = np.asarray(us)
    corners = vertices[np.asarray(data["model"]["triangles"])[correspondences]]    # (points, 3, 3)
    weights = np.column_stack((us, 1 - us.sum(axis=1)))
    return (points - np.einsum("pc,pcj->pj", weights, corners)).ravel()


def particle_miss(w, delta_t=0.1):
    """Euler steps with the field written out by hand (the tool takes it by AD)."""
    charges = np.array([[10.0, 10.0 - w], [10.0, 0.0]])
    x, v = np.array([0.0, 8.0]), np.array([0.75, 0.0])
    while True:
        gradient = sum(-(x - c) / np.linalg.norm(x - c) ** 3 for c in charges)
        x = x + delta_t * v
        if x[1] <= 0:
            return (x[0] - x[1] / v[1] * v[0]) ** 2
        v = v - delta_t * gradient


# GradBench's expected outputs (the evals' own, from evals/particle and evals/saddle).
PARTICLE_W = 0.2071918746486116
SADDLE_POINT = [8.246324826140356e-06] * 4


def gradbench_close(actual, expected, tolerance=1e-4):
    """GradBench's comparison: |a - e| / max(1, |a| + |e|) within ``tolerance``."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    difference = np.abs(actual - expected) / np.maximum(1.0, np.abs(actual) + np.abs(expected))
    assert np.all(difference <= tolerance), (actual, expected)

