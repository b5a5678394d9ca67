"""The program corpus of ``tests/programs.py``, differentiated by every transform.

* Python backend (no compilation, cheap): ``grad`` against central finite
  differences, ``jvp`` against ``grad . tangent``, ``value_and_grad``,
  ``vjp``, single ``argnums``, ``has_aux``, Jacobians and Hessians.
* Numba backend: one ``grad`` and one ``jvp`` per program (each compiled
  once per session), equal to the Python backend's results.
"""
import functools
import math

import numpy as np
import pytest

import sourcediff as sd

from programs import AUX_CASES, CASES, HESSIAN_CASES, VECTOR_CASES

# Central differences: step relative to the argument's size.
FD_STEP = 1e-6
# |ad - fd| <= FD_RTOL * |fd| + FD_ATOL * max(1, |f|): the absolute part
# follows the rounding error of the difference quotient, ~ eps * |f| / h.
# Over the corpus the observed error is below 1/100 of this tolerance.
FD_RTOL = 1e-6
FD_ATOL = 1e-8
# Two backends running the same generated code: equal to rounding.
BACKEND_RTOL = 1e-12


# Checks a known engine bug keeps from passing, as strict xfails so a fix shows:
# (check, program id) -> reason.  Empty: every check passes.
KNOWN_BUGS = {}


@functools.lru_cache(maxsize=None)
def transform(mode, fn, argnums=0, has_aux=False, backend="python"):
    """One transformed object per (mode, program, options): each builds (and, on
    Numba, compiles) its code once per session."""
    if mode == "hessian":
        return sd.hessian(fn, argnums, backend=backend)
    if mode in ("jacfwd", "jacrev"):
        return getattr(sd, mode)(fn, argnums, backend=backend)
    return getattr(sd, mode)(fn, argnums, has_aux, backend=backend)


def _marks(test, case):
    reason = KNOWN_BUGS.get((test, case.id))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _params(cases, test=None):
    out = []
    for case in cases:
        for k, args in enumerate(case.points):
            out.append(pytest.param(case, args, id=f"{case.id}-{k}", marks=_marks(test, case)))
    return out


def _cases(cases, test=None):
    return [pytest.param(case, id=case.id, marks=_marks(test, case)) for case in cases]


def _call(fn, args, i=None, value=None):
    args = list(args)
    if i is not None:
        args[i] = value
    return fn(*args)


def fd_partial(fn, args, i, step=FD_STEP):
    x = args[i]
    h = step * max(1.0, abs(x))
    return (_call(fn, args, i, x + h) - _call(fn, args, i, x - h)) / (2.0 * h)


def fd_gradient(fn, args, floats):
    return np.array([fd_partial(fn, args, i) for i in floats])


def assert_fd_close(actual, expected, value_scale, what):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    tol = FD_RTOL * np.abs(expected) + FD_ATOL * max(1.0, abs(value_scale))
    err = np.abs(actual - expected)
    assert np.all(np.isfinite(actual)), f"{what}: non-finite derivative {actual}"
    assert np.all(err <= tol), f"{what}: got {actual}, finite differences give {expected} " \
                               f"(|err| {err}, tol {tol})"


def assert_same(actual, expected, what, rtol=BACKEND_RTOL):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-300, err_msg=what)


def tangents_for(case, args, seed):
    rng = np.random.default_rng(seed)
    t = [0.0] * len(args)
    for i in case.floats:
        t[i] = float(rng.uniform(-1.0, 1.0))
    return tuple(t)


def expected_gradient(case, args):
    if case.grad_ref is not None:
        return np.array(case.grad_ref(*args), float)
    return fd_gradient(case.fn, args, case.floats)


# ============================================================ python backend

@pytest.mark.parametrize("case, args", _params(CASES))
def test_grad_matches_finite_differences(case, args):
    g = transform("grad", case.fn, case.floats)(*args)
    assert isinstance(g, tuple) and len(g) == len(case.floats)
    assert_fd_close(g, expected_gradient(case, args), case.fn(*args), f"grad {case.id}{args}")


@pytest.mark.parametrize("case, args", _params(CASES))
def test_grad_single_argnum(case, args):
    full = transform("grad", case.fn, case.floats)(*args)
    for k, i in enumerate(case.floats):
        gi = transform("grad", case.fn, i)(*args)
        assert not isinstance(gi, tuple)
        assert_same(gi, full[k], f"grad argnums={i} of {case.id}")


@pytest.mark.parametrize("case, args", _params(CASES))
def test_jvp_is_grad_dot_tangent(case, args):
    tangents = tangents_for(case, args, seed=len(case.id))
    out, dot = sd.jvp(case.fn, args, tangents, backend="python")
    assert out == pytest.approx(case.fn(*args), rel=1e-13, abs=1e-300)
    g = np.array(transform("grad", case.fn, case.floats)(*args))
    t = np.array([tangents[i] for i in case.floats])
    expected = float(g @ t)
    assert dot == pytest.approx(expected, rel=1e-12, abs=1e-13 * float(np.abs(g) @ np.abs(t)))
    # and, independently of grad, against finite differences along the tangent
    if case.grad_ref is None:
        h = FD_STEP * max(1.0, max(abs(args[i]) for i in case.floats))
        shifted = [tuple(a + sign * h * tangents[i] if i in case.floats else a
                         for i, a in enumerate(args)) for sign in (1.0, -1.0)]
        fd = (case.fn(*shifted[0]) - case.fn(*shifted[1])) / (2.0 * h)
        assert_fd_close(dot, fd, case.fn(*args), f"jvp {case.id}{args}")


@pytest.mark.parametrize("case, args", _params(CASES))
def test_value_and_grad_and_vjp(case, args):
    value, g = transform("value_and_grad", case.fn, case.floats)(*args)
    plain = case.fn(*args)
    assert value == pytest.approx(plain, rel=1e-13, abs=1e-300)
    g_only = transform("grad", case.fn, case.floats)(*args)
    assert_same(g, g_only, f"value_and_grad vs grad of {case.id}")

    out, vjp_fn = sd.vjp(case.fn, *args, backend="python")
    assert out == pytest.approx(plain, rel=1e-13, abs=1e-300)
    cts = vjp_fn(-2.5)
    assert isinstance(cts, tuple) and len(cts) == len(args)
    assert_same([cts[i] for i in case.floats], -2.5 * np.array(g_only), f"vjp of {case.id}")


@pytest.mark.parametrize("case, args", _params(CASES))
def test_jacfwd_jacrev_of_scalar_program(case, args):
    jf = transform("jacfwd", case.fn, case.floats)(*args)
    jr = transform("jacrev", case.fn, case.floats)(*args)
    g = transform("grad", case.fn, case.floats)(*args)
    assert len(jf) == len(jr) == len(case.floats)
    assert_same(jr, g, f"jacrev vs grad of {case.id}")
    assert_same(jf, g, f"jacfwd vs grad of {case.id}", rtol=1e-10)


@pytest.mark.parametrize("case", _cases(CASES))
def test_jit_python_backend_is_the_primal(case):
    jitted = sd.jit(case.fn, backend="python")
    for args in case.points:
        assert jitted(*args) == pytest.approx(case.fn(*args), rel=1e-13, abs=1e-300)


# ============================================================ has_aux

def _first(fn):
    return lambda *a: fn(*a)[0]  # the value, for finite differences


@pytest.mark.parametrize("case, args", _params(AUX_CASES, "grad_has_aux"))
def test_grad_has_aux(case, args):
    value, aux = case.fn(*args)
    g, got_aux = transform("grad", case.fn, case.floats, True)(*args)
    assert got_aux == pytest.approx(aux, rel=1e-13)
    assert_fd_close(g, fd_gradient(_first(case.fn), args, case.floats), value,
                    f"grad has_aux {case.id}")
    g1, aux1 = transform("grad", case.fn, case.floats[1], True)(*args)
    assert aux1 == pytest.approx(aux, rel=1e-13)
    assert_same(g1, g[1], f"grad has_aux argnums=int {case.id}")


@pytest.mark.parametrize("case, args", _params(AUX_CASES))
def test_value_and_grad_has_aux(case, args):
    value, aux = case.fn(*args)
    (v, got_aux), g = transform("value_and_grad", case.fn, case.floats, True)(*args)
    assert v == pytest.approx(value, rel=1e-13)
    assert got_aux == pytest.approx(aux, rel=1e-13)
    assert_fd_close(g, fd_gradient(_first(case.fn), args, case.floats), value,
                    f"value_and_grad has_aux {case.id}")


@pytest.mark.parametrize("case, args", _params(AUX_CASES))
def test_vjp_has_aux(case, args):
    value, aux = case.fn(*args)
    out, vjp_fn, got_aux = sd.vjp(case.fn, *args, has_aux=True, backend="python")
    assert out == pytest.approx(value, rel=1e-13)
    assert got_aux == pytest.approx(aux, rel=1e-13)
    cts = vjp_fn(0.5)
    assert len(cts) == len(args)
    assert_fd_close([cts[i] for i in case.floats],
                    0.5 * fd_gradient(_first(case.fn), args, case.floats), value,
                    f"vjp has_aux {case.id}")


# ============================================================ several outputs

def fd_jacobian(fn, args, floats):
    cols = []
    for i in floats:
        x = args[i]
        h = FD_STEP * max(1.0, abs(x))
        plus = np.array(_call(fn, args, i, x + h))
        minus = np.array(_call(fn, args, i, x - h))
        cols.append((plus - minus) / (2.0 * h))
    return np.array(cols).T  # (outputs, inputs)


@pytest.mark.parametrize("case, args", _params(VECTOR_CASES))
@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
def test_jacobian_of_tuple_output(case, args, mode):
    jac = transform(mode, case.fn, case.floats)(*args)
    outputs = case.fn(*args)
    # JAX's structure: one tuple per output, one entry per argnum
    assert isinstance(jac, tuple) and len(jac) == len(outputs)
    assert all(isinstance(row, tuple) and len(row) == len(case.floats) for row in jac)
    assert_fd_close(np.array(jac), fd_jacobian(case.fn, args, case.floats),
                    max(abs(o) for o in outputs), f"{mode} {case.id}{args}")
    single = transform(mode, case.fn, case.floats[0])(*args)
    assert len(single) == len(outputs) and not isinstance(single[0], tuple)
    assert_same(single, np.array(jac)[:, 0], f"{mode} argnums=int {case.id}")


@pytest.mark.parametrize("case, args", _params(VECTOR_CASES))
def test_jvp_and_vjp_of_tuple_output(case, args):
    tangents = tangents_for(case, args, seed=3)
    out, dots = sd.jvp(case.fn, args, tangents, backend="python")
    assert np.allclose(out, case.fn(*args), rtol=1e-13, atol=0)
    jac = np.array(transform("jacrev", case.fn, case.floats)(*args))
    t = np.array([tangents[i] for i in case.floats])
    assert_same(dots, jac @ t, f"jvp {case.id}", rtol=1e-10)

    out2, vjp_fn = sd.vjp(case.fn, *args, backend="python")
    ct = tuple(float(c) for c in np.linspace(-1.0, 2.0, len(out2)))
    bars = vjp_fn(ct)
    assert_same([bars[i] for i in case.floats], np.array(ct) @ jac, f"vjp {case.id}", rtol=1e-10)


# ============================================================ hessians

@pytest.mark.parametrize("case, args", _params(HESSIAN_CASES, "hessian"))
def test_hessian_symmetric_and_matches_fd_of_grad(case, args):
    hess = transform("hessian", case.fn, case.floats)(*args)
    H = np.array(hess, float)
    n = len(case.floats)
    assert H.shape == (n, n)
    scale = np.max(np.abs(H)) + 1e-300
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12 * scale, err_msg="not symmetric")
    grad = transform("grad", case.fn, case.floats)
    g0 = np.array(grad(*args))
    fd = fd_jacobian(lambda *a: tuple(grad(*a)), args, case.floats)
    assert_fd_close(H, fd, np.max(np.abs(g0)), f"hessian {case.id}{args}")


def _second_derivative_fd(fn, args, i):
    x = args[i]
    h = 1e-4 * max(1.0, abs(x))
    return (_call(fn, args, i, x + h) - 2.0 * fn(*args) + _call(fn, args, i, x - h)) / (h * h)


@pytest.mark.parametrize("case, args", _params([c for c in HESSIAN_CASES if len(c.floats) == 1],
                                               "grad_of_grad"))
def test_grad_of_grad(case, args):
    gg = sd.grad(transform("grad", case.fn), backend="python")(*args)
    H = np.array(transform("hessian", case.fn)(*args), float)
    assert gg == pytest.approx(float(H), rel=1e-10, abs=1e-12)
    fd = _second_derivative_fd(case.fn, args, 0)
    assert gg == pytest.approx(fd, rel=1e-4, abs=1e-5 * max(1.0, abs(case.fn(*args))))


# ============================================================ numba backend

@pytest.fixture(scope="module")
def numba_grads():
    """One compiled ``grad`` per program for the whole module."""
    cache = {}

    def get(case):
        if case.id not in cache:
            cache[case.id] = transform("grad", case.fn, case.floats, backend="numba")
        return cache[case.id]
    return get


@pytest.mark.parametrize("case", _cases(CASES))
def test_numba_grad_equals_python(case, numba_grads):
    compiled = numba_grads(case)
    for args in case.points:
        expected = transform("grad", case.fn, case.floats)(*args)
        got = compiled(*args)
        assert isinstance(got, tuple) and len(got) == len(case.floats)
        assert_same(got, expected, f"numba grad {case.id}{args}")
    assert "def " in compiled.source and "njit" in compiled.source


@pytest.mark.parametrize("case", _cases(CASES))
def test_numba_jvp_equals_python(case):
    for k, args in enumerate(case.points):
        tangents = tangents_for(case, args, seed=k + 11)
        out_n, dot_n = sd.jvp(case.fn, args, tangents, backend="numba")
        out_p, dot_p = sd.jvp(case.fn, args, tangents, backend="python")
        assert_same(out_n, out_p, f"numba jvp primal {case.id}{args}")
        assert_same(out_n, case.fn(*args), f"numba jvp primal vs plain {case.id}{args}")
        assert_same(dot_n, dot_p, f"numba jvp tangent {case.id}{args}")


def test_numba_hessian_equals_python():
    case = next(c for c in HESSIAN_CASES if c.fn.__name__ == "helper_tuple")
    args = case.points[0]
    H_n = np.array(transform("hessian", case.fn, case.floats, backend="numba")(*args), float)
    H_p = np.array(transform("hessian", case.fn, case.floats)(*args), float)
    assert_same(H_n, H_p, "numba hessian")


@pytest.mark.parametrize("case", _cases(AUX_CASES))
def test_numba_value_and_grad_has_aux_equals_python(case):
    args = case.points[0]
    (v_n, aux_n), g_n = transform("value_and_grad", case.fn, case.floats, True, "numba")(*args)
    (v_p, aux_p), g_p = transform("value_and_grad", case.fn, case.floats, True)(*args)
    assert aux_n == aux_p == case.fn(*args)[1]
    assert_same(v_n, v_p, f"numba value {case.id}")
    assert_same(g_n, g_p, f"numba value_and_grad has_aux {case.id}")


@pytest.mark.parametrize("case", _cases(VECTOR_CASES))
def test_numba_jacrev_equals_python(case):
    args = case.points[0]
    j_n = transform("jacrev", case.fn, case.floats, backend="numba")(*args)
    j_p = transform("jacrev", case.fn, case.floats)(*args)
    assert_same(j_n, j_p, f"numba jacrev {case.id}")


def bounded_by_a_value(x, n):
    """The inner loop's bound is a value the backward sweep recomputes, not a loop variable."""
    s = 0.0
    for i in range(n):
        m = i + 1
        for j in range(m):
            s = s * x + 1.0
    return s


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_inner_bound_recomputed_in_the_backward_sweep(backend):
    x, n = 0.7, 4
    expected = (bounded_by_a_value(x + 1e-6, n) - bounded_by_a_value(x - 1e-6, n)) / 2e-6
    assert sd.grad(bounded_by_a_value, backend=backend)(x, n) == pytest.approx(expected, rel=1e-7)


def _branch_values(x, y):
    if x > 0.0:
        t = x / y
        s = math.sin(t) * t
    else:
        s = x * y
    return s * x


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_values_of_a_branch_are_read_again_not_recomputed(backend):
    """The backward sweep of a branch outside loops reads what the forward sweep's same
    branch computed (t = x / y once), where the code is not transformed again."""
    grad = sd.grad(_branch_values, argnums=(0, 1), backend=backend)
    for args in ((0.7, 1.3), (-0.5, 2.0)):
        value = _branch_values(*args)
        got = grad(*args)
        for i in range(2):
            assert_fd_close(got[i], fd_partial(_branch_values, args, i), value, f"argument {i} at {args}")
    assert grad.source.count("x / y") == 1
