"""Element updates ``a[i] += e``: their adjoint is ``e_bar += a_bar[i]``, a_bar[i] left as it
is (``reverse_arrays.increments``), where the general rules zero it and add it back.  Gradients
against central differences where the short form applies, and where it must not."""
import numpy as np
import pytest

import sourcediff as sd


def accumulate(x, c):
    y = np.ones(x.shape[0])
    for step in range(3):
        for i in range(x.shape[0]):
            y[i] += c * x[i] * y[i]
    return np.sum(y * y)


def subtract(x, c):
    y = x.copy()
    for i in range(x.shape[0]):
        y[i] -= c * np.sin(x[i])
    return np.sum(y * y * y)


def same_element_on_the_right(x, c):
    y = x * c
    for i in range(x.shape[0]):
        y[i] = y[i] + y[i] * 2.0
    return np.sum(y * x)


def neighbour_on_the_right(x, c):
    y = x.copy()
    for i in range(1, x.shape[0]):
        y[i] += y[i - 1] * c
    return np.sum(y * y)


def two_dimensional_in_a_branch(x, c):
    a = np.zeros((2, x.shape[0]))
    for i in range(x.shape[0]):
        for j in range(2):
            if x[i] > 0.0:
                a[j, i] += x[i] * c * (j + 1)
            else:
                a[j, i] -= c
    return np.sum(a * a)


def written_in_between(x, c):
    y = x.copy()
    for i in range(x.shape[0]):
        t = y[i]
        y[x.shape[0] - 1 - i] = c * x[i]        # at i = 2 (of 5) the same element
        y[i] = t + c
    return np.sum(y * y)


def read_twice(x, c):
    y = x.copy()
    for i in range(x.shape[0]):
        t = y[i]
        y[i] = t + c
        y[i] = y[i] + t * c
    return np.sum(y * y)


UPDATES = [accumulate, subtract, same_element_on_the_right, neighbour_on_the_right,
           two_dimensional_in_a_branch]
GENERAL = [written_in_between, read_twice]


def central(f, x, c, h=1e-6):
    dx = np.array([(f(x + h * e, c) - f(x - h * e, c)) / (2 * h) for e in np.eye(x.shape[0])])
    return dx, (f(x, c + h) - f(x, c - h)) / (2 * h)


@pytest.mark.parametrize("f", UPDATES + GENERAL, ids=lambda f: f.__name__)
def test_gradient_matches_central_differences(f):
    x, c = np.array([0.3, -0.7, 0.5, 1.1, -0.2]), 0.4
    dx, dc = sd.grad(f, argnums=(0, 1), backend="python")(x, c)
    expected_dx, expected_dc = central(f, x, c)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dc, expected_dc, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", UPDATES, ids=lambda f: f.__name__)
def test_the_updated_element_adjoint_is_neither_zeroed_nor_added_back(f):
    source = sd.grad(f, argnums=(0, 1), backend="python").source
    for target in ("y_bar[i] = 0.0", "a_bar[j, i] = 0.0"):
        assert target not in source, source
    if f is subtract:            # e does not read y: nothing adds into y_bar[i]
        assert "y_bar[i] +=" not in source and "y_bar[i] -=" not in source, source


def test_an_element_written_in_between_keeps_the_general_rules():
    source = sd.grad(written_in_between, argnums=(0, 1), backend="python").source
    assert "y_bar[i] = 0.0" in source, source


def test_compiled_update_matches_python():
    x, c = np.linspace(-1.0, 1.0, 7), 0.3
    compiled = sd.grad(accumulate, argnums=(0, 1))(x, c)
    python = sd.grad(accumulate, argnums=(0, 1), backend="python")(x, c)
    np.testing.assert_allclose(compiled[0], python[0], rtol=1e-12)
    np.testing.assert_allclose(compiled[1], python[1], rtol=1e-12)
