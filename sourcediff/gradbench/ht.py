"""GradBench's ``ht`` eval (from ADBench): hand tracking.

A skinned hand model is posed by 26 parameters ``theta`` (global rotation,
translation, and the fingers' joint angles); the objective is the difference between
observed points and the model's corresponding vertices, or, when ``us`` is given
("complicated"), points inside the model's triangles at barycentric coordinates ``us``.
``jacobian`` is the dense Jacobian of those 3 x points errors with respect to theta,
after (when ``us`` is given) two columns for the derivatives with respect to each
point's own two coordinates.
"""
import math

import numpy as np

import sourcediff as sd


def matmul(a, b):
    out = np.empty((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            total = 0.0
            for k in range(a.shape[1]):
                total += a[i, k] * b[k, j]
            out[i, j] = total
    return out


def euler_angles_to_rotation(x, z, y):
    rx = np.eye(3)
    rx[1, 1] = math.cos(x)
    rx[2, 1] = math.sin(x)
    rx[1, 2] = -rx[2, 1]
    rx[2, 2] = rx[1, 1]
    ry = np.eye(3)
    ry[0, 0] = math.cos(y)
    ry[0, 2] = math.sin(y)
    ry[2, 0] = -ry[0, 2]
    ry[2, 2] = ry[0, 0]
    rz = np.eye(3)
    rz[0, 0] = math.cos(z)
    rz[1, 0] = math.sin(z)
    rz[0, 1] = -rz[1, 0]
    rz[1, 1] = rz[0, 0]
    return matmul(matmul(rz, ry), rx)


def angle_axis_to_rotation(a0, a1, a2):
    norm = math.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
    if norm < 0.0001:
        return np.eye(3)
    x = a0 / norm
    y = a1 / norm
    z = a2 / norm
    s = math.sin(norm)
    c = math.cos(norm)
    r = np.empty((3, 3))
    r[0, 0] = x * x + (1 - x * x) * c
    r[0, 1] = x * y * (1 - c) - z * s
    r[0, 2] = x * z * (1 - c) + y * s
    r[1, 0] = x * y * (1 - c) + z * s
    r[1, 1] = y * y + (1 - y * y) * c
    r[1, 2] = y * z * (1 - c) - x * s
    r[2, 0] = x * z * (1 - c) - y * s
    r[2, 1] = z * y * (1 - c) + x * s
    r[2, 2] = z * z + (1 - z * z) * c
    return r


def pose_parameters(theta, bones):
    """Row 0: global rotation, 1: scale, 2: translation, 3 + b: bone b's Euler angles."""
    pose = np.zeros((bones + 3, 3))
    for i in range(3):
        pose[0, i] = theta[i]
        pose[1, i] = 1.0
        pose[2, i] = theta[3 + i]
    i_theta = 6
    row = 5
    for finger in range(5):
        for joint in range(3):
            pose[row, 0] = theta[i_theta]
            i_theta += 1
            if joint == 0:
                pose[row, 1] = theta[i_theta]
                i_theta += 1
            row += 1
        row += 1
    return pose


def vertex_positions(theta, base_relatives, parents, inverse_base_absolutes, base_positions,
                     weights, is_mirrored):
    bones = parents.shape[0]
    vertices = base_positions.shape[0]
    pose = pose_parameters(theta, bones)
    absolutes = np.empty((bones, 4, 4))
    skinned = np.zeros((vertices, 3))
    for b in range(bones):
        rigid = np.eye(4)
        rotation = euler_angles_to_rotation(pose[b + 3, 0], pose[b + 3, 1], pose[b + 3, 2])
        for i in range(3):
            for j in range(3):
                rigid[i, j] = rotation[i, j]
        relative = matmul(base_relatives[b], rigid)
        if parents[b] == -1:
            absolutes[b] = relative
        else:
            absolutes[b] = matmul(absolutes[parents[b]], relative)
        transform = matmul(absolutes[b], inverse_base_absolutes[b])
        for v in range(vertices):
            for i in range(3):
                moved = 0.0
                for k in range(4):
                    moved += transform[i, k] * base_positions[v, k]
                skinned[v, i] += weights[v, b] * moved
    if is_mirrored:
        for v in range(vertices):
            skinned[v, 0] = -skinned[v, 0]
    rotation = angle_axis_to_rotation(pose[0, 0], pose[0, 1], pose[0, 2])
    positions = np.empty((vertices, 3))
    for v in range(vertices):
        for i in range(3):
            total = pose[2, i]
            for j in range(3):
                total += rotation[i, j] * pose[1, j] * skinned[v, j]
            positions[v, i] = total
    return positions


def ht_objective(theta, base_relatives, parents, inverse_base_absolutes, base_positions,
                 weights, is_mirrored, correspondences, points):
    positions = vertex_positions(theta, base_relatives, parents, inverse_base_absolutes,
                                 base_positions, weights, is_mirrored)
    errors = np.empty(3 * points.shape[0])
    for i in range(points.shape[0]):
        for j in range(3):
            errors[3 * i + j] = points[i, j] - positions[correspondences[i], j]
    return errors


def ht_objective_complicated(theta, us, base_relatives, parents, inverse_base_absolutes,
                             base_positions, weights, is_mirrored, correspondences, points,
                             triangles):
    positions = vertex_positions(theta, base_relatives, parents, inverse_base_absolutes,
                                 base_positions, weights, is_mirrored)
    errors = np.empty(3 * points.shape[0])
    for i in range(points.shape[0]):
        a = triangles[correspondences[i], 0]
        b = triangles[correspondences[i], 1]
        c = triangles[correspondences[i], 2]
        u = us[i, 0]
        v = us[i, 1]
        for j in range(3):
            on_hand = u * positions[a, j] + v * positions[b, j] + (1.0 - u - v) * positions[c, j]
            errors[3 * i + j] = points[i, j] - on_hand
    return errors


compiled_objective = sd.jit(ht_objective)
compiled_objective_complicated = sd.jit(ht_objective_complicated)
theta_jacobian = sd.jacfwd(ht_objective)
theta_jacobian_complicated = sd.jacfwd(ht_objective_complicated)


def objective(theta, us, *model):
    if us.shape[0] == 0:
        return compiled_objective(theta, *model[:-1])
    return compiled_objective_complicated(theta, us, *model)


def jacobian(theta, us, *model):
    if us.shape[0] == 0:
        return theta_jacobian(theta, *model[:-1])
    # Point i's errors depend on us[i] alone, so one JVP that moves every point's first
    # coordinate gives each point's derivatives with respect to its own first coordinate,
    # and one more those with respect to its second.
    args = (theta, us) + model
    still = tuple(np.zeros_like(a) if isinstance(a, np.ndarray) else a for a in model)
    columns = []
    for coordinate in range(2):
        seed = np.zeros_like(us)
        seed[:, coordinate] = 1.0
        _, column = sd.jvp(ht_objective_complicated, args, (np.zeros_like(theta), seed) + still)
        columns.append(column)
    return np.column_stack(columns + [theta_jacobian_complicated(*args)])


def prepare(input):
    """(theta, us, the model and data arguments of the objectives, triangles last)."""
    data = input["data"]
    model = data["model"]

    def floats(value):
        return np.asarray(value, dtype=np.float64)

    def ints(value):
        return np.asarray(value, dtype=np.int64)
    return (floats(input["theta"]), floats(input["us"]).reshape(-1, 2),
            floats(model["base_relatives"]), ints(model["parents"]),
            floats(model["inverse_base_absolutes"]), floats(model["base_positions"]),
            floats(model["weights"]), bool(model["is_mirrored"]), ints(data["correspondences"]),
            floats(data["points"]), ints(model["triangles"]))


FUNCTIONS = {"objective": objective, "jacobian": jacobian}
