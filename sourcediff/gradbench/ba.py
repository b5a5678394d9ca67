"""GradBench's ``ba`` eval (from ADBench): bundle adjustment's reprojection errors and their
sparse Jacobian.

A camera is 11 numbers: angle-axis rotation (3), centre (3), focal length, principal point
(2) and radial distortion (2).  The input holds one camera, point, weight and feature,
repeated n, m, p and p times; observation i sees point i mod m from camera i mod n.
The Jacobian has a row for each reprojection error (2 per observation) and weight error
(1 per observation) and a column for each camera parameter, point coordinate and weight;
it is answered in compressed sparse row form, first 30 entries and last of each list.
"""
import math

import numpy as np

import sourcediff as sd

CAMERA_PARAMETERS = 11


def reprojection_error(cam, point, w, feat):
    # the point relative to the camera centre, rotated by Rodrigues' formula
    p0 = point[0] - cam[3]
    p1 = point[1] - cam[4]
    p2 = point[2] - cam[5]
    theta_squared = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2]
    if theta_squared != 0.0:
        theta = math.sqrt(theta_squared)
        cos_theta = math.cos(theta)
        sin_theta = math.sin(theta)
        w0 = cam[0] / theta
        w1 = cam[1] / theta
        w2 = cam[2] / theta
        along = (w0 * p0 + w1 * p1 + w2 * p2) * (1.0 - cos_theta)
        x0 = p0 * cos_theta + (w1 * p2 - w2 * p1) * sin_theta + w0 * along
        x1 = p1 * cos_theta + (w2 * p0 - w0 * p2) * sin_theta + w1 * along
        x2 = p2 * cos_theta + (w0 * p1 - w1 * p0) * sin_theta + w2 * along
    else:
        x0 = p0 + cam[1] * p2 - cam[2] * p1
        x1 = p1 + cam[2] * p0 - cam[0] * p2
        x2 = p2 + cam[0] * p1 - cam[1] * p0
    # perspective division, radial distortion, focal length and principal point
    u = x0 / x2
    v = x1 / x2
    radius_squared = u * u + v * v
    distortion = 1.0 + cam[9] * radius_squared + cam[10] * radius_squared * radius_squared
    error = np.empty(2)
    error[0] = w * (u * distortion * cam[6] + cam[7] - feat[0])
    error[1] = w * (v * distortion * cam[6] + cam[8] - feat[1])
    return error


def weight_error(w):
    return 1.0 - w * w


def ba_objective(cams, points, weights, observations, features):
    p = weights.shape[0]
    reprojection = np.empty((p, 2))
    weight_errors = np.empty(p)
    for i in range(p):
        error = reprojection_error(cams[observations[i, 0]], points[observations[i, 1]],
                                   weights[i], features[i])
        reprojection[i, 0] = error[0]
        reprojection[i, 1] = error[1]
        weight_errors[i] = weight_error(weights[i])
    return reprojection, weight_errors


reprojection_jacobian = sd.jacrev(reprojection_error, argnums=(0, 1, 2))
weight_error_derivative = sd.grad(weight_error)


def ba_jacobian(cams, points, weights, observations, features):
    """The Jacobian in compressed sparse row form: row i's entries are ``cols`` and ``vals``
    from ``rows[i]`` to ``rows[i + 1]``."""
    n = cams.shape[0]
    m = points.shape[0]
    p = weights.shape[0]
    per_row = CAMERA_PARAMETERS + 3 + 1
    rows = np.empty(3 * p + 1, np.int64)
    cols = np.empty(2 * per_row * p + p, np.int64)
    vals = np.empty(2 * per_row * p + p)
    rows[0] = 0
    k = 0
    for i in range(p):
        camera = observations[i, 0]
        point = observations[i, 1]
        d_cam, d_point, d_weight = reprojection_jacobian(cams[camera], points[point], weights[i],
                                                         features[i])
        for row in range(2):
            rows[2 * i + row + 1] = rows[2 * i + row] + per_row
            for j in range(CAMERA_PARAMETERS):
                cols[k] = CAMERA_PARAMETERS * camera + j
                vals[k] = d_cam[row, j]
                k += 1
            for j in range(3):
                cols[k] = CAMERA_PARAMETERS * n + 3 * point + j
                vals[k] = d_point[row, j]
                k += 1
            cols[k] = CAMERA_PARAMETERS * n + 3 * m + i
            vals[k] = d_weight[row]
            k += 1
    for i in range(p):
        rows[2 * p + i + 1] = rows[2 * p + i] + 1
        cols[k] = CAMERA_PARAMETERS * n + 3 * m + i
        vals[k] = weight_error_derivative(weights[i])
        k += 1
    return rows, cols, vals


compiled_objective = sd.jit(ba_objective)
compiled_jacobian = sd.jit(ba_jacobian)


def objective(*args):
    reprojection, weight_errors = compiled_objective(*args)
    return {"reproj_error": {"elements": reprojection[0], "repeated": reprojection.shape[0]},
            "w_err": {"element": weight_errors[0], "repeated": weight_errors.shape[0]}}


def jacobian(*args):
    def shown(values):           # GradBench compares the first 30 entries and the last
        return np.concatenate((values[:30], values[-1:]))
    return {name: shown(values) for name, values in zip(("rows", "cols", "vals"),
                                                         compiled_jacobian(*args))}


def prepare(input):
    n, m, p = int(input["n"]), int(input["m"]), int(input["p"])
    observations = np.empty((p, 2), np.int64)
    observations[:, 0] = np.arange(p) % n
    observations[:, 1] = np.arange(p) % m
    return (np.tile(np.asarray(input["cam"], dtype=np.float64), (n, 1)),
            np.tile(np.asarray(input["x"], dtype=np.float64), (m, 1)),
            np.full(p, float(input["w"])), observations,
            np.tile(np.asarray(input["feat"], dtype=np.float64), (p, 1)))


FUNCTIONS = {"objective": objective, "jacobian": jacobian}
