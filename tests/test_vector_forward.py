"""jacfwd by vector forward mode (``sourcediff/transform/vector_forward.py``): one sweep carries
up to 32 tangents.  Jacobians are checked against central differences and jacrev, the
generated code for the forms it takes, and code it cannot carry for its fallback."""
import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import jacobians
from sourcediff.transform.vector_forward import NotVectorizable, vectorize

BACKENDS = ["python", "numba"]


def central_jacobian(f, x, h=1e-6):
    columns = []
    for k in range(x.size):
        up, down = x.copy(), x.copy()
        up.flat[k] += h
        down.flat[k] -= h
        columns.append(((f(up) - f(down)) / (2 * h)).ravel())
    return np.array(columns).T.reshape(np.shape(f(x)) + x.shape)


def smooth(v):
    """A loop carrying a number, over more inputs than one sweep holds."""
    out = np.empty(v.shape[0])
    acc = 0.0
    for i in range(v.shape[0]):
        acc = 0.5 * acc + math.sin(v[i])
        out[i] = acc * v[i]
    return out


def pair(a, b):
    return a, a * b


def twice(x):
    y = 3.0 * x
    return y, y


def aliases(v):
    """Callees that hand back their own argument, or one value twice: the caller then writes
    into what it got, which must not change ``a`` or ``w``."""
    a = v[0]
    p, q = pair(a, v[1])
    p = p * 2.0
    u, w = twice(v[2])
    u = u * u
    out = np.empty(5)
    out[0] = p
    out[1] = q
    out[2] = a
    out[3] = u
    out[4] = w
    return out


def rotate(m, angle):
    """Array tangents allocated, written by element, viewed by row and passed to a callee."""
    r = np.zeros((2, 2))
    r[0, 0] = math.cos(angle)
    r[0, 1] = -math.sin(angle)
    r[1, 0] = math.sin(angle)
    r[1, 1] = math.cos(angle)
    out = np.empty((m.shape[0], 2))
    for i in range(m.shape[0]):
        out[i] = row_times(r, m[i])
    return out


def row_times(r, row):
    out = np.empty(2)
    for j in range(2):
        total = 0.0
        for k in range(2):
            total += r[j, k] * row[k]
        out[j] = total
    return out


def blend(w, points):
    """Short loops written with numbers: each direction runs them again for its tangent.  In
    the second, the tangent reads the running product, which is not computed again."""
    out = np.empty(points.shape[0])
    for i in range(points.shape[0]):
        total = 0.0
        for k in range(3):
            weight = w[k] * w[k]
            total += weight * points[i, k]
        product = 1.0
        for k in range(3):
            product = product * (w[k] + points[i, k])
        out[i] = total + product
    return out


def skinning(w, points):
    """A short loop's sum per point (its tangent a local of the direction loop, stored for the
    loops after it that read it), then a product over a loop of any length."""
    out = np.empty(points.shape[0])
    for v in range(points.shape[0]):
        moved = 0.0
        for k in range(3):
            moved += w[k] * points[v, k]
        scale = 1.0
        for k in range(points.shape[1]):
            scale = scale * math.cos(moved * points[v, k])
        out[v] = math.sin(moved) * scale
    return out


def array_expression(v):
    return np.cos(v) * v[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_over_more_inputs_than_a_sweep(backend):
    v = np.linspace(-1.0, 2.0, 40)          # 32 columns, then 8
    jac = sd.jacfwd(smooth, backend=backend)
    got = jac(v)
    assert "forward_vector(smooth_jvps" in jac.source
    assert "for _p in range(_np):" in jac.source
    assert got.shape == (40, 40)
    assert np.allclose(got, central_jacobian(smooth, v), rtol=1e-7, atol=1e-9)
    assert np.allclose(got, sd.jacrev(smooth, backend=backend)(v), rtol=1e-12, atol=1e-15)
    assert np.all(np.triu(got, 1) == 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_callees_returning_their_arguments_or_one_value_twice(backend):
    v = np.array([0.7, -1.3, 0.4])
    jac = sd.jacfwd(aliases, backend=backend)
    got = jac(v)
    assert "pair_jvps" in jac.source and "a_dot.copy()" in jac.source
    x0, x1, x2 = v
    expected = np.array([[2.0, 0.0, 0.0], [x1, x0, 0.0], [1.0, 0.0, 0.0],
                         [0.0, 0.0, 18.0 * x2], [0.0, 0.0, 3.0]])
    assert np.allclose(got, expected, rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_and_number_arguments_together(backend):
    m, angle = np.array([[1.0, 2.0], [-0.5, 0.3], [0.2, 0.9]]), 0.6
    jac = sd.jacfwd(rotate, argnums=(0, 1), backend=backend)
    d_m, d_angle = jac(m, angle)
    assert "row_times_jvps" in jac.source
    assert d_m.shape == (3, 2, 3, 2) and d_angle.shape == (3, 2)
    assert np.allclose(d_m, central_jacobian(lambda x: rotate(x, angle), m), rtol=1e-7, atol=1e-9)
    assert np.allclose(d_angle, central_jacobian(lambda a: rotate(m, a[0]), np.array([angle]))[..., 0],
                       rtol=1e-7, atol=1e-9)
    assert all(np.allclose(f, r, rtol=1e-13, atol=1e-15)
               for f, r in zip((d_m, d_angle), sd.jacrev(rotate, argnums=(0, 1), backend=backend)(m, angle)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_loops_run_again_for_each_direction(backend):
    w, points = np.array([0.5, -1.2, 0.8]), np.array([[1.0, 2.0, -0.4], [0.3, -0.7, 1.5]])
    jac = sd.jacfwd(blend, backend=backend)
    got = jac(w, points)
    jvps = jac.source[jac.source.index("def blend_jvps"):]
    assert "for k_each in range(3):" in jvps and "= w[k_each]" in jvps
    assert "k_each_" not in jvps and jvps.count("range(3)") == 3     # the product's loop stays
    expected = np.array([[2 * w[k] * p[k] + np.prod(w + p) / (w[k] + p[k]) for k in range(3)] for p in points])
    assert np.allclose(got, expected, rtol=1e-14, atol=0.0)
    assert np.allclose(got, central_jacobian(lambda x: blend(x, points), w), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tangent_set_and_read_in_one_direction_loop_is_a_local_there(backend):
    w, points = np.array([0.5, -1.2, 0.8]), np.array([[1.0, 2.0, -0.4], [0.3, -0.7, 1.5]])
    jac = sd.jacfwd(skinning, backend=backend)
    got = jac(w, points)
    jvps = jac.source[jac.source.index("def skinning_jvps"):]
    assert "moved_dot_p = moved_dot_p + " in jvps and "moved_dot[_p] = moved_dot_p" in jvps, jvps
    assert "scale_dot[_p] = 0.0" in jvps           # only set there: it stays in its row
    assert np.allclose(got, central_jacobian(lambda x: skinning(x, points), w), rtol=1e-7, atol=1e-9)
    assert np.allclose(got, sd.jacrev(skinning, backend=backend)(w, points), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_expressions_fall_back_to_one_sweep_per_column(backend):
    v = np.array([0.3, -0.8, 1.1])
    jac = sd.jacfwd(array_expression, backend=backend)
    got = jac(v)
    assert "jacobians.forward(array_expression_jvp" in jac.source
    assert np.allclose(got, central_jacobian(array_expression, v), rtol=1e-7, atol=1e-9)


def test_forms_it_refuses_name_the_tangent():
    import ast
    fn = ast.parse("def f_jvp(x, x_dot):\n    y_dot = np.cos(x) * x_dot\n    return (x, y_dot)").body[0]
    from sourcediff import kinds as K
    types = type("Types", (), {"env": {"x": K.Array("float64", 1)}})()
    with pytest.raises(NotVectorizable, match=r"np.cos\(x\) \* x_dot"):
        vectorize(fn, {"x_dot": K.Array("float64", 1), "y_dot": K.Array("float64", 1)}, types, 1, set())


def test_blocks_are_shaped_as_the_per_column_sweeps_shape_them():
    def jvps(x, s, x_dot, s_dot, count):
        return x.sum() * s, x_dot.reshape(-1, count).sum(axis=0) * s + x.sum() * s_dot
    x, s = np.arange(6.0).reshape(2, 3), 0.5
    _, (d_x, d_s) = jacobians.forward_vector(jvps, (x, s), (0, 1), 1, (0,))
    assert d_x.shape == (2, 3) and np.all(d_x == s)
    assert isinstance(d_s, float) and d_s == 15.0
