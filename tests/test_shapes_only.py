"""Where reverse code needs only the shape of an array a helper returns (its adjoint's
allocation), it calls the helper's ``_shapes`` function, cut to what the lengths read, instead of
running the helper (``Program._shapes_for_zeros``, ``program.return_shapes``); ``sd.grad`` returns
no value, so nothing computes one.  Gradients against central differences, and the code."""
import math

import numpy as np

import sourcediff as sd


def steps(x, s):
    n = x.shape[0]
    y = np.zeros(n)
    for step in range(s):
        for i in range(1, n):
            y[i] += x[i] * np.sin(y[i - 1] + x[0])
    return y


def last_of_steps(x, s):
    y = steps(x, s)
    return y[x.shape[0] - 1]


def counted(x):
    m = 0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            m += 1
    y = np.zeros(m + 1)
    for i in range(m + 1):
        y[i] = x[i] * x[i]
    return y


def last_of_counted(x):
    y = counted(x)
    return y[y.shape[0] - 1] * 2.0


def scaled_in_place(x, out):
    for i in range(x.shape[0]):
        out[i] = 3.0 * x[i]
    return out * x


def first_of_scaled(x):
    out = np.zeros(x.shape[0])
    y = scaled_in_place(x, out)
    return y[0]


def passed_on(x):
    return x


def rows_of(x):
    m = int(math.sqrt(x.shape[0] * 4.0))
    out = np.zeros((2, m))
    out[0, 0] = x[0]
    return out


def through_helpers(x):
    y = passed_on(x)
    z = rows_of(x)
    return np.sum(y) * 2.0 + np.sum(z)        # linear: the adjoints need only the shapes


def central(f, x, *rest, h=1e-6):
    return np.array([(f(x + h * e, *rest) - f(x - h * e, *rest)) / (2 * h) for e in np.eye(x.shape[0])])


X = np.array([0.4, -0.3, 0.8, 0.1, 0.6])


def test_the_adjoint_takes_the_helpers_lengths_without_running_it():
    grad = sd.grad(last_of_steps, backend="python")
    np.testing.assert_allclose(grad(X, 4), central(last_of_steps, X, 4), rtol=1e-6, atol=1e-9)
    source = grad.source
    vjp = source[source.index("def last_of_steps_vjp"):source.index("def steps_shapes")]
    assert "steps_shapes(x, s)" in vjp and "= steps(x, s)" not in vjp, source
    shapes = source[source.index("def steps_shapes"):].split("\n\n")[0]
    assert shapes.strip().endswith("return n") and "for " not in shapes, shapes
    value, (g,) = sd.value_and_grad(last_of_steps, argnums=(0,), backend="python")(X, 4)
    assert value == sd.jit(last_of_steps, backend="python")(X, 4)


def test_lengths_a_loop_computes_keep_the_helpers_code():
    grad = sd.grad(last_of_counted, backend="python")
    np.testing.assert_allclose(grad(X), central(last_of_counted, X), rtol=1e-6, atol=1e-9)
    shapes = grad.source[grad.source.index("def counted_shapes"):].split("\n\n")[0]
    assert "for i in range(x.shape[0])" in shapes, shapes


def test_a_helper_writing_into_its_arguments_still_runs():
    grad = sd.grad(first_of_scaled, backend="python")
    np.testing.assert_allclose(grad(X), central(first_of_scaled, X), rtol=1e-6, atol=1e-9)
    assert "scaled_in_place_shapes" not in grad.source, grad.source


def test_lengths_of_a_parameter_and_through_a_global():
    grad = sd.grad(through_helpers, backend="python")
    np.testing.assert_allclose(grad(X), central(through_helpers, X), rtol=1e-6, atol=1e-9)
    source = grad.source
    shapes = source[source.index("def rows_of_shapes"):].split("\n\n")[0]
    assert "out = " not in shapes and "math.sqrt" in shapes, shapes
    assert "passed_on_shapes(x)" in source, source
