"""The transforms of SPEC.md on small functions with closed-form derivatives."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import sourcediff as sd


def make_scaled_sin(scale):
    def inner(x):
        return scale * math.sin(x) * x
    return inner


def with_aux(x, y):
    z = x * y
    return z * z, z + 1.0


def two_outputs(x, y):
    return x * y, x + math.exp(y)


def cubic(x, y):
    return x ** 3 * y + math.sin(y)


BACKENDS = ["python", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lambda_and_closure(backend):
    assert sd.grad(lambda x: x * x * 3.0, backend=backend)(2.0) == 12.0
    g = sd.grad(make_scaled_sin(2.5), backend=backend)(1.0)
    assert g == pytest.approx(2.5 * (math.cos(1.0) + math.sin(1.0)), rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_local_function_with_default_and_keyword(backend):
    def power(x, y=2.0):
        return x ** y
    g = sd.grad(power, backend=backend)
    assert g(3.0) == pytest.approx(6.0)
    assert g(3.0, y=3.0) == pytest.approx(27.0)
    assert sd.grad(power, argnums=1, backend=backend)(3.0, 2.0) == pytest.approx(9.0 * math.log(3.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_has_aux_and_value_and_grad(backend):
    assert sd.grad(with_aux, has_aux=True, backend=backend)(2.0, 3.0) == (36.0, 7.0)
    (value, aux), grads = sd.value_and_grad(with_aux, argnums=(0, 1), has_aux=True, backend=backend)(2.0, 3.0)
    assert (value, aux, grads) == (36.0, 7.0, (36.0, 24.0))
    value, grad = sd.value_and_grad(cubic, backend=backend)(2.0, 3.0)
    assert value == pytest.approx(24.0 + math.sin(3.0)) and grad == pytest.approx(36.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vjp(backend):
    out, vjp_fn = sd.vjp(two_outputs, 2.0, 3.0, backend=backend)
    assert out == pytest.approx((6.0, 2.0 + math.exp(3.0)))
    assert vjp_fn((1.0, 0.0)) == pytest.approx((3.0, 2.0))
    assert vjp_fn((0.5, 2.0)) == pytest.approx((1.5 + 2.0, 1.0 + 2.0 * math.exp(3.0)))
    out, vjp_fn, aux = sd.vjp(with_aux, 2.0, 3.0, has_aux=True, backend=backend)
    assert (out, aux) == (36.0, 7.0) and vjp_fn(1.0) == (36.0, 24.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jvp(backend):
    out, tangent = sd.jvp(two_outputs, (2.0, 3.0), (1.0, -1.0), backend=backend)
    assert out == pytest.approx((6.0, 2.0 + math.exp(3.0)))
    assert tangent == pytest.approx((3.0 - 2.0, 1.0 - math.exp(3.0)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacobians_and_hessian(backend):
    expected = ((3.0, 2.0), (1.0, math.exp(3.0)))
    np.testing.assert_allclose(sd.jacfwd(two_outputs, argnums=(0, 1), backend=backend)(2.0, 3.0), expected)
    np.testing.assert_allclose(sd.jacrev(two_outputs, argnums=(0, 1), backend=backend)(2.0, 3.0), expected)
    assert sd.jacrev(two_outputs, backend=backend)(2.0, 3.0) == pytest.approx((3.0, 1.0))
    h = sd.hessian(cubic, argnums=(0, 1), backend=backend)(2.0, 3.0)
    np.testing.assert_allclose(h, ((36.0, 12.0), (12.0, -math.sin(3.0))))
    assert sd.hessian(cubic, backend=backend)(2.0, 3.0) == pytest.approx(36.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_transforms_compose(backend):
    f = make_scaled_sin(2.5)
    second = 2.5 * (2 * math.cos(1.0) - math.sin(1.0))
    assert sd.jacfwd(sd.grad(f, backend=backend), backend=backend)(1.0) == pytest.approx(second)
    assert sd.jvp(sd.grad(f, backend=backend), (1.0,), (1.0,), backend=backend)[1] == pytest.approx(second)
    assert sd.grad(sd.grad(f, backend=backend), backend=backend)(1.0) == pytest.approx(second)


def test_jit_runs_the_primal():
    jitted = sd.jit(cubic)
    assert jitted(2.0, 3.0) == cubic(2.0, 3.0)
    assert "@njit(error_model='numpy', cache=True)" in jitted.source and "def cubic(x, y):" in jitted.source


def test_stop_gradient():
    def f(x):
        return x * sd.stop_gradient(x * x)
    assert sd.grad(f, backend="python")(3.0) == 9.0
    assert sd.stop_gradient(2.5) == 2.5


def test_default_backend_from_environment(tmp_path):
    code = ("import sourcediff as sd, math\n"
            "def f(x):\n    return math.sin(x)\n"
            "g = sd.grad(f)\ng(1.0)\nprint('@njit' in g.source)\n")
    script = tmp_path / "script.py"
    script.write_text(code)
    for backend, expected in (("python", "False"), ("numba", "True")):
        env = dict(os.environ, SOURCEDIFF_BACKEND=backend)
        out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_integer_arguments_are_not_differentiated():
    def f(x, n):
        return x ** n
    assert sd.grad(f, backend="python")(2.0, 3) == 12.0
    out, vjp_fn = sd.vjp(f, 2.0, 3, backend="python")
    assert out == 8.0 and vjp_fn(1.0) == (12.0, 0.0)


def test_inactive_array_data():
    def f(x, c):
        s = 0.0
        for i in range(c.shape[0]):
            s = s * x + c[i]
        return s
    c = np.array([1.0, -2.0, 3.0])
    assert sd.grad(f, backend="python")(2.0, c) == pytest.approx(2 * 1.0 * 2.0 - 2.0)
