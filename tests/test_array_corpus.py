"""The array programs of ``tests/array_programs.py``, differentiated on both backends.

* Python backend (no compilation, cheap), every program: ``grad`` against
  central finite differences (every element of every differentiated array),
  gradients with their argument's shape and dtype, single ``argnums``,
  ``jvp`` against ``grad . tangent`` and against finite differences along the
  tangent, ``value_and_grad``, ``vjp`` and ``jit``.
* Numba backend, a subset chosen to cover each kind of program (logistic
  regression, heat equation, matrix-vector, GMM, while-loop solver, views,
  LSTM, int/bool data) at bounded compile time: ``grad`` against finite
  differences and equal to the Python backend's; ``jvp`` for fewer.
  ``SD_ARRAY_CORPUS_NUMBA=all`` runs every program on Numba (minutes).
* float32 arguments, non-contiguous and Fortran-ordered arguments, 0-d
  arrays, int and bool arrays as inactive data.
* ``jacfwd``/``jacrev``/``hessian`` with array inputs and outputs, against
  finite differences, shaped as JAX shapes them (output shape + input shape).

Known engine bugs are strict xfails (``KNOWN_BUGS``): each reason names a
repro of the report that came with these tests.
"""
import functools
import inspect
import os
import zlib

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.backends import numba_runtime as _rt

import array_programs as P
from array_programs import CASES, JACOBIAN_CASES

FD_STEP = 1e-6
# |ad - fd| <= FD_RTOL * |fd| + FD_ATOL * max(1, |f|), elementwise (as in test_corpus.py)
FD_RTOL = 1e-6
FD_ATOL = 1e-8
# Two backends running the same generated code.  Not 1e-12 as for scalar programs:
# Numba's np.sum, np.dot and @ add in another order than NumPy's.
BACKEND_RTOL = 1e-10

# Engine bugs as strict xfails, (check, program id) -> reason; none today.  Checks: grad,
# single (single argnums), jvp, value_and_grad, jit (sd.jit and sd.vjp), numba_grad,
# numba_jvp, jacobian, jvp_vjp, hessian.
KNOWN_BUGS = {}

# Programs not to run on Numba: none today.  A program whose compiled code writes past the
# end of its tape (as several did before tape capacity checks) corrupts the heap and aborts
# the test process there; list such a program here while its Python-backend xfail stands.
NUMBA_UNSAFE = set()

# The Numba subset: one or more programs of each kind, at a few seconds of compilation each.
NUMBA_GRAD = ("logreg_loop", "logreg_custom_vjp", "heat_copy", "heat_swap", "matvec_loop",
              "gmm_loops_square", "newton_history", "prefix_sums", "recurrence_into_array",
              "lstm_loops_hoisted", "masked_gather", "column_views_loop", "midpoint_steps",
              "helper_slopes", "pivoted_logdet")
NUMBA_JVP = ("logreg_loop", "heat_swap", "matvec_loop", "newton_history", "recurrence_into_array",
             "masked_gather")
if os.environ.get("SD_ARRAY_CORPUS_NUMBA") == "all":
    NUMBA_GRAD = tuple(c.id for c in CASES)
    NUMBA_JVP = tuple(c.id for c in CASES if c.id != "logreg_custom_vjp")


@functools.lru_cache(maxsize=None)
def transform(mode, fn, argnums=0, backend="python"):
    """One transformed object per (mode, program, argnums, backend), shared by every test:
    each builds (and, on Numba, compiles) its code once per session."""
    return getattr(sd, mode)(fn, argnums, backend=backend)


def _marks(check, key):
    reason = KNOWN_BUGS.get((check, key))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _params(cases, check):
    return [pytest.param(case, k, id=f"{case.id}-{k}", marks=_marks(check, case.id))
            for case in cases for k in range(len(case.points))]


def _cases(cases, check):
    return [pytest.param(case, id=case.id, marks=_marks(check, case.id)) for case in cases]


def _by_id(ids):
    return [c for c in CASES if c.id in ids and c.id not in NUMBA_UNSAFE]


# ============================================================ references

def _with(args, i, value):
    return args[:i] + (value,) + args[i + 1:]


def fd_derivative(fn, args, i, step=FD_STEP):
    """Central differences of scalar- or array-valued ``fn`` with respect to argument ``i``:
    shape out.shape + args[i].shape (a float argument adds no axis)."""
    def diff(plus, minus, h):
        return (np.asarray(fn(*_with(args, i, plus)), float)
                - np.asarray(fn(*_with(args, i, minus)), float)) / (2.0 * h)
    x = args[i]
    if not isinstance(x, np.ndarray):
        h = step * max(1.0, abs(x))
        return diff(x + h, x - h, h)
    columns = []
    for index in np.ndindex(x.shape):
        h = step * max(1.0, abs(float(x[index])))
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        columns.append(diff(plus, minus, h))
    columns = np.array(columns)                   # (x.size,) + out.shape
    return np.moveaxis(columns, 0, -1).reshape(columns.shape[1:] + x.shape)


def assert_fd_close(actual, expected, value_scale, what):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    tol = FD_RTOL * np.abs(expected) + FD_ATOL * max(1.0, float(np.max(np.abs(value_scale))))
    err = np.abs(actual - expected)
    assert np.all(np.isfinite(actual)), f"{what}: non-finite derivative {actual}"
    worst = np.unravel_index(np.argmax(err - tol), err.shape) if err.ndim else ()
    assert np.all(err <= tol), f"{what}: at {worst} got {actual[worst]}, finite differences give " \
                               f"{expected[worst]} (|err| {err[worst]:.3g}, tol {tol[worst]:.3g})\n" \
                               f"got:\n{actual}\nexpected:\n{expected}"


def assert_same(actual, expected, what, rtol=BACKEND_RTOL):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale + 1e-300, err_msg=what)


def assert_like_argument(g, arg, what):
    """A gradient has its argument's type, shape and dtype (a float's is a float)."""
    if isinstance(arg, np.ndarray):
        assert isinstance(g, np.ndarray), f"{what}: gradient is {type(g).__name__}, not an array"
        assert g.shape == arg.shape, f"{what}: gradient shape {g.shape} != argument's {arg.shape}"
        assert g.dtype == arg.dtype, f"{what}: gradient dtype {g.dtype} != argument's {arg.dtype}"
    else:
        assert isinstance(g, (float, np.floating)) and np.ndim(g) == 0, \
            f"{what}: gradient of a float is {type(g).__name__} {np.shape(g)}"


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def assert_unchanged(args, saved, what):
    """Differentiating a program leaves its argument arrays as they were."""
    for i, (a, b) in enumerate(zip(args, saved)):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b), f"{what} wrote into argument {i}"


def tangents_for(case, args, salt=0):
    """Random tangents shaped like the differentiated arguments, zeros elsewhere."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + salt)
    out = []
    for i, a in enumerate(args):
        if i not in case.argnums:
            out.append(np.zeros(a.shape) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else 0.0)
        elif isinstance(a, np.ndarray):
            out.append(rng.uniform(-1.0, 1.0, a.shape).astype(a.dtype))
        else:
            out.append(float(rng.uniform(-1.0, 1.0)))
    return tuple(out)


def _dot(gs, ts):
    return sum(float(np.sum(np.asarray(g, float) * np.asarray(t, float))) for g, t in zip(gs, ts))


def _abs_dot(gs, ts):
    return sum(float(np.sum(np.abs(np.asarray(g, float) * np.asarray(t, float)))) for g, t in zip(gs, ts))


@functools.lru_cache(maxsize=None)
def _fd_gradient(case, k):
    """Finite-difference gradients of ``case`` at its point ``k``, computed once."""
    args = case.points[k]
    return [fd_derivative(case.fn, args, i) for i in case.argnums]


# ============================================================ python backend

@pytest.mark.parametrize("case, k", _params(CASES, "grad"))
def test_grad_matches_finite_differences(case, k):
    args = case.points[k]
    saved = _copies(args)
    g = transform("grad", case.fn, case.argnums)(*args)
    assert_unchanged(args, saved, f"grad {case.id}")
    assert isinstance(g, tuple) and len(g) == len(case.argnums)
    value = case.fn(*args)
    for gi, i, fd in zip(g, case.argnums, _fd_gradient(case, k)):
        what = f"grad {case.id} wrt argument {i}"
        assert_like_argument(gi, args[i], what)
        assert_fd_close(gi, fd, value, what)


@pytest.mark.parametrize("case, k", _params([c for c in CASES if len(c.argnums) > 1], "single"))
def test_grad_single_argnum(case, k):
    """An int argnums (the first differentiated argument): the gradient alone, not a tuple."""
    args = case.points[k]
    i = case.argnums[0]
    gi = transform("grad", case.fn, i)(*args)
    assert not isinstance(gi, tuple)
    assert_like_argument(gi, args[i], f"grad argnums={i} of {case.id}")
    full = transform("grad", case.fn, case.argnums)(*args)
    assert_same(gi, full[0], f"grad argnums={i} of {case.id}", rtol=1e-13)


# custom_vjp rules have no forward mode (as in JAX): no jvp of these
REVERSE_ONLY = ("logreg_custom_vjp",)


@pytest.mark.parametrize("case, k", _params([c for c in CASES if c.id not in REVERSE_ONLY], "jvp"))
def test_jvp_is_grad_dot_tangent(case, k):
    args = case.points[k]
    tangents = tangents_for(case, args)
    saved = _copies(args)
    out, dot = sd.jvp(case.fn, args, tangents, backend="python")
    assert_unchanged(args, saved, f"jvp {case.id}")
    value = case.fn(*args)
    assert out == pytest.approx(value, rel=1e-12, abs=1e-300)
    g = transform("grad", case.fn, case.argnums)(*args)
    ts = [tangents[i] for i in case.argnums]
    assert dot == pytest.approx(_dot(g, ts), rel=1e-10, abs=1e-12 * _abs_dot(g, ts))
    # independently of grad: finite differences along the tangent
    h = FD_STEP * max(1.0, max(float(np.max(np.abs(args[i]))) for i in case.argnums))
    shifted = [tuple(a + sign * h * t if i in case.argnums else a
                     for i, (a, t) in enumerate(zip(args, tangents))) for sign in (1.0, -1.0)]
    fd = (case.fn(*shifted[0]) - case.fn(*shifted[1])) / (2.0 * h)
    assert_fd_close(dot, fd, value, f"jvp {case.id}")


@pytest.mark.parametrize("case", _cases([c for c in CASES if c.id in REVERSE_ONLY], "jvp"))
def test_jvp_of_custom_vjp_program_is_refused(case):
    with pytest.raises(sd.TransformError, match="custom_vjp"):
        sd.jvp(case.fn, case.points[0], tangents_for(case, case.points[0]), backend="python")


VALUE_AND_GRAD = ("logreg_numpy", "heat_swap", "gmm_loops_square", "newton_history", "views_write",
                  "lstm_numpy", "masked_gather", "reductions_axis")


@pytest.mark.parametrize("case, k", _params([c for c in CASES if c.id in VALUE_AND_GRAD],
                                            "value_and_grad"))
def test_value_and_grad(case, k):
    args = case.points[k]
    value, g = transform("value_and_grad", case.fn, case.argnums)(*args)
    assert value == pytest.approx(case.fn(*args), rel=1e-12, abs=1e-300)
    g_only = transform("grad", case.fn, case.argnums)(*args)
    for a, b, i in zip(g, g_only, case.argnums):
        assert_like_argument(a, args[i], f"value_and_grad of {case.id}, argument {i}")
        assert_same(a, b, f"value_and_grad vs grad of {case.id}, argument {i}", rtol=1e-13)


@pytest.mark.parametrize("case, k", _params(CASES, "jit"))
def test_jit_and_vjp(case, k):
    args = case.points[k]
    value = case.fn(*args)
    assert sd.jit(case.fn, backend="python")(*args) == pytest.approx(value, rel=1e-12, abs=1e-300)
    out, vjp_fn = sd.vjp(case.fn, *args, backend="python")
    assert out == pytest.approx(value, rel=1e-12, abs=1e-300)
    cts = vjp_fn(-2.5)
    assert isinstance(cts, tuple) and len(cts) == len(args)
    g = transform("grad", case.fn, case.argnums)(*args)
    for m, i in enumerate(case.argnums):
        assert_same(cts[i], -2.5 * np.asarray(g[m]), f"vjp of {case.id}, argument {i}")
    for i, a in enumerate(args):      # ints, bools and int arrays get no cotangent
        if not (isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")):
            assert np.all(np.asarray(cts[i]) == 0), f"vjp of {case.id}: cotangent of argument {i}"


# ============================================================ numba backend

@pytest.mark.parametrize("case", _cases(_by_id(NUMBA_GRAD), "numba_grad"))
def test_numba_grad(case):
    compiled = transform("grad", case.fn, case.argnums, "numba")
    for k, args in enumerate(case.points):
        saved = _copies(args)
        got = compiled(*args)
        assert_unchanged(args, saved, f"numba grad {case.id}")
        assert isinstance(got, tuple) and len(got) == len(case.argnums)
        value = case.fn(*args)
        expected = transform("grad", case.fn, case.argnums)(*args)
        for gi, pi, i, fd in zip(got, expected, case.argnums, _fd_gradient(case, k)):
            what = f"numba grad {case.id} wrt argument {i}"
            assert_like_argument(gi, args[i], what)
            assert_fd_close(gi, fd, value, what)
            assert_same(gi, pi, what + " vs python")
    assert "njit" in compiled.source


@pytest.mark.parametrize("case", _cases(_by_id(NUMBA_JVP), "numba_jvp"))
def test_numba_jvp(case):
    for k, args in enumerate(case.points):
        tangents = tangents_for(case, args, salt=k + 11)
        out_n, dot_n = sd.jvp(case.fn, args, tangents, backend="numba")
        out_p, dot_p = sd.jvp(case.fn, args, tangents, backend="python")
        assert_same(out_n, out_p, f"numba jvp primal {case.id}")
        assert_same(out_n, case.fn(*args), f"numba jvp primal vs plain {case.id}")
        assert_same(dot_n, dot_p, f"numba jvp tangent {case.id}")


# ============================================================ dtypes and layouts

F32_CASES = [
    (P.logreg_numpy, (P.W_LR, 0.3, P.X_LR, P.Y_LR), (0, 2)),
    (P.heat_slices, (P.U0, 0.2, 6), (0,)),
    (P.matvec_loop, (P.A23, P.V3), (0, 1)),
    (P.lstm_numpy, P.LSTM_ARGS, (0, 1, 2, 3, 4, 5)),
]


def _f32(args):
    return tuple(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                 for a in args)


def _f64(args):
    return tuple(a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                 for a in args)


@pytest.mark.parametrize("fn, args, argnums, backend", [
    pytest.param(fn, args, argnums, backend, id=f"{fn.__name__}-{backend}")
    for fn, args, argnums in F32_CASES
    for backend in (("python", "numba") if fn is P.matvec_loop else ("python",))])
def test_float32_arguments(fn, args, argnums, backend):
    """float32 arrays in, float32 gradients out, equal to the float64 gradient at the same
    (float32-rounded) point to float32 rounding."""
    a32 = _f32(args)
    g32 = transform("grad", fn, argnums, backend)(*a32)
    g64 = transform("grad", fn, argnums)(*_f64(a32))
    for gi, ri, i in zip(g32, g64, argnums):
        what = f"float32 grad of {fn.__name__} wrt {i}"
        assert_like_argument(gi, a32[i], what)
        np.testing.assert_allclose(gi, ri, rtol=1e-4, atol=1e-5 * float(np.max(np.abs(ri))),
                                   err_msg=what)
        assert not np.array_equal(gi, np.zeros_like(gi))


def test_float32_jvp_and_mixed_precision():
    a32 = _f32((P.A23, P.V3))
    tangents = (np.full((2, 3), 0.5, np.float32), np.ones(3, np.float32))
    out, dot = sd.jvp(P.matvec_loop, a32, tangents, backend="python")
    g = transform("grad", P.matvec_loop, (0, 1))(*a32)
    assert dot == pytest.approx(_dot(g, tangents), rel=1e-5)
    assert out == pytest.approx(P.matvec_loop(*a32), rel=1e-6)
    # a float32 array with a float64 array: each gradient keeps its argument's dtype
    g = transform("grad", P.matvec_loop, (0, 1))(a32[0], P.V3)
    ref = transform("grad", P.matvec_loop, (0, 1))(a32[0].astype(np.float64), P.V3)
    assert g[0].dtype == np.float32 and g[1].dtype == np.float64
    np.testing.assert_allclose(g[0], ref[0], rtol=1e-6)
    np.testing.assert_allclose(g[1], ref[1], rtol=1e-12)


LAYOUTS = {
    "transposed": lambda A: A.T,
    "fortran": np.asfortranarray,
    "strided": lambda A: A[:, ::2],
    "reversed": lambda A: A[::-1],
}


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_non_contiguous_arguments(layout, backend):
    """Views and Fortran-ordered arrays as arguments: the gradient of a C-contiguous copy."""
    base = np.arange(1.0, 13.0).reshape(4, 3) * 0.1 - 0.4
    A = LAYOUTS[layout](base)
    x = np.linspace(-0.5, 0.7, A.shape[1])
    grad = transform("grad", P.matvec_loop, (0, 1), backend)
    g = grad(A, x)
    ref = transform("grad", P.matvec_loop, (0, 1))(np.ascontiguousarray(A), x)
    assert g[0].shape == A.shape
    assert_same(g[0], ref[0], f"{layout} A")
    assert_same(g[1], ref[1], f"{layout} x")
    assert_fd_close(g[0], fd_derivative(P.matvec_loop, (A, x), 0), P.matvec_loop(A, x), layout)


def test_a_new_grid_each_step_needs_no_element_tape():
    """``new = u.copy(); new[i] = ...; u = new``: each write goes into an array made that
    step, which nothing read before, so the reverse sweep saves no element (its tape is the
    grids the primal makes anyway); a write into a grid carried across steps is saved."""
    u0 = np.sin(np.linspace(0.0, 3.0, 9))
    copied = transform("grad", P.heat_copy, (0, 1))
    copied(u0, 0.1, 3)
    assert "_ftape" not in copied.source
    swapped = transform("grad", P.heat_swap, (0, 1))
    swapped(u0, 0.1, 3)
    assert "_ftape_seg[i - 1] = v[i]" in swapped.source


def test_grids_whose_values_no_adjoint_reads_are_not_kept():
    """The stencil is linear in the grid: with respect to u0 alone (c held fixed) the
    backward sweep reads no grid, so only the adjoints of each step's grid are kept, and
    loop bounds take the grid's length from its adjoint; with respect to c too, it reads
    them.  Gradients against each other and against finite differences."""
    u0 = np.sin(np.linspace(0.0, 3.0, 9))
    alone = transform("grad", P.heat_copy, 0)
    both = transform("grad", P.heat_copy, (0, 1))
    g = alone(u0, 0.1, 3)
    assert_same(g, both(u0, 0.1, 3)[0], "u0")
    assert "_u_refs" not in alone.source and "_u_bar_refs" in alone.source
    assert "_u_refs" in both.source
    shrinking = transform("grad", P.pairwise_means, 0)
    g = shrinking(u0, 4)
    assert "_u_refs" not in shrinking.source and "u_bar.shape[0]" in shrinking.source
    assert_fd_close(g, fd_derivative(P.pairwise_means, (u0, 4), 0), P.pairwise_means(u0, 4), "u0")


def test_a_helpers_vjp_adds_into_its_callers_adjoints():
    """Called from reverse code, ``_weighted``'s VJP gets the caller's adjoint arrays (``v_bar``
    twice, views of ``m_bar``) and adds into them: it allocates none, returns no array, and
    the gradient equals finite differences."""
    grad = transform("grad", P.helper_shares_adjoints, (0, 1))
    m, v = P.A23, P.V3
    g = grad(m, v)
    vjp = grad.source[grad.source.index("def _weighted_vjp"):]
    assert "def _weighted_vjp(a, b, _t6_out_bar, a_bar, b_bar):" in vjp
    assert "zeros_like(a)" not in vjp and "return ()" in vjp
    assert "_weighted_vjp(v, v, " in grad.source
    value = P.helper_shares_adjoints(m, v)
    assert_fd_close(g[0], fd_derivative(P.helper_shares_adjoints, (m, v), 0), value, "m")
    assert_fd_close(g[1], fd_derivative(P.helper_shares_adjoints, (m, v), 1), value, "v")


def test_an_adjoint_made_again_is_the_old_one_refilled_where_the_shape_repeats():
    grad = transform("grad", P.changing_lengths, (0, 1), "numba")
    g = grad(P.V3, 0.7, 6)
    assert "w_bar = _rt.zeroed(w_bar, _rt.pop_ref(_w_shapes))" in grad.source
    value = P.changing_lengths(P.V3, 0.7, 6)
    assert_fd_close(g[0], fd_derivative(P.changing_lengths, (P.V3, 0.7, 6), 0), value, "y0")
    assert_fd_close(g[1], fd_derivative(P.changing_lengths, (P.V3, 0.7, 6), 1), value, "a")
    old = np.ones((2, 3))
    assert _rt.zeroed(old, (2, 3)) is old and not old.any()
    assert _rt.zeroed(old, (3, 3)).shape == (3, 3)


def test_adjoints_of_new_arrays_each_step_are_allocated_in_the_backward_sweep():
    """The forward sweep keeps the shapes of k1, k2 and y, not an adjoint array per step;
    code another transform reads keeps the adjoints (its lists of shapes are no subset
    code), and both give the same gradient."""
    grad = transform("grad", P.midpoint_steps, (0, 1))
    g = grad(P.V3, 0.7, 4)
    assert "_k1_shapes = _rt.push_ref(_k1_shapes, k1.shape)" in grad.source
    assert "k1_bar = _rt.zeroed(k1_bar, _rt.pop_ref(_k1_shapes))" in grad.source
    assert "_k1_bar_refs" not in grad.source and "k1_bar = np.zeros_like(k1)" in grad.source
    readable = grad.sd_python_function(grad.kinds((P.V3, 0.7, 4)))
    assert "_k1_bar_refs" in inspect.getsource(readable.__globals__["midpoint_steps_vjp"])
    for got, expected in zip(readable(P.V3, 0.7, 4), g):
        assert_same(got, expected, "both builds")


def test_a_helpers_vjp_takes_over_the_adjoints_its_caller_allocates_afresh():
    """k1 = _slope(y, a): the caller allocates k1's adjoint again right after the call, so
    the helper's VJP uses the array it is passed as dy's adjoint (no zeros, no copy)."""
    grad = transform("grad", P.helper_slopes, (0, 1))
    g = grad(P.V3, 0.7, 4)
    vjp = grad.source[grad.source.index("def _slope_vjp"):]
    assert "dy_bar = dy_out_bar" in vjp and "zeros_like" not in vjp.split("\n\n\n")[0]
    value = P.helper_slopes(P.V3, 0.7, 4)
    for k, what in ((0, "y0"), (1, "a")):
        assert_fd_close(g[k], fd_derivative(P.helper_slopes, (P.V3, 0.7, 4), k), value, what)


def test_helpers_writing_into_index_arrays_run_in_reverse_mode():
    """_pivot writes into a permutation and a mask: the forward sweep saves both before the
    call, the backward sweep writes them back around _pivot's VJP; no forward sweeps."""
    A, v = P.M33[::-1].copy(), np.array([1.0, 0.5, 2.0])
    grad = transform("grad", P.pivoted_logdet, (0, 1))
    g = grad(A, v)
    assert "jacobians.forward" not in grad.source
    assert "_rt.push_view(_vtape_int64, _vp_int64, perm)" in grad.source
    assert "_rt.restore_view(_vtape_bool, " in grad.source
    value = P.pivoted_logdet(A, v)
    for k, what in ((0, "A"), (1, "v")):
        assert_fd_close(g[k], fd_derivative(P.pivoted_logdet, (A, v), k), value, what)


def rebound_in_loop(a, c):
    u = a
    for _ in range(3):
        w = u * c
        u = np.sin(w) + u
    return np.sum(u * u)


@pytest.mark.parametrize("layout", ["strided", "fortran"])
def test_arguments_of_any_layout(layout):
    """The lists saving ``u`` and ``w`` are typed for arrays of any layout: a strided or
    Fortran-ordered argument, and arrays computed from it, are not C-contiguous."""
    base = np.linspace(0.1, 0.9, 12)
    a = base[::2] if layout == "strided" else base.reshape(3, 4).T
    g = transform("grad", rebound_in_loop, (0, 1), "numba")(a, 0.7)
    assert g[0].shape == a.shape
    assert np.allclose(g[0], fd_derivative(rebound_in_loop, (a, 0.7), 0), rtol=1e-6, atol=1e-8)
    assert g[1] == pytest.approx(fd_derivative(rebound_in_loop, (a, 0.7), 1), rel=1e-6)


def zero_d(a, c):
    return a[()] * c + np.sum(np.sin(a) * a)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_zero_d_array_argument(backend):
    a = np.array(0.7)
    g = transform("grad", zero_d, (0, 1), backend)(a, 1.5)
    fd = fd_derivative(zero_d, (a, 1.5), 0)
    assert np.shape(g[0]) == ()
    assert float(g[0]) == pytest.approx(float(fd), rel=1e-6)
    assert g[1] == pytest.approx(0.7, rel=1e-14)


# NumPy's elementwise operations on 0-d arrays give numbers, and sourcediff types them so: each
# program with (f, df/da, d2f/da2) in closed form at the 0-d `a` and the float `c`.
def zero_d_elementwise(a, c):
    return np.sin(a) * a + np.sum(a * a) * c


def zero_d_number_updated(a, c):
    b = a * c
    b += 1.0
    return b * b


def zero_d_array_updated(a, c):
    b = a.copy()
    b += np.exp(a)              # in place into the 0-d array b
    z = np.zeros(())
    z[()] = b[()] * c
    return np.mean(z * a) + np.prod(np.where(a > 0.0, a, 0.0) * c) + np.max(a * c)   # of numbers


ZERO_D = {
    zero_d_elementwise: lambda a, c: (np.sin(a) * a + a * a * c, a * np.cos(a) + np.sin(a) + 2 * a * c,
                                      2 * np.cos(a) - a * np.sin(a) + 2 * c),
    zero_d_number_updated: lambda a, c: ((a * c + 1) ** 2, 2 * (a * c + 1) * c, 2 * c * c),
    zero_d_array_updated: lambda a, c: ((a + np.exp(a)) * c * a + 2 * a * c, c * (2 * a + np.exp(a) * (1 + a) + 2),
                                        c * (2 + np.exp(a) * (2 + a))),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("fn", list(ZERO_D), ids=lambda fn: fn.__name__)
def test_zero_d_array_derivatives(fn, backend, dtype):
    """grad, jvp, vjp, jacfwd, jacrev, hessian and jit of a function of a 0-d array, against
    the closed forms; derivatives in the argument come back 0-d, in its dtype."""
    a, c = np.array(0.7, dtype), 1.5
    value, d1, d2 = ZERO_D[fn](0.7, c)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    g = transform("grad", fn, 0, backend)(a, c)
    assert_like_argument(g, a, "grad")
    assert float(g) == pytest.approx(d1, rel=rtol)
    out, dot = sd.jvp(fn, (a, c), (np.array(0.3, dtype), 0.0), backend=backend)
    assert float(out) == pytest.approx(value, rel=rtol) and float(dot) == pytest.approx(0.3 * d1, rel=rtol)
    out, vjp_fn = sd.vjp(fn, a, c, backend=backend)
    bar_a, _ = vjp_fn(2.0)
    assert_like_argument(bar_a, a, "vjp")
    assert float(bar_a) == pytest.approx(2.0 * d1, rel=rtol)
    for mode in ("jacfwd", "jacrev"):
        J = transform(mode, fn, 0, backend)(a, c)
        assert np.shape(J) == () and float(J) == pytest.approx(d1, rel=rtol), mode
    H = transform("hessian", fn, 0, backend)(a, c)
    assert_like_argument(H, a, "hessian")
    assert float(H) == pytest.approx(d2, rel=10 * rtol)
    assert float(sd.jit(fn, backend=backend)(a, c)) == pytest.approx(value, rel=rtol)


def zero_d_with_vector(a, x):
    return np.sum(np.sin(a * x)) * a


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_zero_d_array_with_a_vector(backend):
    """A 0-d array broadcast against a vector: its adjoint sums the vector's back, at any order."""
    a, x = np.array(0.7), np.linspace(0.1, 0.9, 4)
    g = transform("grad", zero_d_with_vector, (0, 1), backend)(a, x)
    assert_like_argument(g[0], a, "grad")
    assert float(g[0]) == pytest.approx(np.sum(np.sin(0.7 * x) + 0.7 * x * np.cos(0.7 * x)), rel=1e-12)
    np.testing.assert_allclose(g[1], 0.7 * 0.7 * np.cos(0.7 * x), rtol=1e-12)
    H = transform("hessian", zero_d_with_vector, 0, backend)(a, x)
    assert np.shape(H) == ()
    assert float(H) == pytest.approx(np.sum(2 * x * np.cos(0.7 * x) - 0.7 * x * x * np.sin(0.7 * x)), rel=1e-12)


def zero_d_rebound(a, c):
    u = a
    for _ in range(2):
        u = np.sin(u) * c
    return u


def zero_d_size(a):
    b = a * 2.0
    return b * b.size


@pytest.mark.parametrize("fn, message", [
    (zero_d_rebound, r"`u` holds values of different kinds \(float64\[\(\)\] and float\).*"
                     r"operations on 0-d arrays give numbers \(`a\[\(\)\]` is the number in `a`\)"),
    (zero_d_size, r"`b.size`: `b` is a number \(float\), not an array"),
], ids=["rebound", "size"])
def test_zero_d_array_results_are_numbers(fn, message):
    """Code that uses the number an operation on a 0-d array gives as an array is refused, at
    its line, saying why."""
    with pytest.raises(sd.TransformError, match=message) as info:
        sd.grad(fn, backend="python")(np.array(0.7), *([1.5] if fn is zero_d_rebound else []))
    assert "test_array_corpus.py" in str(info.value)


# ============================================================ int and bool arrays

def test_int_and_bool_arrays_are_inactive_data():
    case = next(c for c in CASES if c.id == "masked_gather")
    args = case.points[0]
    w, X, idx, mask = args
    g = transform("grad", case.fn)(*args)
    # d/dw of sum_i mask_i w[idx_i]^2 X[i,0] + sum_i X[i] . w[:2] + sum(where(mask, w, 0) * X[:, 1])
    expected = np.zeros(4)
    for i in range(4):
        if mask[i]:
            expected[idx[i]] += 2.0 * w[idx[i]] * X[i, 0]
        expected[:2] += X[i]
    expected += np.where(mask, X[:, 1], 0)
    assert g.dtype == np.float64 and g.shape == (4,)
    np.testing.assert_allclose(g, expected, rtol=1e-14)
    # the int and bool arrays are not changed by differentiation
    assert np.array_equal(X, P.INT_X) and np.array_equal(mask, P.MASK)


@pytest.mark.parametrize("argnum", [1, 2, 3], ids=["int_matrix", "int_index", "bool_mask"])
def test_differentiating_an_int_or_bool_array_is_an_error(argnum):
    case = next(c for c in CASES if c.id == "masked_gather")
    with pytest.raises(sd.TransformError, match="requires real-valued"):
        sd.grad(case.fn, argnums=argnum, backend="python")(*case.points[0])


# ============================================================ Jacobians

@pytest.mark.parametrize("mode", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("case", _cases([c for c in CASES if c.id in
                                         ("logreg_numpy", "heat_swap", "views_read")], "jacobian"))
def test_jacobian_of_scalar_output_is_the_gradient(case, mode):
    args = case.points[0]
    jac = transform(mode, case.fn, case.argnums)(*args)
    g = transform("grad", case.fn, case.argnums)(*args)
    assert isinstance(jac, tuple) and len(jac) == len(case.argnums)
    for j, gi, i in zip(jac, g, case.argnums):
        assert np.shape(j) == np.shape(args[i]), f"{mode} of {case.id} wrt {i}: shape {np.shape(j)}"
        assert_same(j, gi, f"{mode} vs grad of {case.id} wrt {i}", rtol=1e-10)


def _jacobian_params():
    return [pytest.param(case, mode, id=f"{case.id}-{mode}",
                         marks=_marks("jacobian", f"{case.id}-{mode}"))
            for case in JACOBIAN_CASES for mode in ("jacfwd", "jacrev")]


@pytest.mark.parametrize("case, mode", _jacobian_params())
def test_jacobian_of_array_output(case, mode):
    """JAX's structure: one entry per output, each one per argnum, shaped out.shape + in.shape."""
    args = case.points[0]
    jac = transform(mode, case.fn, case.argnums)(*args)
    outputs = case.fn(*args)
    several = isinstance(outputs, tuple)
    outs = outputs if several else (outputs,)
    rows = jac if several else (jac,)
    assert isinstance(rows, tuple) and len(rows) == len(outs)
    for o, (out, row) in enumerate(zip(outs, rows)):
        assert isinstance(row, tuple) and len(row) == len(case.argnums)
        for block, i in zip(row, case.argnums):
            expected_shape = np.shape(out) + np.shape(args[i])
            assert np.shape(block) == expected_shape, \
                f"{mode} {case.id} output {o} wrt {i}: shape {np.shape(block)}, JAX's {expected_shape}"
            fd = fd_derivative(lambda *a: case.fn(*a)[o] if several else case.fn(*a), args, i)
            assert_fd_close(block, fd, out, f"{mode} {case.id} output {o} wrt {i}")


@pytest.mark.parametrize("case", _cases(JACOBIAN_CASES, "jvp_vjp"))
def test_jvp_and_vjp_of_array_output(case):
    """jvp and vjp with array tangents and cotangents, against each other and finite differences."""
    args = case.points[0]
    tangents = tangents_for(case, args, salt=5)
    out, dots = sd.jvp(case.fn, args, tangents, backend="python")
    outputs = case.fn(*args)
    several = isinstance(outputs, tuple)
    outs, dots_ = (outputs, dots) if several else ((outputs,), (dots,))
    h = FD_STEP
    plus = case.fn(*[a + h * t if i in case.argnums else a for i, (a, t) in enumerate(zip(args, tangents))])
    minus = case.fn(*[a - h * t if i in case.argnums else a for i, (a, t) in enumerate(zip(args, tangents))])
    plus, minus = (plus, minus) if several else ((plus,), (minus,))
    for o in range(len(outs)):
        assert_same(np.asarray(out if not several else out[o]), np.asarray(outs[o]), "jvp primal", 1e-12)
        fd = (np.asarray(plus[o]) - np.asarray(minus[o])) / (2 * h)
        assert np.shape(dots_[o]) == np.shape(outs[o])
        assert_fd_close(dots_[o], fd, outs[o], f"jvp {case.id} output {o}")
    # <ct, J t> computed by jvp equals <J^T ct, t> computed by vjp
    rng = np.random.default_rng(7)
    cts = tuple(rng.uniform(-1, 1, np.shape(o)) if np.ndim(o) else float(rng.uniform(-1, 1)) for o in outs)
    _, vjp_fn = sd.vjp(case.fn, *args, backend="python")
    bars = vjp_fn(cts if several else cts[0])
    for i in case.argnums:
        assert np.shape(bars[i]) == np.shape(args[i])
    lhs = _dot(cts, dots_)
    rhs = _dot([bars[i] for i in case.argnums], [tangents[i] for i in case.argnums])
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("case", _cases([c for c in CASES if c.id in
                                         ("logreg_numpy", "heat_copy", "products")], "hessian"))
def test_hessian_of_array_program(case):
    """hessian wrt one array argument: symmetric, shape x.shape + x.shape, the Jacobian of grad."""
    args = case.points[0]
    i = case.argnums[0]
    H = np.asarray(transform("hessian", case.fn, i)(*args), float)
    n = args[i].size
    assert H.shape == args[i].shape + args[i].shape
    M = H.reshape(n, n)
    np.testing.assert_allclose(M, M.T, rtol=1e-9, atol=1e-10 * np.max(np.abs(M)))
    grad = transform("grad", case.fn, i)
    fd = fd_derivative(grad, args, i)
    assert_fd_close(H, fd, np.max(np.abs(grad(*args))), f"hessian {case.id}")
