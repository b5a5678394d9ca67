"""Transforms composed to any order, transforms applied inside differentiated code, and
function values passed to it (issue 5).  Derivatives are checked against closed forms
and central differences, on both backends."""
import math

import numpy as np
import pytest

import sourcediff as sd

import higher_order_programs as hp

BACKENDS = ["python", "numba"]


def central(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def grads(fn, order, backend, **options):
    g = fn
    for _ in range(order):
        g = sd.grad(g, backend=backend, **options)
    return g


# ------------------------------------------------------------ higher order of loop code
@pytest.mark.parametrize("backend", BACKENDS)
def test_third_derivative_of_a_taped_loop_matches_the_closed_form(backend):
    x, n = 1.3, 5
    expected = [n * x ** (n - 1), n * (n - 1) * x ** (n - 2), n * (n - 1) * (n - 2) * x ** (n - 3)]
    got = [grads(hp.power_loop, k, backend)(x, n) for k in (1, 2, 3)]
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reverse_over_reverse_of_a_while_loop(backend):
    second = grads(hp.sine_while, 2, backend)
    third = grads(hp.sine_while, 3, backend)
    x = 0.4
    assert second(x) == pytest.approx(central(grads(hp.sine_while, 1, "python"), x), rel=1e-7)
    assert third(x) == pytest.approx(central(second, x), rel=1e-6)
    # forward over reverse over reverse gives the same third derivative
    assert sd.jvp(second, (x,), (1.0,), backend=backend)[1] == pytest.approx(third(x), rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_of_a_loop_program_is_the_closed_form_and_equals_jacfwd_and_jacrev_of_grad(backend):
    x = np.array([0.3, -1.2, 0.8, 1.1])
    expected = hp.rosenbrock_hessian(x)
    hessian = sd.hessian(hp.rosenbrock, backend=backend)(x)
    assert np.allclose(hessian, expected, rtol=1e-12, atol=1e-9)
    gradient = sd.grad(hp.rosenbrock, backend=backend)
    assert np.allclose(sd.jacfwd(gradient, backend=backend)(x), expected, rtol=1e-12, atol=1e-9)
    assert np.allclose(sd.jacrev(gradient, backend=backend)(x), expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_of_an_array_program_is_symmetric_and_the_derivative_of_grad(backend):
    w, x = np.array([0.5, -0.3, 0.9]), np.array([1.0, 2.0, -0.5])
    hessian = sd.hessian(hp.smoothed_norm, backend=backend)(w, x)
    gradient = sd.grad(hp.smoothed_norm, backend="python")
    fd = np.array([central(lambda t: gradient(w + t * e, x), 0.0) for e in np.eye(3)]).T
    assert np.allclose(hessian, hessian.T, rtol=1e-12, atol=1e-12)
    assert np.allclose(hessian, fd, rtol=1e-6, atol=1e-8)
    # a Hessian-vector product by forward over reverse is one column of it
    v = np.array([1.0, -2.0, 0.5])
    hvp = sd.jvp(sd.grad(hp.smoothed_norm, backend=backend), (w, x), (v, np.zeros(3)), backend=backend)[1]
    assert np.allclose(hvp, hessian @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_vjp_bwd_is_differentiated_for_second_derivatives(backend):
    x = 0.7
    # cube_rule(s) = s ** 3 through its bwd rule; s = sin(x)
    d2 = 6 * math.sin(x) * math.cos(x) ** 2 - 3 * math.sin(x) ** 3
    assert grads(hp.through_cube_rule, 2, backend)(x) == pytest.approx(d2, rel=1e-12)


# ------------------------------------------------------------ transforms in code
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [hp.inner_steps, hp.closure_steps])
def test_grad_inside_an_inner_optimisation_loop(backend, fn):
    x = 0.8
    assert sd.jit(fn, backend=backend)(x) == pytest.approx(hp.inner_steps_by_hand(x), rel=1e-14)
    assert sd.grad(fn, backend=backend)(x) == pytest.approx(central(hp.inner_steps_by_hand, x), rel=1e-8)
    second = sd.grad(sd.grad(fn, backend=backend), backend=backend)(x)
    assert second == pytest.approx(central(sd.grad(hp.inner_steps, backend="python"), x), rel=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, by_hand", [
    (hp.nested_transforms, hp.nested_transforms_by_hand),                  # value_and_grad, jvp, vjp
    (hp.calls_a_transformed_global, hp.calls_a_transformed_global_by_hand),  # grad(grad), hessian
])
def test_transforms_inside_code(backend, fn, by_hand):
    x = 0.6
    assert sd.jit(fn, backend=backend)(x) == pytest.approx(by_hand(x), rel=1e-13)
    assert sd.grad(fn, backend=backend)(x) == pytest.approx(central(by_hand, x), rel=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_through_rows_of_an_array_argument(backend):
    """Forward mode over reverse code carries the adjoint added into views (``A_bar[0]``)."""
    A = np.array([[0.3, -0.5, 0.8], [1.2, 0.4, -0.7]])
    H = sd.hessian(hp.rows_product, backend=backend)(A)
    t = np.tanh(A[0])
    expected = np.zeros((2, 3, 2, 3))
    for k in range(3):
        expected[0, k, 0, k] = -2 * t[k] * (1 - t[k] ** 2) * A[1, k]
        expected[0, k, 1, k] = expected[1, k, 0, k] = 1 - t[k] ** 2
    assert np.allclose(H, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_jacobians_inside_code_and_their_gradient(backend):
    A, s = np.array([[0.3, -0.5, 0.8], [1.2, 0.4, -0.7]]), 0.9
    jitted = sd.jit(hp.jacobians_in_code, backend=backend)
    assert jitted(A, s) == pytest.approx(hp.jacobians_in_code_by_hand(A, s), rel=1e-13)
    # compiled only, jacrev's sweeps call a VJP that takes each fresh seed as v's adjoint,
    # adds A's cotangent into the Jacobian's row and returns s's
    assert "_b1, = warp_vjp(A, s, _seed, _j0_0[_k0])" in jitted.source
    # of warp's result they need only its length, computed without the rest of warp
    assert "_o0_0 = warp_shapes(A, s)" in jitted.source
    vjp = jitted.source[jitted.source.index("def warp_vjp"):]
    assert "v_bar = v_out_bar" in vjp.split("\n\n\n")[0]
    g = sd.grad(hp.jacobians_in_code, argnums=1, backend=backend)(A, s)
    assert g == pytest.approx(central(lambda t: hp.jacobians_in_code_by_hand(A, t), s), rel=1e-8)


# ------------------------------------------------------------ function values
@pytest.mark.parametrize("backend", BACKENDS)
def test_function_values_are_specialised_and_closures_differentiated(backend):
    x, c = 0.45, 1.3
    assert sd.jit(hp.uses_function_values, backend=backend)(x, c) == \
        pytest.approx(hp.uses_function_values_by_hand(x, c), rel=1e-13)
    gx, gc = sd.grad(hp.uses_function_values, argnums=(0, 1), backend=backend)(x, c)
    assert gx == pytest.approx(central(lambda t: hp.uses_function_values_by_hand(t, c), x), rel=1e-8)
    assert gc == pytest.approx(central(lambda t: hp.uses_function_values_by_hand(x, t), c), rel=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_closed_over_array_gets_its_gradient(backend):
    w, v = np.array([0.5, 1.5, -1.0]), np.array([1.0, -2.0])
    gw, gv = sd.grad(hp.closes_over_an_array, argnums=(0, 1), backend=backend)(w, v)
    assert np.allclose(gw, np.full(3, np.sum(v * v)), rtol=1e-13)
    assert np.allclose(gv, 2 * np.sum(w) * v, rtol=1e-13)


def test_the_generated_source_names_the_nested_transform():
    g = sd.grad(hp.inner_steps, backend="python")
    g(0.8)
    assert "def inner_objective_grad(" in g.source and "inner_objective_grad_vjp" in g.source


# ------------------------------------------------------------ errors
@pytest.mark.parametrize("fn, message", [
    (hp.lambda_with_default, "lambdas in differentiated code take plain positional parameters"),
    (hp.function_as_a_number, "`f` is a function; call it, or pass it to a function"),
    (hp.transform_with_backend, "leave out backend= and max_trips="),
])
def test_errors_name_the_line(fn, message):
    with pytest.raises(sd.TransformError) as e:
        sd.grad(fn, backend="python")(1.0)
    assert message in str(e.value) and "higher_order_programs.py" in str(e.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_discarding_values_of_two_kinds_into_underscore(backend):
    x, v = 0.5, np.array([1.0, 2.0, -4.0])
    # sum(d/dv sum(x * v)) * x + d/dx sum(x * v) = 3 * x ** 2 + sum(v): its derivative is 6 * x
    assert sd.grad(hp.discards_of_two_kinds, backend=backend)(x, v) == pytest.approx(6 * x, rel=1e-13)
