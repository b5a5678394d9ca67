"""The GradBench tool's derivatives, driven by recorded sessions, against central differences
of independent NumPy objectives, and the values of the objectives whose compilation needs
array support (2-D array creation) in sourcediff.

These need sourcediff to differentiate array code, and particle, saddle, kmeans and ba's
Jacobian need nested differentiation too."""
import numpy as np
import pytest

from gradbench_reference import central_gradient, central_jacobian, close, gradbench_close, outputs
import gradbench_reference as ref
import sourcediff as sd
from sourcediff.gradbench import ba, gmm, inputs, kmeans, lstm, particle, saddle

VARIANTS = ["ff", "fr", "rf", "rr"]


def test_lse_gradient():
    given = inputs.lse(10)
    x = np.array(given["x"])
    close(outputs("lse", [("gradient", given)])[0], central_gradient(ref.lse, x))


def test_llsq_gradient():
    given = inputs.llsq(9, 4)
    x = np.array(given["x"])
    close(outputs("llsq", [("gradient", given)])[0], central_gradient(lambda v: ref.llsq(v, 9), x))


def test_ode_gradient():
    given = inputs.ode(5, 4)
    x = np.array(given["x"])
    close(outputs("ode", [("gradient", given)])[0], central_gradient(lambda v: ref.ode(v, 4)[-1], x))


def test_det_gradient():
    given = inputs.det(4)
    a = np.array(given["A"])
    close(outputs("det", [("gradient", given)])[0], central_gradient(lambda v: ref.det(v, 4), a))


def test_kmeans_direction():
    given = inputs.kmeans(20, 3, 2)
    points, centroids = kmeans.prepare(given)

    def cost(c):
        return ref.kmeans_cost(points, c)
    gradient = central_gradient(cost, centroids)
    h = 1e-3
    diagonal = np.empty(centroids.size)
    for i in range(centroids.size):
        step = np.zeros(centroids.size)
        step[i] = h
        step = step.reshape(centroids.shape)
        diagonal[i] = (cost(centroids + step) - 2 * cost(centroids) + cost(centroids - step)) / h ** 2
    close(outputs("kmeans", [("dir", given)])[0], gradient / diagonal.reshape(centroids.shape),
          rtol=1e-4)


def test_gmm():
    given = inputs.gmm(3, 2, 6, m=1, gamma=0.8)
    args = gmm.prepare(given)
    alpha, mu, q, l, rest = args[0], args[1], args[2], args[3], args[4:-1]
    value, gradient = outputs("gmm", [("objective", given), ("jacobian", given)])
    close(value, ref.gmm(*args[:-1]), rtol=1e-10)
    expected = {"alpha": central_gradient(lambda v: ref.gmm(v, mu, q, l, *rest), alpha),
                "mu": central_gradient(lambda v: ref.gmm(alpha, v, q, l, *rest), mu),
                "q": central_gradient(lambda v: ref.gmm(alpha, mu, v, l, *rest), q),
                "l": central_gradient(lambda v: ref.gmm(alpha, mu, q, v, *rest), l)}
    assert set(gradient) == set(expected)
    for name, want in expected.items():
        close(gradient[name], want)


def test_lstm():
    given = inputs.lstm(2, 6)
    main, extra, state, sequence = lstm.prepare(given)
    value, jacobian = outputs("lstm", [("objective", given), ("jacobian", given)])
    close(value, ref.lstm(main, extra, state, sequence), rtol=1e-10)
    expected = np.concatenate((
        central_gradient(lambda v: ref.lstm(v, extra, state, sequence), main).ravel(),
        central_gradient(lambda v: ref.lstm(main, v, state, sequence), extra).ravel()))
    close(jacobian, expected)


def test_ba():
    n, m, p = 3, 4, 12
    given = inputs.ba(n, m, p)
    cams, points, weights, observations, features = ba.prepare(given)
    value, jacobian = outputs("ba", [("objective", given), ("jacobian", given)])
    first = ref.ba_reprojection(cams[0], points[0], weights[0], features[0])
    assert value["reproj_error"]["repeated"] == p and value["w_err"]["repeated"] == p
    close(value["reproj_error"]["elements"], first, rtol=1e-10)
    close(value["w_err"]["element"], 1 - given["w"] ** 2, rtol=1e-12)
    rows, cols, vals = [0], [], []
    for i, (camera, point) in enumerate(observations):
        block = central_jacobian(lambda v: ref.ba_reprojection(v[:11], v[11:14], v[14], features[i]),
                                 np.concatenate((cams[camera], points[point], [weights[i]])))
        for row in range(2):
            rows.append(rows[-1] + 15)
            cols += [11 * camera + j for j in range(11)] + [11 * n + 3 * point + j for j in range(3)]
            cols.append(11 * n + 3 * m + i)
            vals += list(block[row])
    for i in range(p):
        rows.append(rows[-1] + 1)
        cols.append(11 * n + 3 * m + i)
        vals.append(-2 * weights[i])
    assert jacobian["rows"] == rows[:30] + rows[-1:]
    assert jacobian["cols"] == cols[:30] + cols[-1:]
    # central differences lose about 1e-6 of the largest entry (1e5) to cancellation
    close(jacobian["vals"], vals[:30] + vals[-1:], rtol=1e-6, atol=1e-9 * np.max(np.abs(vals)))
    # the principal point enters error[row] as w * cam[7 + row]: exact entries
    assert jacobian["vals"][7] == jacobian["vals"][15 + 8] == weights[0]


@pytest.mark.parametrize("complicated", [False, True], ids=["simple", "complicated"])
def test_ht(complicated):
    given = inputs.ht(15, 5, complicated)
    theta, us = np.array(given["theta"]), np.array(given["us"])
    data = given["data"]
    value, jacobian = outputs("ht", [("objective", given), ("jacobian", given)])
    close(value, ref.ht(theta, given["us"], data), rtol=1e-10)
    expected = central_jacobian(lambda v: ref.ht(v, us, data), theta)
    if complicated:
        own = np.zeros((3 * len(us), 2))            # each point's errors by its own us
        for i in range(len(us)):
            for c in range(2):
                def error_of(value, i=i, c=c):
                    moved = us.copy()
                    moved[i, c] = value[0]
                    return ref.ht(theta, moved, data)[3 * i:3 * i + 3]
                own[3 * i:3 * i + 3, c] = central_jacobian(error_of, us[i, c:c + 1])[:, 0]
        expected = np.column_stack((own, expected))
    assert np.shape(jacobian) == expected.shape
    close(jacobian, expected, rtol=1e-5, atol=1e-6)


def nested_variants_close(monkeypatch, module, given, expected):
    """``ff`` through the tool, compiled; every variant on the Python backend.  Numba takes
    2-30 s to compile each nesting of the transforms (``ff`` the least, ``rr`` the most), the
    same generated code run as Python a second or two, so the tool defines ``ff`` alone."""
    monkeypatch.setattr(module, "FUNCTIONS", {"ff": module.FUNCTIONS["ff"]})
    gradbench_close(outputs(module.__name__.rsplit(".", 1)[1], [("ff", given)])[0], expected)
    args = module.prepare(given)
    for variant in VARIANTS:
        gradbench_close(sd.jit(getattr(module, variant), backend="python")(*args), expected)


def test_particle(monkeypatch):
    nested_variants_close(monkeypatch, particle, inputs.particle(), ref.PARTICLE_W)


def test_saddle(monkeypatch):
    nested_variants_close(monkeypatch, saddle, inputs.saddle(), ref.SADDLE_POINT)

